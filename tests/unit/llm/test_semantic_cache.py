"""Canonical keys, near hits on free wording, the entity guard, scopes, per-feature modes, a dead cache backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from devtools.fake_llm import FakeLLMServer
from services.llm import PromptVersion, RedisCacheBackend
from services.llm.canonical import normalise_text, same_entities

from .conftest import PROMPTS, Harness

CAPTION = PromptVersion(
    "caption_ai",
    1,
    "You write short captions for a vending operator's social posts.",
    "Products: {{ product }} at {{ price }}\nStyle: {{ style }}\nPhoto: {{ media }}\nNotes: {{ notes }}",
    ("product", "price", "style", "media", "notes"),
    tier="fast",
)
PARAPHRASE = ("media", "notes")
BASE = {
    "product": "Cola 330ml",
    "price": "1.80",
    "style": "casual",
    "media": "A can of Cola on an office desk next to a laptop",
    "notes": "mention the cold drinks fridge on floor 2",
}


def _semantic(make_harness: Callable[..., Harness], **overrides: Any) -> Harness:
    return make_harness(prompts=(*PROMPTS, CAPTION), cache_modes={"caption": "semantic"}, **overrides)


def _ask(h: Harness, scope: str | None = None, **changes: str) -> Any:
    variables = {**BASE, **changes}
    return h.pipeline.run("caption", "caption_ai", variables, paraphrase=PARAPHRASE, scope=scope)


def test_whitespace_variants_and_doubled_placeholders_share_one_exact_key(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    first = h.pipeline.run("summary", "summary", {"note": "Dear [CUSTOMER_NAME], cola  sold out\n\n\n twice"})
    again = h.pipeline.run(
        "summary", "summary", {"note": " Dear [CUSTOMER_NAME]  [CUSTOMER_NAME], cola sold out\n\ntwice "}
    )
    assert first.status == "ok" and again.cached and not again.extras["similar"] and len(fake.calls) == 1
    assert "  " not in fake.calls[0].prompt  # what is sent is the canonical text too
    assert normalise_text("[PHONE_1] ,  [PHONE_1]") == "[PHONE_1]"


def test_a_reworded_request_is_a_near_hit_and_costs_nothing(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = _semantic(make_harness)
    first = _ask(h)
    near = _ask(
        h,
        media="an office desk with a Cola can next to the laptop!",
        notes="Mention the cold-drinks fridge on floor 2.",
    )
    assert first.status == "ok" and near.status == "cached" and near.extras["similar"]
    assert (near.cost_usd, near.tokens_in, near.tokens_out) == (0.0, 0, 0) and len(fake.calls) == 1
    assert near.text == first.text
    stats = h.pipeline.cache.stats()
    assert stats["similar_hits"] == 1 and stats["similarity"]["embedder"] == "local-ngram"


def test_near_misses_never_hit_other_product_number_name_negation_or_scope(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = _semantic(make_harness)
    _ask(h)
    misses = [
        _ask(h, product="Fanta 330ml"),  # exact variable: another anchor
        _ask(h, price="1.90"),
        _ask(h, style="funny"),
        _ask(h, notes="mention the cold drinks fridge on floor 3"),  # a number in the free wording
        _ask(h, media="A can of Cola on an office desk next to a Macbook"),  # a name in the free wording
        _ask(h, notes="do not mention the cold drinks fridge on floor 2"),  # a negation
        _ask(h, scope="customer:other"),
    ]
    assert [m.status for m in misses] == ["ok"] * len(misses) and len(fake.calls) == 1 + len(misses)


def test_guard_compares_numbers_codes_names_and_negations_exactly() -> None:
    assert same_entities("Cola at $2.50, 1,000 cans in Berlin", "in berlin: 1000 cans of cola at $2.5")
    assert not same_entities("20% off Cola", "25% off Cola")
    assert not same_entities("machine D12", "machine D13")
    assert not same_entities("photo in Berlin", "photo in Munich")
    assert not same_entities("with ice", "without ice")


def test_modes_per_feature_exact_keeps_similarity_off_and_off_keeps_no_entry(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness(prompts=(*PROMPTS, CAPTION), cache_modes={"caption": "exact", "summary": "off"})
    _ask(h)
    reworded = _ask(h, media="an office desk with a Cola can next to the laptop")
    assert reworded.status == "ok"  # exact only: no near hit
    h.pipeline.run("summary", "summary", {"note": "x"})
    again = h.pipeline.run("summary", "summary", {"note": "x"})
    assert again.status == "ok" and len(fake.calls) == 4


def test_without_an_embedder_only_exact_hits_and_stats_say_so(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = _semantic(make_harness, embeddings="none")
    _ask(h)
    assert _ask(h, media="an office desk with a Cola can next to the laptop").status == "ok"
    assert _ask(h).status == "cached"
    assert h.pipeline.cache.stats()["similarity"] == {
        "mode": "exact only",
        "reason": "no embedder configured",
        "semantic_features": [],
    }


def test_a_dead_cache_backend_costs_misses_not_answers(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = _semantic(make_harness)
    dead = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.05, retry=Retry(NoBackoff(), 0))
    h.pipeline.cache.backend = RedisCacheBackend(dead, "dead")
    first, second = _ask(h), _ask(h)
    assert (first.status, second.status) == ("ok", "ok") and len(fake.calls) == 2
    stats = h.pipeline.cache.stats()
    assert stats["backend_errors"] > 0 and stats["entries"] == 0
