"""End-to-end pipeline calls through the real SDKs against the fake provider server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devtools.fake_llm import FakeLLMServer
from services.llm import LLMResult, PromptVersion, StreamError
from services.llm.pricing import PriceTable
from services.llm.types import Usage

from .conftest import Harness


def _expected_cost(model: str, usage: dict[str, int]) -> float:
    return PriceTable().cost(model, Usage(usage["prompt"], usage["completion"], usage["cached"]))


def test_anthropic_call_reports_server_usage_then_hits_cache(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    first = h.pipeline.run("summary", "summary", {"note": "Cola sold out twice in machine 12 this week."})
    served = fake.calls[-1]
    assert (first.status, first.cached, first.fallback_used, first.provider) == (
        "ok",
        False,
        False,
        "anthropic",
    )
    assert first.model == served.model == "claude-haiku-5-5"
    assert first.tier == "fast"
    assert (first.tokens_in, first.tokens_out, first.tokens_cached) == (
        served.usage["prompt"],
        served.usage["completion"],
        served.usage["cached"],
    )
    assert first.cost_usd == pytest.approx(_expected_cost(served.model, served.usage))
    assert first.cost_usd > 0
    assert first.text == served.text

    second = h.pipeline.run("summary", "summary", {"note": "Cola sold out twice in machine 12 this week."})
    assert len(fake.calls) == 1
    assert (second.status, second.cached, second.cost_usd, second.text) == ("cached", True, 0.0, first.text)

    rows = {row.request_id: row for row in h.ledger.rows}
    assert rows[first.request_id].status == "ok" and rows[first.request_id].cost_usd == first.cost_usd
    assert rows[second.request_id].status == "cached" and rows[second.request_id].cost_usd == 0.0
    assert rows[first.request_id].prompt_version == 1 and rows[first.request_id].tokens_in == first.tokens_in
    stats = h.pipeline.cache.stats()
    assert (stats["hits"], stats["misses"]) == (1, 1)
    assert stats["usd_saved"] == pytest.approx(first.cost_usd, abs=1e-6)


def test_cached_input_tokens_are_priced_at_the_cache_rate(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.add(text="Fine.", cached_tokens=9)
    result = make_harness().pipeline.run("summary", "summary", {"note": "two"})
    usage = fake.calls[-1].usage
    assert result.tokens_cached == 9 and result.tokens_in == usage["prompt"]
    assert result.cost_usd == pytest.approx(_expected_cost("claude-haiku-5-5", usage))
    full_price = PriceTable().cost("claude-haiku-5-5", Usage(usage["prompt"], usage["completion"]))
    assert result.cost_usd < full_price


@pytest.mark.parametrize("provider", ["openai", "openai-compatible"])
def test_openai_providers_report_usage(
    provider: str, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.add(text="Restock the cola.", cached_tokens=4)
    h = make_harness(provider=provider, openai_api_key="test-openai-key", openai_base_url=f"{fake.url}/v1")
    result = h.pipeline.run("advice", "advice", {"device": "D1", "question": "What now?"})
    served = fake.calls[-1]
    assert served.api == "openai" and result.provider == provider
    assert (result.model, result.tokens_in, result.tokens_out, result.tokens_cached) == (
        "gpt-5.6-terra",
        served.usage["prompt"],
        served.usage["completion"],
        4,
    )
    assert result.cost_usd == pytest.approx(_expected_cost("gpt-5.6-terra", served.usage))


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_streaming_yields_deltas_then_result_with_stream_usage(
    provider: str, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness(provider=provider, openai_base_url=f"{fake.url}/v1")
    fake.add(text="Put the cola at eye level, row B, and move the water down.")
    items = list(h.pipeline.stream("summary", "summary", {"note": "layout"}))
    deltas = [i for i in items if isinstance(i, str)]
    result = items[-1]
    assert isinstance(result, LLMResult) and len(deltas) > 1
    assert "".join(deltas) == result.text == fake.calls[-1].text
    assert fake.calls[-1].stream is True
    assert (result.tokens_in, result.tokens_out) == (
        fake.calls[-1].usage["prompt"],
        fake.calls[-1].usage["completion"],
    )
    assert not any(isinstance(i, StreamError) for i in items)
    again = list(h.pipeline.stream("summary", "summary", {"note": "layout"}))
    assert isinstance(again[-1], LLMResult) and again[-1].cached and again[0] == result.text


def test_run_with_stream_true_returns_the_final_result(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    result = make_harness().pipeline.run("summary", "summary", {"note": "streamed"}, stream=True)
    assert result.status == "ok" and fake.calls[-1].stream


def test_no_provider_means_flagged_rule_based_fallback(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness(provider=None)
    result = h.pipeline.run("summary", "summary", {"note": "x"}, fallback=lambda v: f"Rule-based: {v['note']}")
    assert (result.text, result.fallback_used, result.status, result.error_kind) == (
        "Rule-based: x",
        True,
        "fallback",
        "no_provider",
    )
    assert result.confidence < 0.5 and fake.calls == []
    assert h.ledger.get(result.request_id) is not None


def test_context_blocks_are_fitted_to_the_tier_budget(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    from services.llm import DataStructurer

    s = DataStructurer()
    slots = [
        {"slot": f"A{i}", "sku": f"S{i}", "name": f"Product {i}", "price": 1.5, "sales_per_day": 2.0}
        for i in range(1, 400)
    ]
    h = make_harness(tier_context_budget={"fast": 300, "balanced": 300, "powerful": 300})
    result = h.pipeline.run(
        "advice",
        "advice",
        {"device": "D1", "question": "Which slot?"},
        context=[s.planogram({"device_id": "D1", "slots": slots})],
    )
    assert result.status == "ok"
    assert "truncated" in fake.calls[-1].prompt and "<planogram" in fake.calls[-1].prompt
    assert h.pipeline.preview("advice", "advice", {"device": "D1", "question": "Q"})["model"] == "claude-sonnet-5-5"


def test_long_system_prompts_are_marked_for_the_provider_cache_and_cache_reads_priced_lower(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.script.prompt_cache = True
    policy = " ".join(f"Rule {i}: answer plainly about vending machine number {i}." for i in range(200))
    long_prompt = PromptVersion("policy", 1, policy, "Question: {{ q }}", ("q",), tier="fast")
    short_prompt = PromptVersion("short", 1, "Be brief.", "Question: {{ q }}", ("q",), tier="fast")
    h = make_harness(prompts=(long_prompt, short_prompt))
    first = h.pipeline.run("policy", "policy", {"q": "one"})
    second = h.pipeline.run("policy", "policy", {"q": "two"})
    assert first.tokens_cached == 0 and second.tokens_cached == fake.calls[-1].usage["cached"] > 1000
    price = PriceTable().get(second.model or "")
    usage = Usage(second.tokens_in, second.tokens_out, second.tokens_cached)
    assert second.cost_usd == pytest.approx(price.cost(usage))
    assert second.cost_usd < first.cost_usd
    h.pipeline.run("short", "short", {"q": "one"})
    again = h.pipeline.run("short", "short", {"q": "two"})
    assert again.tokens_cached == 0  # too short to mark: nothing cached
