"""Prompt rendering in a sandbox, clear errors for missing variables, sticky A/B assignment."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from devtools.fake_llm import FakeLLMServer
from services.llm import PromptError, PromptVersion, choose_variant
from services.llm.prompts import PromptRenderer

from .conftest import PROMPTS, Harness

CAPTIONS = [p for p in PROMPTS if p.name == "caption"]


def test_user_text_with_template_syntax_stays_literal(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    note = "{{ 7*7 }} {% for x in range(3) %}X{% endfor %} {{ ''.__class__.__mro__ }}"
    make_harness().pipeline.run("summary", "summary", {"note": note})
    assert f"Summarise this note: {note}" in fake.calls[-1].prompt
    assert "49" not in fake.calls[-1].prompt


def test_missing_variable_is_a_clear_error(make_harness: Callable[..., Harness]) -> None:
    with pytest.raises(PromptError, match="missing variables: note"):
        make_harness().pipeline.run("summary", "summary", {})


def test_undeclared_undefined_variable_is_a_clear_error() -> None:
    prompt = PromptVersion("p", 1, "sys", "Hello {{ name }}")
    with pytest.raises(PromptError, match="'name' is undefined"):
        PromptRenderer().render(prompt, {})


def test_sandbox_blocks_unsafe_templates() -> None:
    prompt = PromptVersion("p", 1, "sys", "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(PromptError):
        PromptRenderer().render(prompt, {})


def test_unknown_prompt_is_a_clear_error(make_harness: Callable[..., Harness]) -> None:
    with pytest.raises(PromptError, match="no active version"):
        make_harness().pipeline.run("summary", "nope", {})


def test_ab_assignment_is_sticky_per_user() -> None:
    for user in ("u1", "u2", "alice", "bob"):
        picks = {choose_variant(CAPTIONS, user).variant for _ in range(20)}
        assert len(picks) == 1


def test_ab_traffic_split_follows_the_percentages() -> None:
    counts = Counter(choose_variant(CAPTIONS, f"user-{i}").variant for i in range(4000))
    assert 0.45 < counts["A"] / 4000 < 0.55
    skewed = [
        PromptVersion("c", 1, "", "", variant="A", traffic_pct=90),
        PromptVersion("c", 2, "", "", variant="B", traffic_pct=10),
    ]
    counts = Counter(choose_variant(skewed, f"user-{i}").variant for i in range(4000))
    assert 0.87 < counts["A"] / 4000 < 0.93


def test_chosen_variant_is_on_the_result_and_the_ledger(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    results = [h.pipeline.run("caption", "caption", {"product": "Cola"}, user_id=f"user-{i}") for i in range(12)]
    for result in results:
        expected = choose_variant(CAPTIONS, (result.request_id and h.ledger.get(result.request_id).user_id) or "")
        assert (result.variant, result.prompt_version) == (expected.variant, expected.version)
        assert h.ledger.get(result.request_id).variant == result.variant
    assert {r.variant for r in results} == {"A", "B"}
