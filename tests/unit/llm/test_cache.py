"""SemanticCache over both backends: canonical keys, TTL, tags, clearing, stats, similarity scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devtools.fake_llm import FakeLLMServer, embed
from services.llm.cache import CachedAnswer, SemanticCache, cache_key
from services.llm.cache_backends import MemoryCacheBackend, RedisCacheBackend
from services.llm.types import ChatMessage

from .conftest import Harness

ANSWER = CachedAnswer(
    text="text",
    data=None,
    model="m",
    provider="anthropic",
    tier="fast",
    tokens_in=10,
    tokens_out=5,
    tokens_cached=0,
    cost_usd=0.002,
    confidence=0.8,
    prompt_version=1,
    variant="A",
)


class Clock:
    """A hand-driven monotonic clock for TTL tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, namespace: str) -> Any:
    if request.param == "redis":
        return RedisCacheBackend(request.getfixturevalue("redis_client"), namespace)
    return MemoryCacheBackend(max_entries=50)


def test_key_ignores_whitespace_and_param_order() -> None:
    a = cache_key("f", "p", 1, "m", "sys  prompt", [ChatMessage("user", "hello\n  world ")], {"a": 1, "b": 2})
    b = cache_key("f", "p", 1, "m", "sys prompt", [ChatMessage("user", "hello world")], {"b": 2, "a": 1})
    c = cache_key("f", "p", 2, "m", "sys prompt", [ChatMessage("user", "hello world")], {"b": 2, "a": 1})
    assert a == b != c


def test_variable_key_order_and_volatile_fields_do_not_change_the_key(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    first = h.pipeline.run(
        "summary", "summary", {"note": {"sku": "S1", "sold": 3, "request_id": "r1"}}, volatile=["request_id"]
    )
    second = h.pipeline.run(
        "summary", "summary", {"note": {"request_id": "r2", "sold": 3, "sku": "S1"}}, volatile=["request_id"]
    )
    assert first.status == "ok" and second.cached and len(fake.calls) == 1


def test_ttl_expiry() -> None:
    clock = Clock()
    cache = SemanticCache(MemoryCacheBackend(clock=clock), ttl_s=60)
    cache.put("k", ANSWER, "f", ())
    assert cache.get("k") == ANSWER
    clock.now += 61
    assert cache.get("k") is None


def test_lru_bound() -> None:
    backend = MemoryCacheBackend(max_entries=3)
    cache = SemanticCache(backend, ttl_s=60)
    for key in "abcd":
        cache.put(key, ANSWER, "f", ())
    assert cache.get("a") is None and cache.get("d") == ANSWER and backend.size()[0] == 3


def test_tags_features_and_clear(backend: Any) -> None:
    cache = SemanticCache(backend, ttl_s=60)
    cache.put("k1", ANSWER, "advice", ["device:D1"])
    cache.put("k2", ANSWER, "advice", ["device:D2"])
    cache.put("k3", ANSWER, "caption", ["device:D1"])
    assert cache.clear(tag="device:D1") == 2
    assert cache.get("k1") is None and cache.get("k3") is None and cache.get("k2") == ANSWER
    cache.put("k4", ANSWER, "caption", [])
    assert cache.clear(feature="advice") == 1 and cache.get("k2") is None and cache.get("k4") == ANSWER
    cache.clear(expired_only=True)  # nothing expired: live entries stay
    assert cache.get("k4") == ANSWER
    assert cache.clear() == 1 and cache.get("k4") is None


def test_redis_entries_expire_and_expired_only_prunes_indexes(redis_client: Any, namespace: str) -> None:
    cache = SemanticCache(RedisCacheBackend(redis_client, namespace), ttl_s=0.05)
    cache.put("k", ANSWER, "f", ["t"])
    redis_client.pexpire(f"{namespace}:e:k", 1)
    redis_client.delete(f"{namespace}:e:k")  # what expiry does
    assert cache.get("k") is None
    assert cache.clear(expired_only=True) == 1


def test_stats_by_feature(backend: Any) -> None:
    cache = SemanticCache(backend, ttl_s=60)
    cache.put("k", ANSWER, "advice", [])
    cache.record("advice", hit=False)
    cache.record("advice", hit=True, answer=ANSWER)
    cache.record("caption", hit=False)
    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["hit_rate"]) == (1, 2, pytest.approx(0.3333, abs=1e-3))
    assert stats["tokens_saved"] == 15 and stats["usd_saved"] == pytest.approx(0.002)
    assert stats["by_feature"]["advice"]["hit_rate"] == 0.5
    assert stats["entries"] == 1 and stats["memory_bytes"] > 0


def _similarity_harness(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> Harness:
    return make_harness(
        openai_api_key="k",
        openai_base_url=f"{fake.url}/v1",
        embeddings="provider",
        cache_modes={"summary": "semantic"},
        similarity_threshold=0.9,
    )


def test_similarity_layer_hits_near_identical_requests_in_scope(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = _similarity_harness(fake, make_harness)
    note = "Cola sells out every Friday afternoon in the gym machine near the entrance door"
    first = h.pipeline.run("summary", "summary", {"note": note}, scope="tenant-1", paraphrase=["note"])
    similar = h.pipeline.run("summary", "summary", {"note": note + "!"}, scope="tenant-1", paraphrase=["note"])
    other_tenant = h.pipeline.run("summary", "summary", {"note": note + "!"}, scope="tenant-2", paraphrase=["note"])
    assert first.status == "ok" and similar.cached and similar.extras["similar"]
    assert other_tenant.status == "ok"
    assert h.pipeline.cache.stats()["similar_hits"] == 1
    assert embed(note) != embed(note + " different words entirely here")


def test_similarity_is_never_used_with_personal_data(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    h = _similarity_harness(fake, make_harness)
    note = "Cola sells out every Friday afternoon in the gym machine near the entrance door"
    h.pipeline.run("summary", "summary", {"note": note}, pii=True, paraphrase=["note"])
    again = h.pipeline.run("summary", "summary", {"note": note + "!"}, pii=True, paraphrase=["note"])
    assert again.status == "ok" and not any(c.api == "embeddings" for c in fake.calls)
