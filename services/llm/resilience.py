"""Retries with backoff and jitter (honouring retry-after), and a circuit breaker per provider."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from .errors import LLMError, RateLimited

T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by total elapsed time."""

    attempts: int = 3
    base_s: float = 0.5
    max_delay_s: float = 8.0
    total_s: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, error: LLMError) -> float:
        """Seconds before retry number `attempt` (1-based); a retry-after hint is a floor."""
        backoff = self.rng.uniform(0, min(self.max_delay_s, self.base_s * 2 ** (attempt - 1)))
        hint = error.retry_after if isinstance(error, RateLimited) else None
        return max(backoff, hint) if hint is not None else backoff

    def run(self, call: Callable[[], T], on_retry: Callable[[LLMError], None] | None = None) -> tuple[T, int]:
        """Call until success, a non-retryable error, or the attempt/time budget is spent."""
        started = self.clock()
        attempt = 1
        while True:
            try:
                return call(), attempt
            except LLMError as error:
                if not error.retryable or attempt >= self.attempts:
                    raise
                wait = self.delay(attempt, error)
                if self.clock() - started + wait > self.total_s:
                    raise
                if on_retry is not None:
                    on_retry(error)
                self.sleep(wait)
                attempt += 1


class BreakerStore(Protocol):
    """Where breaker state lives: process memory, or Redis to share it between processes."""

    def failure(self, name: str, threshold: int, open_for_s: float, now: float) -> None:
        """Count a consecutive failure; open the breaker at `threshold`."""
        ...

    def success(self, name: str) -> None:
        """Reset to closed."""
        ...

    def opened_until(self, name: str) -> tuple[float, int]:
        """(time until which it is open, 0 when closed; consecutive failures)."""
        ...

    def claim_probe(self, name: str, hold_s: float) -> bool:
        """Let exactly one caller probe a half-open provider."""
        ...


@dataclass
class MemoryBreakerStore:
    """Breaker state for one process."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _state: dict[str, list[float]] = field(default_factory=dict)  # name -> [failures, opened_until, probe_until]

    def failure(self, name: str, threshold: int, open_for_s: float, now: float) -> None:
        """Increment; open when the threshold is reached (or when a half-open probe failed)."""
        with self._lock:
            state = self._state.setdefault(name, [0.0, 0.0, 0.0])
            state[0] += 1
            if state[0] >= threshold:
                state[1] = now + open_for_s
                state[2] = 0.0

    def success(self, name: str) -> None:
        """Close."""
        with self._lock:
            self._state[name] = [0.0, 0.0, 0.0]

    def opened_until(self, name: str) -> tuple[float, int]:
        """Current state."""
        with self._lock:
            state = self._state.get(name, [0.0, 0.0, 0.0])
            return state[1], int(state[0])

    def claim_probe(self, name: str, hold_s: float) -> bool:
        """First caller after the open period wins the probe."""
        with self._lock:
            state = self._state.setdefault(name, [0.0, 0.0, 0.0])
            now = time.time()
            if state[2] > now:
                return False
            state[2] = now + hold_s
            return True


class RedisBreakerStore:
    """Breaker state in a Redis hash per provider, shared by every app server."""

    def __init__(self, client: Any, namespace: str = "llm:breaker") -> None:
        self._r = client
        self._ns = namespace

    def failure(self, name: str, threshold: int, open_for_s: float, now: float) -> None:
        """HINCRBY failures; set opened_until when the threshold is reached."""
        key = f"{self._ns}:{name}"
        failures = int(self._r.hincrby(key, "failures", 1))
        if failures >= threshold:
            self._r.hset(key, mapping={"opened_until": now + open_for_s})
            self._r.delete(f"{key}:probe")
        self._r.expire(key, 24 * 3600)

    def success(self, name: str) -> None:
        """Delete the state (closed)."""
        self._r.delete(f"{self._ns}:{name}", f"{self._ns}:{name}:probe")

    def opened_until(self, name: str) -> tuple[float, int]:
        """HMGET the state."""
        until, failures = self._r.hmget(f"{self._ns}:{name}", "opened_until", "failures")
        return float(until or 0.0), int(failures or 0)

    def claim_probe(self, name: str, hold_s: float) -> bool:
        """SET NX with expiry: one probe per hold period across all processes."""
        return bool(self._r.set(f"{self._ns}:{name}:probe", "1", nx=True, px=max(int(hold_s * 1000), 1)))


class CircuitBreaker:
    """Per-provider breaker: closed → open after N consecutive failures → half-open probe → closed."""

    def __init__(
        self,
        store: BreakerStore,
        threshold: int = 5,
        reset_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.threshold = threshold
        self.reset_s = reset_s
        self._clock = clock

    def state(self, name: str) -> BreakerState:
        """closed, open (calls refused) or half_open (one probe allowed)."""
        until, _ = self.store.opened_until(name)
        if until == 0.0:
            return "closed"
        return "open" if self._clock() < until else "half_open"

    def allow(self, name: str) -> bool:
        """Whether a call may go to `name` now."""
        state = self.state(name)
        if state == "closed":
            return True
        if state == "open":
            return False
        return self.store.claim_probe(name, self.reset_s)

    def record(self, name: str, error: LLMError | None) -> None:
        """Feed an outcome: success closes, a breaker-worthy failure counts (a failed probe reopens)."""
        if error is None:
            self.store.success(name)
        elif error.counts_for_breaker:
            threshold = 1 if self.state(name) == "half_open" else self.threshold
            self.store.failure(name, threshold, self.reset_s, self._clock())

    def snapshot(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """State and consecutive failures per provider, for monitoring."""
        out: dict[str, dict[str, Any]] = {}
        for name in names:
            _, failures = self.store.opened_until(name)
            out[name] = {"state": self.state(name), "consecutive_failures": failures}
        return out
