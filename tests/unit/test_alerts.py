"""Alerts: each episode is logged at WARNING once (per process set sharing a latch), cleared at INFO, re-armed."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask

from extensions import db
from services.ledger import SqlLedgerSink
from services.llm import LedgerRecord
from services.monitoring.alerts import AlertMonitor, AlertSettings, MemoryAlertLatch, RedisAlertLatch
from tests.clock import FIXED_NOW, FIXED_TODAY

SETTINGS = AlertSettings(window_minutes=15, error_rate=0.2, fallback_rate=0.3, min_calls=5, check_seconds=30)


class FakeCosts:
    def __init__(self, spent: float, budget: float = 10.0, day: str | None = None) -> None:
        self.spent, self.budget = spent, budget
        self.day = day or FIXED_TODAY.isoformat()

    def snapshot(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "budget_usd": self.budget,
            "spent_usd": self.spent,
            "remaining_usd": max(self.budget - self.spent, 0.0),
        }


class FakePipeline:
    """Just what the monitor reads: the budget snapshot and breaker states."""

    def __init__(self, spent: float = 0.0, breakers: dict[str, str] | None = None) -> None:
        self.costs = FakeCosts(spent)
        self.breakers = breakers or {"anthropic": "closed"}

    def breaker_states(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"state": state, "consecutive_failures": 5 if state != "closed" else 0}
            for name, state in self.breakers.items()
        }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(app: Flask, n: int, error_kind: str | None = None, minutes_ago: float = 1.0) -> None:
    sink = SqlLedgerSink(app)
    at = FIXED_NOW - timedelta(minutes=minutes_ago)
    for _ in range(n):
        fallback = error_kind is not None
        sink.record(
            LedgerRecord(
                uuid.uuid4().hex,
                "content_caption",
                None if fallback else "anthropic",
                None,
                "fast",
                "caption",
                1,
                "A",
                10,
                5,
                0,
                0.0,
                12.0,
                "fallback" if fallback else "ok",
                error_kind,
                False,
                fallback,
                None,
                at,
                at,
                1,
            )
        )


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "planogram.alerts" and r.levelno == logging.WARNING]


def evaluate(app: Flask, monitor: AlertMonitor, pipeline: Any = None, now: datetime | None = None) -> set[str]:
    with app.app_context():
        return {a.id for a in monitor.evaluate(db.session(), pipeline, now=now)}


def test_memory_latch_opens_once_per_episode_and_expires() -> None:
    clock = Clock()
    latch = MemoryAlertLatch(clock)
    assert latch.open("k", 60) and not latch.open("k", 60)
    assert latch.close("k") and not latch.close("k")
    assert latch.open("k", 60)
    clock.now += 61  # nobody re-armed it for a whole TTL: a later occurrence is a new episode
    assert latch.open("k", 60)


def test_redis_latch_is_shared_and_atomic_across_clients(redis_client: redis.Redis, redis_url: str) -> None:
    latches = [RedisAlertLatch(redis.Redis.from_url(redis_url)) for _ in range(8)]
    barrier = threading.Barrier(len(latches))
    started: list[bool] = []

    def contend(latch: RedisAlertLatch) -> None:
        barrier.wait()
        started.append(latch.open("error_rate", 900))

    threads = [threading.Thread(target=contend, args=(latch,)) for latch in latches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(started) == [False] * 7 + [True]
    assert 0 < redis_client.ttl("pgw:alert:error_rate") <= 900
    assert latches[3].close("error_rate") and not latches[5].close("error_rate")
    assert latches[0].open("error_rate", 900)


def test_error_rate_episode_logs_once_clears_and_rearms(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="planogram.alerts")
    monitor = AlertMonitor(SETTINGS, MemoryAlertLatch())
    record(app, 6)
    record(app, 4, "server_error")
    for _ in range(3):
        assert evaluate(app, monitor) == {"error_rate", "fallback_rate"}
    assert len([w for w in warnings(caplog) if "error rate 40%" in w]) == 1
    assert len([w for w in warnings(caplog) if "fallback rate 40%" in w]) == 1
    later = FIXED_NOW + timedelta(minutes=30)  # the failures have left the 15-minute window
    assert evaluate(app, monitor, now=later) == set()
    cleared = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "alert cleared: error_rate" in cleared and "alert cleared: fallback_rate" in cleared
    evaluate(app, monitor)
    assert len(warnings(caplog)) == 4  # a new episode is logged again


def test_policy_fallbacks_and_small_samples_raise_no_rate_alert(app: Flask) -> None:
    monitor = AlertMonitor(SETTINGS, MemoryAlertLatch())
    record(app, 20, "no_provider")  # no provider configured: by design, not an outage
    assert evaluate(app, monitor) == set()
    record(app, 3, "timeout")  # 3 calls: under min_calls
    assert evaluate(app, monitor) == set()
    record(app, 12)
    record(app, 5, "budget_exceeded")  # fallbacks, not errors: 3 errors in 20 calls (15 %), 8 fallbacks (40 %)
    assert evaluate(app, monitor) == {"fallback_rate"}


def test_budget_levels_log_once_per_day_each(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="planogram.alerts")
    monitor = AlertMonitor(SETTINGS, MemoryAlertLatch())
    pipeline = FakePipeline(spent=7.0)
    assert evaluate(app, monitor, pipeline) == set()
    pipeline.costs.spent = 8.5
    assert evaluate(app, monitor, pipeline) == {"budget_80"}
    assert evaluate(app, monitor, pipeline) == {"budget_80"}
    pipeline.costs.spent = 10.0
    assert evaluate(app, monitor, pipeline) == {"budget_100"}
    pipeline.costs.spent = 9.0  # reservations settled lower: still the same day's episodes
    evaluate(app, monitor, pipeline)
    assert [w.split(" is ")[1][:4] for w in warnings(caplog)] == ["85% ", "100%"]
    pipeline.costs.day = "2099-01-01"  # a new budget day is a new episode
    pipeline.costs.spent = 8.1
    evaluate(app, monitor, pipeline)
    assert len(warnings(caplog)) == 3


def test_open_circuit_is_one_episode_across_processes(
    app: Flask, redis_client: redis.Redis, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="planogram.alerts")
    # Two monitors with their own Redis connections stand for two gunicorn workers (or two machines).
    workers = [AlertMonitor(SETTINGS, RedisAlertLatch(redis.Redis.from_url(redis_url))) for _ in range(2)]
    pipeline = FakePipeline(breakers={"anthropic": "open", "openai": "closed"})
    for _ in range(3):
        for monitor in workers:
            assert evaluate(app, monitor, pipeline) == {"circuit_open:anthropic"}
    assert len(warnings(caplog)) == 1 and "anthropic is open" in warnings(caplog)[0]
    pipeline.breakers["anthropic"] = "half_open"  # still the same episode until it closes
    evaluate(app, workers[1], pipeline)
    pipeline.breakers["anthropic"] = "closed"
    for monitor in workers:
        evaluate(app, monitor, pipeline)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "alert cleared: circuit_open:anthropic"
    ]
    pipeline.breakers["anthropic"] = "open"
    evaluate(app, workers[0], pipeline)
    assert len(warnings(caplog)) == 2


def test_after_call_checks_are_throttled_per_process() -> None:
    clock = Clock()
    monitor = AlertMonitor(SETTINGS, MemoryAlertLatch(), clock=clock)
    assert monitor.due() and not monitor.due()
    clock.now += 29
    assert not monitor.due()
    clock.now += 1
    assert monitor.due()
