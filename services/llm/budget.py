"""CostMonitor: reserve the worst-case cost atomically before a call, settle to the actual cost after.

Amounts are stored as integer nano-dollars so Redis INCRBY stays exact and atomic.
"""

from __future__ import annotations

import math
import threading
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

    def try_reserve(self, day: str, amount: int, limit: int) -> bool:
        """Add `amount` if the day's total stays within `limit`; False (and no change) otherwise."""
        ...

    def adjust(self, day: str, delta: int, feature: str, model: str, actual: int) -> None:
        """Apply `delta` (actual - reserved) and add `actual` to the feature and model aggregates."""
        ...

    def spent(self, day: str) -> int:
        """The day's total (settled spend plus open reservations)."""
        ...

    def add(self, day: str, amount: int) -> None:
        """Add to the day's total without touching the aggregates (spend recorded elsewhere meanwhile)."""
        ...

    def aggregates(self, day: str) -> dict[str, dict[str, int]]:
        """{'feature': {...}, 'model': {...}} settled spend of the day."""
        ...


@dataclass
class MemoryBudgetCounter:
    """One process: a lock makes check-and-reserve atomic."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _spent: dict[str, int] = field(default_factory=dict)
    _aggregates: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def try_reserve(self, day: str, amount: int, limit: int) -> bool:
        """Check and add under the lock."""
        with self._lock:
            current = self._spent.get(day, 0)
            if current + amount > limit:
                return False
            self._spent[day] = current + amount
            return True

    def adjust(self, day: str, delta: int, feature: str, model: str, actual: int) -> None:
        """Settle under the lock."""
        with self._lock:
            self._spent[day] = self._spent.get(day, 0) + delta
            day_aggs = self._aggregates.setdefault(day, {"feature": {}, "model": {}})
            day_aggs["feature"][feature] = day_aggs["feature"].get(feature, 0) + actual
            day_aggs["model"][model] = day_aggs["model"].get(model, 0) + actual

    def spent(self, day: str) -> int:
        """Current total."""
        with self._lock:
            return self._spent.get(day, 0)

    def add(self, day: str, amount: int) -> None:
        """Add to the total under the lock."""
        with self._lock:
            self._spent[day] = self._spent.get(day, 0) + amount

    def aggregates(self, day: str) -> dict[str, dict[str, int]]:
        """Copy of the day's aggregates."""
        with self._lock:
            day_aggs = self._aggregates.get(day, {"feature": {}, "model": {}})
            return {kind: dict(values) for kind, values in day_aggs.items()}


_RESERVE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if current + amount > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class RedisBudgetCounter:
    """Shared by every process: a Lua script makes check-and-reserve atomic on the server."""

    def __init__(self, client: Any, namespace: str = "llm:budget") -> None:
        self._r = client
        self._ns = namespace
        self._reserve = client.register_script(_RESERVE)

    def try_reserve(self, day: str, amount: int, limit: int) -> bool:
        """EVALSHA the reserve script."""
        return bool(self._reserve(keys=[f"{self._ns}:{day}"], args=[amount, limit, DAY_TTL_S]))

    def adjust(self, day: str, delta: int, feature: str, model: str, actual: int) -> None:
        """INCRBY the total and HINCRBY the aggregates in one MULTI."""
        pipe = self._r.pipeline(transaction=True)
        pipe.incrby(f"{self._ns}:{day}", delta)
        pipe.hincrby(f"{self._ns}:{day}:feature", feature, actual)
        pipe.hincrby(f"{self._ns}:{day}:model", model, actual)
        for key in (f"{self._ns}:{day}:feature", f"{self._ns}:{day}:model"):
            pipe.expire(key, DAY_TTL_S)
        pipe.execute()

    def spent(self, day: str) -> int:
        """GET the total."""
        return int(self._r.get(f"{self._ns}:{day}") or 0)

    def add(self, day: str, amount: int) -> None:
        """INCRBY the total (keeping its expiry)."""
        pipe = self._r.pipeline(transaction=True)
        pipe.incrby(f"{self._ns}:{day}", amount)
        pipe.expire(f"{self._ns}:{day}", DAY_TTL_S)
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

    def reserve(self, feature: str, model: str, worst_case_usd: float) -> Reservation | None:
        """Reserve `worst_case_usd` against today's budget; None when it does not fit."""
        day, amount = self._today(), to_nano(worst_case_usd)
        if not self.counter.try_reserve(day, amount, to_nano(self.daily_budget_usd)):
            return None
        return Reservation(uuid.uuid4().hex, day, amount, feature, model)

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
