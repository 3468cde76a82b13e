"""CostMonitor: reserve a call's cost atomically before it, settle to the actual cost after.

A call reserves its worst case when that fits; when only less is left it gets what is left (at least its
minimum) and the caller caps the call's output to fit, so spend never crosses the budget; when open
reservations hold the room it waits briefly for them to settle. Amounts are integer nano-dollars so
Redis INCRBY stays exact and atomic.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

NANO = 1_000_000_000
DAY_TTL_S = 3 * 24 * 3600


def to_nano(usd: float) -> int:
    """Dollars to nano-dollars, rounded up so reservations never under-count."""
    return math.ceil(round(usd * NANO, 3))


class BudgetCounter(Protocol):
    """Per-day spend counter with an atomic check-and-reserve."""

    def try_reserve(self, day: str, amount: int, limit: int, minimum: int | None = None) -> int:
        """Reserve `amount`, or what is left if that is at least `minimum`, keeping the total within `limit`.

        Returns the amount granted; 0 when nothing fits; WAIT when only open reservations are in the way.
        """
        ...

    def adjust(self, day: str, delta: int, feature: str, model: str, actual: int) -> None:
        """Apply `delta` (actual - reserved), close the reservation, add `actual` to the aggregates."""
        ...

    def wait(self, timeout_s: float) -> None:
        """Sleep until a reservation may have settled (at most `timeout_s`)."""
        ...

    def spent(self, day: str) -> int:
        """The day's total (settled spend plus open reservations)."""
        ...

    def add(self, day: str, amount: int, opened: int = 0) -> None:
        """Add to the day's total, and `opened` to its open reservations, without touching the aggregates
        (spend and reservations recorded elsewhere meanwhile)."""
        ...

    def aggregates(self, day: str) -> dict[str, dict[str, int]]:
        """{'feature': {...}, 'model': {...}} settled spend of the day."""
        ...


WAIT = -1


def grant(total: int, open_: int, amount: int, minimum: int, limit: int) -> int:
    """The admission rule (the Lua script repeats it): all, what is left, WAIT for open ones, or 0."""
    room = limit - total
    if room >= amount:
        return amount
    if room >= minimum:
        return room
    return WAIT if open_ > 0 and limit - (total - open_) >= minimum else 0


@dataclass
class MemoryBudgetCounter:
    """One process: a condition makes check-and-reserve atomic and wakes waiters on settle."""

    _lock: threading.Condition = field(default_factory=threading.Condition)
    _spent: dict[str, int] = field(default_factory=dict)
    _open: dict[str, int] = field(default_factory=dict)
    _aggregates: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def try_reserve(self, day: str, amount: int, limit: int, minimum: int | None = None) -> int:
        """Check and add under the lock."""
        with self._lock:
            current, open_ = self._spent.get(day, 0), self._open.get(day, 0)
            granted = grant(current, open_, amount, amount if minimum is None else minimum, limit)
            if granted > 0:
                self._spent[day], self._open[day] = current + granted, open_ + granted
            return granted

    def wait(self, timeout_s: float) -> None:
        """Until the next settle."""
        with self._lock:
            self._lock.wait(timeout_s)

    def adjust(self, day: str, delta: int, feature: str, model: str, actual: int) -> None:
        """Settle under the lock."""
        with self._lock:
            self._spent[day] = self._spent.get(day, 0) + delta
            self._open[day] = self._open.get(day, 0) - (actual - delta)
            self._lock.notify_all()
            day_aggs = self._aggregates.setdefault(day, {"feature": {}, "model": {}})
            day_aggs["feature"][feature] = day_aggs["feature"].get(feature, 0) + actual
            day_aggs["model"][model] = day_aggs["model"].get(model, 0) + actual

    def spent(self, day: str) -> int:
        """Current total."""
        with self._lock:
            return self._spent.get(day, 0)

    def add(self, day: str, amount: int, opened: int = 0) -> None:
        """Add to the total (and the open reservations) under the lock."""
        with self._lock:
            self._spent[day] = self._spent.get(day, 0) + amount
            self._open[day] = self._open.get(day, 0) + opened

    def aggregates(self, day: str) -> dict[str, dict[str, int]]:
        """Copy of the day's aggregates."""
        with self._lock:
            day_aggs = self._aggregates.get(day, {"feature": {}, "model": {}})
            return {kind: dict(values) for kind, values in day_aggs.items()}


_RESERVE = """
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
local open = tonumber(redis.call('GET', KEYS[2]) or '0')
local amount, minimum, limit = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[2])
local room = limit - total
local granted = 0
if room >= amount then granted = amount elseif room >= minimum then granted = room end
if granted <= 0 then
  if open > 0 and limit - (total - open) >= minimum then return -1 end
  return 0
end
redis.call('INCRBY', KEYS[1], granted)
redis.call('INCRBY', KEYS[2], granted)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return granted
"""
POLL_S = 0.02  # Redis mode: how often a waiting call looks again


