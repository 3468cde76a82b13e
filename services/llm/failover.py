"""Shared state that degrades instead of failing while its store (Redis) is unreachable.

- cache: every lookup misses and nothing is stored; invalidations asked for during the outage are
  replayed once the store answers again (so no answer about changed data outlives the outage).
- breakers: kept in process memory until the store is back.
- budget: a conservative local reservation. Each process may reserve at most `outage_share` of the
  headroom it last saw (budget minus the store's total when it last answered); with no figure seen yet it
  reserves nothing (AI calls get the rule-based fallback). With `outage_share` <= 1 / (processes that
  share the budget) the day's budget is never overshot. Local spend, settled aggregates and reservations
  still open are handed to the store on recovery.

After a failure the store is skipped for `retry_s` seconds (no connect timeout on every call), then tried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .budget import BudgetCounter, grant
from .cache_backends import CacheBackend
from .resilience import BreakerStore, MemoryBreakerStore

log = logging.getLogger(__name__)
T = TypeVar("T")
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)


class StoreGate:
    """Whether the shared store is believed up; trips on an outage error and re-probes after `retry_s`."""

    def __init__(
        self, name: str, probe: Callable[[], object], retry_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self._probe = probe
        self.retry_s = retry_s
        self._clock = clock
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()
        self._on_recover: list[Callable[[], None]] = []

    @property
    def down(self) -> bool:
        """True while the store is believed unreachable."""
        return self._down

    def on_recover(self, hook: Callable[[], None]) -> None:
        """Run `hook` on the first success after an outage."""
        self._on_recover.append(hook)

    def call(self, operation: Callable[[], T], default: T) -> tuple[bool, T]:
        """(True, result) from the store, or (False, default) while it is down or when it just failed."""
        if self._down and not self._back():
            return False, default
        try:
            return True, operation()
        except OUTAGE_ERRORS as exc:
            self._trip(exc)
            return False, default

    def _back(self) -> bool:
        """After `retry_s`, probe the store; when it answers, run the recovery steps before any operation."""
        if self._clock() < self._down_until:
            return False
        try:
            self._probe()
        except OUTAGE_ERRORS as exc:
            self._trip(exc)
            return False
        self._recover()
        return True

    def _trip(self, exc: BaseException) -> None:
        with self._lock:
            if not self._down:
                log.warning("%s unreachable (%s): degrading until it answers", self.name, type(exc).__name__)
            self._down = True
            self._down_until = self._clock() + self.retry_s

    def _recover(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        log.info("%s answers again", self.name)
        for hook in self._on_recover:
            try:
                hook()
            except Exception:  # a failed replay must not fail the call that noticed the recovery
                log.exception("%s recovery step failed", self.name)


class FailoverCache:
    """A CacheBackend that misses while its store is down and replays invalidations afterwards."""

    def __init__(self, primary: CacheBackend, gate: StoreGate) -> None:
        self.primary = primary
        self.gate = gate
        self._pending: list[tuple[str, str]] = []  # ("tag" | "feature" | "all", name)
        self._lock = threading.Lock()
        gate.on_recover(self._replay)

    def get(self, key: str) -> str | None:
        """The entry, or a miss while the store is down."""
        return self.gate.call(lambda: self.primary.get(key), None)[1]

    def set(self, key: str, value: str, ttl_s: float, feature: str, tags: Sequence[str]) -> None:
        """Store (skipped while down)."""
        self.gate.call(lambda: self.primary.set(key, value, ttl_s, feature, tags), None)

    def delete_tag(self, tag: str) -> int:
        """Invalidate a tag now, or once the store is back."""
        return self._invalidate("tag", tag, lambda: self.primary.delete_tag(tag))

    def delete_feature(self, feature: str) -> int:
        """Invalidate a feature now, or once the store is back."""
        return self._invalidate("feature", feature, lambda: self.primary.delete_feature(feature))

    def clear(self, expired_only: bool = False) -> int:
        """Clear now, or (unless only expired entries were meant) once the store is back."""
        if expired_only:
            return self.gate.call(lambda: self.primary.clear(expired_only=True), 0)[1]
        return self._invalidate("all", "", lambda: self.primary.clear())

    def incr(self, feature: str, counters: dict[str, float]) -> None:
        """Count (lost while down: statistics only)."""
        self.gate.call(lambda: self.primary.incr(feature, counters), None)

    def counters(self) -> dict[str, dict[str, float]]:
        """Counters, empty while down."""
        empty: dict[str, dict[str, float]] = {}
        return self.gate.call(self.primary.counters, empty)[1]

    def size(self) -> tuple[int, int]:
        """Entries and bytes, zero while down."""
        return self.gate.call(self.primary.size, (0, 0))[1]

    def add_vector(self, scope: str, key: str, vector: Sequence[float]) -> None:
        """Index a vector (skipped while down)."""
        self.gate.call(lambda: self.primary.add_vector(scope, key, vector), None)

    def vectors(self, scope: str) -> tuple[list[str], np.ndarray]:
        """The scope's vectors, none while down."""
        none: tuple[list[str], np.ndarray] = ([], np.zeros((0, 0), dtype=np.float32))
        return self.gate.call(lambda: self.primary.vectors(scope), none)[1]

    def _invalidate(self, kind: str, name: str, operation: Callable[[], int]) -> int:
        done, removed = self.gate.call(operation, 0)
        if not done:
            with self._lock:
                self._pending.append((kind, name))
        return removed

    def _replay(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for kind, name in pending:
            if kind == "tag":
                self.primary.delete_tag(name)
            elif kind == "feature":
                self.primary.delete_feature(name)
            else:
                self.primary.clear()


class FailoverBreakerStore:
    """Breaker state in the shared store, in process memory while it is down."""

    def __init__(self, primary: BreakerStore, gate: StoreGate) -> None:
        self.primary = primary
        self.local = MemoryBreakerStore()
        self.gate = gate

    def failure(self, name: str, threshold: int, open_for_s: float, now: float) -> None:
        """Count a failure."""
        done, _ = self.gate.call(lambda: self.primary.failure(name, threshold, open_for_s, now), None)
        if not done:
            self.local.failure(name, threshold, open_for_s, now)

    def success(self, name: str) -> None:
        """Close the breaker."""
        self.local.success(name)
        self.gate.call(lambda: self.primary.success(name), None)

    def opened_until(self, name: str) -> tuple[float, int]:
        """The shared state, or the local one while down."""
        done, value = self.gate.call(lambda: self.primary.opened_until(name), (0.0, 0))
        return value if done else self.local.opened_until(name)

    def claim_probe(self, name: str, hold_s: float) -> bool:
        """Claim the half-open probe."""
        done, value = self.gate.call(lambda: self.primary.claim_probe(name, hold_s), False)
        return value if done else self.local.claim_probe(name, hold_s)


@dataclass
class _Outage:
    """What this process did to one day's budget while the store was down (added to the store when back)."""

    total: int = 0  # to add to the store's total
    local_open: list[int] = field(default_factory=list)  # reservations granted here and not settled yet
    store_settled: int = 0  # reservations made in the store but settled here: to release from its open count
    aggs: dict[tuple[str, str], int] = field(default_factory=dict)  # (feature, model) -> settled spend


class FailoverBudgetCounter:
    """The shared budget counter, or a conservative local share of the last known headroom while it is down.

    Local admission follows the store's rule (all, what is left down to the minimum, wait for open ones, or
    nothing) within the share. A settle is matched to a local reservation by its amount (two reservations of
    the same amount are interchangeable); any other was made in the store before the outage.
    """

    def __init__(self, primary: BudgetCounter, gate: StoreGate, outage_share: float) -> None:
        self.primary = primary
        self.gate = gate
        self.outage_share = max(0.0, min(outage_share, 1.0))
        self._lock = threading.Condition()
        self._last_spent: dict[str, int] = {}  # the store's total when it last answered, per day
        self._outage: dict[str, _Outage] = {}
        gate.on_recover(self._flush)

    def try_reserve(self, day: str, amount: int, limit: int, minimum: int | None = None) -> int:
        """Reserve in the store; while it is down, within this process's share of the known headroom."""
        done, granted = self.gate.call(lambda: self.primary.try_reserve(day, amount, limit, minimum), 0)
        if done:
            return granted
        with self._lock:
            seen = self._last_spent.get(day)
            if seen is None:
                return 0  # no figure to be conservative from: no AI spend until the store answers
            allowance = int(max(limit - seen, 0) * self.outage_share)
            out = self._outage.setdefault(day, _Outage())
            least = amount if minimum is None else minimum
            granted = grant(out.total, sum(out.local_open), amount, least, allowance)
            if granted > 0:
                out.total += granted
                out.local_open.append(granted)
            return granted

    def wait(self, timeout_s: float) -> None:
        """Until a local settle while the store is down, else as the store waits."""
        if not self.gate.down:
            self.primary.wait(timeout_s)
            return
        with self._lock:
            self._lock.wait(timeout_s)

    def adjust(self, day: str, delta: int, feature: str, model: str, actual: int) -> None:
        """Settle in the store, or locally until it is back."""
        done, _ = self.gate.call(lambda: self.primary.adjust(day, delta, feature, model, actual), None)
        if done:
            return
        with self._lock:
            out = self._outage.setdefault(day, _Outage())
            reserved = actual - delta
            if reserved in out.local_open:
                out.local_open.remove(reserved)
            else:
                out.store_settled += reserved
            out.total += delta
            out.aggs[(feature, model)] = out.aggs.get((feature, model), 0) + actual
            self._lock.notify_all()

    def spent(self, day: str) -> int:
        """The store's total (remembered), plus what this process spent while it was down."""
        done, total = self.gate.call(lambda: self.primary.spent(day), 0)
        with self._lock:
            if done:
                self._last_spent[day] = total
            out = self._outage.get(day)
            return self._last_spent.get(day, 0) + (out.total if out else 0)

    def aggregates(self, day: str) -> dict[str, dict[str, int]]:
        """The store's aggregates (empty while down)."""
        empty: dict[str, dict[str, int]] = {"feature": {}, "model": {}}
        return self.gate.call(lambda: self.primary.aggregates(day), empty)[1]

    def add(self, day: str, amount: int, opened: int = 0) -> None:
        """Add to the day's total and open reservations without aggregates (delegated)."""
        self.primary.add(day, amount, opened)

    def _flush(self) -> None:
        """Hand the outage's spend, settled aggregates and still-open local reservations to the store."""
        with self._lock:
            outages, self._outage = self._outage, {}
        for day, out in outages.items():
            settled = 0
            for (feature, model), actual in out.aggs.items():
                self.primary.adjust(day, actual, feature, model, actual)  # aggregates; open count unchanged
                settled += actual
            self.primary.add(day, out.total - settled, sum(out.local_open) - out.store_settled)


def failover_state(
    cache: CacheBackend,
    counter: BudgetCounter,
    breakers: BreakerStore,
    probe: Callable[[], object],
    outage_share: float,
    retry_s: float = 5.0,
) -> tuple[CacheBackend, BudgetCounter, BreakerStore]:
    """Wrap the Redis-backed parts so a Redis outage degrades them instead of failing every AI call."""
    gate = StoreGate("Redis (LLM cache, budget, breakers)", probe, retry_s)
    return (
        FailoverCache(cache, gate),
        FailoverBudgetCounter(counter, gate, outage_share),
        FailoverBreakerStore(breakers, gate),
    )
