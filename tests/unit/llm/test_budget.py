"""CostMonitor: atomic reservations keep spend within the daily budget, memory and Redis alike."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from devtools.fake_llm import FakeLLMServer
from services.llm.budget import CostMonitor, MemoryBudgetCounter, RedisBudgetCounter
from services.llm.pricing import PriceTable
from services.llm.tokens import estimate_prompt_tokens

from .conftest import Harness

BACKENDS = ["memory", "redis"]


def _client(kind: str, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("redis_client") if kind == "redis" else None


@pytest.mark.parametrize("kind", BACKENDS)
def test_reservations_never_exceed_the_budget_under_100_threads(
    kind: str, request: pytest.FixtureRequest, namespace: str
) -> None:
    counter = RedisBudgetCounter(_client(kind, request), namespace) if kind == "redis" else MemoryBudgetCounter()
    monitor = CostMonitor(counter, daily_budget_usd=1.0, today=lambda: "2026-11-20")

    def attempt(_: int) -> bool:
        reservation = monitor.reserve("feature", "model", 0.1)
        if reservation is None:
            return False
        monitor.settle(reservation, 0.1)
        return True

    with ThreadPoolExecutor(max_workers=100) as pool:
        granted = sum(pool.map(attempt, range(100)))
    assert granted == 10
    snapshot = monitor.snapshot()
    assert snapshot["spent_usd"] == pytest.approx(1.0)
    assert snapshot["by_feature"] == {"feature": pytest.approx(1.0)}


@pytest.mark.parametrize("kind", BACKENDS)
def test_settle_replaces_the_worst_case_by_the_actual_cost(
    kind: str, request: pytest.FixtureRequest, namespace: str
) -> None:
    counter = RedisBudgetCounter(_client(kind, request), namespace) if kind == "redis" else MemoryBudgetCounter()
    monitor = CostMonitor(counter, daily_budget_usd=1.0, today=lambda: "2026-11-20")
    reservation = monitor.reserve("f", "m", 0.6)
    assert reservation is not None and monitor.reserve("f", "m", 0.6) is None
    monitor.settle(reservation, 0.05)
    assert monitor.snapshot()["spent_usd"] == pytest.approx(0.05)
    assert monitor.reserve("f", "m", 0.6) is not None


@pytest.mark.parametrize("kind", BACKENDS)
def test_100_concurrent_calls_with_a_budget_for_10(
    kind: str, request: pytest.FixtureRequest, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.script.latency_s = 0.05  # keep calls in flight together so reservations really race
    system = "You are a vending analyst. Be brief."
    note = "Cola sold out twice in machine number 100 this week."
    user = f"Summarise this note: {note}"
    worst = PriceTable().get("claude-haiku-5-5").worst_case(estimate_prompt_tokens(system, [user]), 600)
    h = make_harness(redis_client=_client(kind, request), daily_budget_usd=worst * 10.5, low_budget_fraction=0.0)

    def call(i: int) -> Any:
        return h.pipeline.run(
            "summary",
            "summary",
            {"note": note.replace("100", f"{i:03d}")},
            fallback=lambda v: "Rule-based summary",
        )

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(call, range(100)))
    ok = [r for r in results if r.status == "ok"]
    fallbacks = [r for r in results if r.fallback_used]
    assert len(ok) + len(fallbacks) == 100 and len(ok) >= 10
    assert all(r.error_kind == "budget_exceeded" and r.text == "Rule-based summary" for r in fallbacks)
    spent = h.pipeline.costs.snapshot()["spent_usd"]
    assert spent <= h.settings.daily_budget_usd
    assert spent == pytest.approx(sum(r.cost_usd for r in ok))
    assert len(h.ledger.rows) == 100
    assert {row.error_kind for row in h.ledger.rows if row.fallback_used} <= {"budget_exceeded"}


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_tiny_budget_under_100_concurrent_calls_is_used_and_never_crossed(
    kind: str, request: pytest.FixtureRequest, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.script.latency_s = 0.02
    h = make_harness(redis_client=_client(kind, request), daily_budget_usd=0.001, low_budget_fraction=0.0)
    worst = PriceTable().get("claude-haiku-5-5").worst_case(40, 600)

    def call(i: int) -> Any:
        note = f"Cola sold out {i} times in machine {i} this week."
        return h.pipeline.run("summary", "summary", {"note": note}, fallback=lambda v: "Rule-based")

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(call, range(100)))
    ok = [r for r in results if r.status == "ok"]
    spent = h.pipeline.costs.snapshot()["spent_usd"]
    assert spent <= 0.001 and spent == pytest.approx(sum(r.cost_usd for r in results))
    assert len(ok) > int(0.001 / worst)  # more calls than worst-case reservations would ever admit
    assert {r.error_kind for r in results if r.fallback_used} <= {"budget_exceeded"}


@pytest.mark.parametrize("kind", BACKENDS)
def test_what_is_left_is_granted_down_to_the_minimum_and_waiters_get_settled_room(
    kind: str, request: pytest.FixtureRequest, namespace: str
) -> None:
    counter = RedisBudgetCounter(_client(kind, request), namespace) if kind == "redis" else MemoryBudgetCounter()
    monitor = CostMonitor(counter, daily_budget_usd=1.0, today=lambda: "2026-11-20")
    first = monitor.reserve("f", "m", 0.6, minimum_usd=0.1)
    second = monitor.reserve("f", "m", 0.6, minimum_usd=0.1)
    assert first is not None and second is not None and second.amount == 400_000_000  # what was left
    assert monitor.reserve("f", "m", 0.6, minimum_usd=0.1) is None  # no wait asked: refused at once
    settle = threading.Timer(0.05, lambda: monitor.settle(first, 0.2))
    settle.start()
    third = monitor.reserve("f", "m", 0.6, minimum_usd=0.1, wait_s=5.0)  # waits for the settle
    settle.join()
    assert third is not None and third.amount == 400_000_000
    monitor.settle(second, 0.4)
    monitor.settle(third, 0.4)
    assert monitor.snapshot()["spent_usd"] == pytest.approx(1.0)
    assert monitor.reserve("f", "m", 0.6, minimum_usd=0.1, wait_s=5.0) is None  # spent: nothing to wait for


def test_low_budget_steps_features_down_a_tier(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    h = make_harness(daily_budget_usd=1.0, low_budget_fraction=0.2)
    reservation = h.pipeline.costs.reserve("other", "claude-opus-5-5", 0.85)
    assert reservation is not None
    result = h.pipeline.run("advice", "advice", {"device": "D1", "question": "Q?"})
    assert (result.tier, result.model) == ("fast", "claude-haiku-5-5")  # balanced, stepped down
    h.pipeline.costs.settle(reservation, 0.0)
    result = h.pipeline.run("advice", "advice", {"device": "D2", "question": "Q?"})
    assert (result.tier, result.model) == ("balanced", "claude-sonnet-5-5")


def test_redis_budget_is_shared_between_pipelines(
    redis_client: redis.Redis, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    one, two = make_harness(redis_client=redis_client), make_harness(redis_client=redis_client)
    result = one.pipeline.run("summary", "summary", {"note": "shared"})
    assert two.pipeline.costs.snapshot()["spent_usd"] == pytest.approx(result.cost_usd, abs=1e-9)
    assert two.pipeline.run("summary", "summary", {"note": "shared"}).cached


@pytest.mark.parametrize("kind", BACKENDS)
def test_day_aggregates_by_feature_and_model_equal_the_ledger(
    kind: str, request: pytest.FixtureRequest, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness(redis_client=_client(kind, request), daily_budget_usd=10.0, low_budget_fraction=0.0)
    h.pipeline.run("summary", "summary", {"note": "one"})
    h.pipeline.run("summary", "summary", {"note": "one"})  # cached: $0, must not add to spend
    h.pipeline.run("summary", "summary", {"note": "two"})
    h.pipeline.run("advice", "advice", {"device": "D1", "question": "Q?"})
    rows = h.ledger.rows
    assert [row.status for row in rows] == ["ok", "cached", "ok", "ok"]
    by_feature: dict[str, float] = {}
    by_model: dict[str, float] = {}
    for row in rows:
        by_feature[row.feature] = by_feature.get(row.feature, 0.0) + row.cost_usd
        by_model[str(row.model)] = by_model.get(str(row.model), 0.0) + row.cost_usd
    snapshot = h.pipeline.costs.snapshot()
    assert set(by_model) == {"claude-haiku-5-5", "claude-sonnet-5-5"}
    assert snapshot["by_feature"] == {k: pytest.approx(v, abs=1e-9) for k, v in by_feature.items()}
    assert snapshot["by_model"] == {k: pytest.approx(v, abs=1e-9) for k, v in by_model.items()}
    assert snapshot["spent_usd"] == pytest.approx(sum(by_feature.values()), abs=1e-9)