class RedisBudgetCounter:
    """Shared by every process: a Lua script makes check-and-reserve atomic on the server."""

    def __init__(self, client: Any, namespace: str = "llm:budget") -> None:
        self._r = client
        self._ns = namespace
        self._reserve = client.register_script(_RESERVE)

    def try_reserve(self, day: str, amount: int, limit: int, minimum: int | None = None) -> int:
        """EVALSHA the reserve script."""
        keys = [f"{self._ns}:{day}", f"{self._ns}:{day}:open"]
        args = [amount, limit, DAY_TTL_S, amount if minimum is None else minimum]
        return int(self._reserve(keys=keys, args=args))

    def wait(self, timeout_s: float) -> None:
        """Poll: settles happen in other processes."""
        time.sleep(min(timeout_s, POLL_S))

    def adjust(self, day: str, delta: int, feature: str, model: str, actual: int) -> None:
        """INCRBY the total and HINCRBY the aggregates in one MULTI."""
        pipe = self._r.pipeline(transaction=True)
        pipe.incrby(f"{self._ns}:{day}", delta)
        pipe.decrby(f"{self._ns}:{day}:open", actual - delta)
        pipe.hincrby(f"{self._ns}:{day}:feature", feature, actual)
        pipe.hincrby(f"{self._ns}:{day}:model", model, actual)
        for key in (f"{self._ns}:{day}:feature", f"{self._ns}:{day}:model"):
            pipe.expire(key, DAY_TTL_S)
        pipe.execute()

    def spent(self, day: str) -> int:
        """GET the total."""
        return int(self._r.get(f"{self._ns}:{day}") or 0)

    def add(self, day: str, amount: int, opened: int = 0) -> None:
        """INCRBY the total and the open reservations (keeping their expiry)."""
        pipe = self._r.pipeline(transaction=True)
        pipe.incrby(f"{self._ns}:{day}", amount)
        pipe.incrby(f"{self._ns}:{day}:open", opened)
        for key in (f"{self._ns}:{day}", f"{self._ns}:{day}:open"):
            pipe.expire(key, DAY_TTL_S)
        pipe.execute()

    def aggregates(self, day: str) -> dict[str, dict[str, int]]:
        """HGETALL both aggregates."""
        out: dict[str, dict[str, int]] = {}
        for kind in ("feature", "model"):
            raw = self._r.hgetall(f"{self._ns}:{day}:{kind}")
            out[kind] = {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}
        return out


@dataclass(frozen=True, slots=True)
class Reservation:
    """A granted reservation; settle it exactly once."""

    id: str
    day: str
    amount: int
    feature: str
    model: str


class CostMonitor:
    """The daily budget: reserve worst case, settle actual, report spend."""

    def __init__(
        self,
        counter: BudgetCounter,
        daily_budget_usd: float,
        today: Callable[[], str] = lambda: datetime.now(UTC).date().isoformat(),
    ) -> None:
        self.counter = counter
        self.daily_budget_usd = daily_budget_usd
        self._today = today

    def reserve(
        self,
        feature: str,
        model: str,
        worst_case_usd: float,
        minimum_usd: float | Callable[[], float] | None = None,
        wait_s: float = 0.0,
    ) -> Reservation | None:
        """Reserve the worst case, or what is left down to `minimum_usd` (the caller then caps the call to
        `Reservation.amount`); wait up to `wait_s` while open reservations hold the room; else None.

        A callable minimum is asked again after each wait (it may shrink as answers are observed).
        """
        day, amount = self._today(), to_nano(worst_case_usd)
        deadline = time.monotonic() + wait_s
        while True:
            least = minimum_usd() if callable(minimum_usd) else minimum_usd
            minimum = amount if least is None else min(to_nano(least), amount)
            granted = self.counter.try_reserve(day, amount, to_nano(self.daily_budget_usd), minimum)
            if granted > 0:
                return Reservation(uuid.uuid4().hex, day, granted, feature, model)
            left = deadline - time.monotonic()
            if granted != WAIT or left <= 0:
                return None
            self.counter.wait(left)

    def settle(self, reservation: Reservation, actual_usd: float, model: str | None = None) -> None:
        """Replace the reservation by the actual cost (0 for calls that failed before any output)."""
        actual = to_nano(actual_usd)
        self.counter.adjust(
            reservation.day,
            actual - reservation.amount,
            reservation.feature,
            model or reservation.model,
            actual,
        )

    def remaining_fraction(self) -> float:
        """Share of today's budget still available (1.0 for a zero budget is never returned: 0.0)."""
        if self.daily_budget_usd <= 0:
            return 0.0
        return max(1.0 - self.counter.spent(self._today()) / to_nano(self.daily_budget_usd), 0.0)

    def snapshot(self) -> dict[str, Any]:
        """Today's budget, spend (including open reservations), remaining, and aggregates in USD."""
        day = self._today()
        spent = self.counter.spent(day) / NANO
        aggs = self.counter.aggregates(day)
        return {
            "day": day,
            "budget_usd": self.daily_budget_usd,
            "spent_usd": round(spent, 9),
            "remaining_usd": round(max(self.daily_budget_usd - spent, 0.0), 9),
            "by_feature": {k: v / NANO for k, v in sorted(aggs.get("feature", {}).items())},
            "by_model": {k: v / NANO for k, v in sorted(aggs.get("model", {}).items())},
        }
