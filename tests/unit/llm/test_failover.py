"""LLM shared state with Redis stopped and started again: the budget never overshoots, the cache misses and
forgets what was invalidated meanwhile, breakers go local."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services.llm.budget import WAIT, RedisBudgetCounter
from services.llm.cache_backends import RedisCacheBackend
from services.llm.failover import FailoverBreakerStore, failover_state
from services.llm.resilience import RedisBreakerStore
from tests.redis_server import RedisServer

DAY = "2025-03-01"
LIMIT = 1_000_000  # nano-dollars


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    own = RedisServer(tmp_path, persist=True).start()
    yield own
    own.stop()


@pytest.fixture
def client(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_connect_timeout=0.5)


def parts(client: redis.Redis, share: float = 0.1):  # type: ignore[no-untyped-def]
    return failover_state(
        RedisCacheBackend(client, "t:cache"),
        RedisBudgetCounter(client, "t:budget"),
        RedisBreakerStore(client, "t:breaker"),
        client.ping,
        outage_share=share,
        retry_s=0.0,
    )


def test_budget_reserves_only_a_local_share_of_the_last_known_headroom_and_adds_it_back(
    client: redis.Redis, server: RedisServer
) -> None:
    _, budget, _ = parts(client, share=0.1)
    assert budget.try_reserve(DAY, 400_000, LIMIT)
    assert budget.spent(DAY) == 400_000  # the figure the outage share is computed from
    server.stop()
    granted = [budget.try_reserve(DAY, 10_000, LIMIT) for _ in range(20)]
    # 10 % of the 600,000 headroom, never more whatever is asked; then wait for this process's open ones
    assert granted == [10_000] * 6 + [WAIT] * 14
    budget.adjust(DAY, -5_000, "caption", "m", 5_000)  # one of them settles cheaper
    assert budget.spent(DAY) == 455_000
    server.start()  # persisted: the 400,000 reserved before the outage are still there
    assert budget.spent(DAY) == 455_000  # the outage's spend is in Redis now
    assert int(client.get(f"t:budget:{DAY}") or 0) == 455_000
    assert int(client.get(f"t:budget:{DAY}:open") or 0) == 400_000 + 5 * 10_000  # still open: now in Redis
    assert budget.aggregates(DAY)["feature"] == {"caption": 5_000}


def test_an_outage_grants_what_is_left_of_the_share_and_releases_settled_store_reservations(
    client: redis.Redis, server: RedisServer
) -> None:
    _, budget, _ = parts(client, share=0.5)
    assert budget.try_reserve(DAY, 200_000, LIMIT) == 200_000
    assert budget.spent(DAY) == 200_000
    server.stop()
    assert budget.try_reserve(DAY, 500_000, LIMIT, minimum=100_000) == 400_000  # half the 800,000 headroom
    budget.adjust(DAY, -150_000, "caption", "m", 50_000)  # the reservation made in Redis settles meanwhile
    budget.adjust(DAY, -390_000, "hashtags", "m", 10_000)  # and the local one
    assert budget.spent(DAY) == 60_000
    server.start()
    assert budget.spent(DAY) == 60_000 == int(client.get(f"t:budget:{DAY}") or 0)
    assert int(client.get(f"t:budget:{DAY}:open") or 0) == 0  # nothing left holding the room
    assert budget.aggregates(DAY)["feature"] == {"caption": 50_000, "hashtags": 10_000}


def test_without_a_known_figure_nothing_is_reserved(client: redis.Redis, server: RedisServer) -> None:
    _, budget, _ = parts(client, share=1.0)
    server.stop()
    assert budget.try_reserve(DAY, 1, LIMIT) == 0


def test_cache_misses_while_down_and_replays_invalidations_once_back(client: redis.Redis, server: RedisServer) -> None:
    cache, _, _ = parts(client)
    cache.set("k1", "answer", 60, "caption", ["device:D1"])
    cache.set("k2", "other", 60, "caption", ["device:D2"])
    server.stop()
    assert cache.get("k1") is None and cache.size() == (0, 0) and cache.counters() == {}
    assert cache.delete_tag("device:D1") == 0  # cannot delete now: remembered
    cache.set("k3", "lost", 60, "caption", [])  # skipped, no error
    server.start()
    assert cache.get("k2") == "other"  # first answer after the outage replays the invalidation
    assert cache.get("k1") is None and cache.get("k3") is None


def test_breakers_count_locally_while_down(client: redis.Redis, server: RedisServer) -> None:
    _, _, breakers = parts(client)
    assert isinstance(breakers, FailoverBreakerStore)
    server.stop()
    breakers.failure("anthropic", 2, 30.0, 1000.0)
    breakers.failure("anthropic", 2, 30.0, 1000.0)
    assert breakers.opened_until("anthropic") == (1030.0, 2)
