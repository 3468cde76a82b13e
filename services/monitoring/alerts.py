"""Alerts: daily spend crossing 80 % / 100 %, recent error or fallback rate above a threshold, an open circuit.

Each condition is an *episode*: it is logged at WARNING once when it starts, however many processes
evaluate it, and once at INFO when an evaluation finds it over. The latch that makes "once" hold is a
Redis key taken with SET NX (with an expiry, so a crashed evaluator cannot hold it forever) when Redis
is configured, and a locked dict in one process otherwise. Budget episodes last the UTC day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from services.llm import LLMIntegrationPipeline
from services.monitoring.usage import ledger_spend, recent_rates

log = logging.getLogger("planogram.alerts")
BUDGET_LEVELS = (80, 100)
BUDGET_EPISODE_S = 2 * 24 * 3600
BREAKER_EPISODE_S = 3600


class AlertLatch(Protocol):
    """Marks an episode as started; `open` is True for exactly one caller per episode."""

    def open(self, key: str, ttl_s: float) -> bool:
        """Start the episode (True) or extend the running one (False)."""
        ...

    def close(self, key: str) -> bool:
        """End the episode; True when there was one."""
        ...


class MemoryAlertLatch:
    """One process: a dict of episode keys with expiry times under a lock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, float] = {}
        self._clock = clock

    def open(self, key: str, ttl_s: float) -> bool:
        """Check and set under the lock."""
        now = self._clock()
        with self._lock:
            started = self._open.get(key, 0.0) <= now
            self._open[key] = now + ttl_s
            return started

    def close(self, key: str) -> bool:
        """Forget the episode."""
        with self._lock:
            return self._open.pop(key, 0.0) > self._clock()


class RedisAlertLatch:
    """Every process and machine: SET NX EX decides who starts an episode; EXPIRE keeps it running."""

    def __init__(self, client: Any, namespace: str = "pgw:alert") -> None:
        self._r = client
        self._ns = namespace

    def open(self, key: str, ttl_s: float) -> bool:
        """SET NX with expiry; when it exists already, push its expiry out."""
        full, ttl = f"{self._ns}:{key}", max(int(ttl_s), 1)
        if self._r.set(full, "1", nx=True, ex=ttl):
            return True
        self._r.expire(full, ttl)
        return False

    def close(self, key: str) -> bool:
        """DEL: only the caller that removed the key reports the end."""
        return bool(self._r.delete(f"{self._ns}:{key}"))


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Thresholds read once from the app config."""

    window_minutes: int = 15
    error_rate: float = 0.2
    fallback_rate: float = 0.3
    min_calls: int = 10
    check_seconds: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AlertSettings:
        """From ALERT_* settings."""
        return cls(
            window_minutes=int(config["ALERT_WINDOW_MINUTES"]),
            error_rate=float(config["ALERT_ERROR_RATE"]),
            fallback_rate=float(config["ALERT_FALLBACK_RATE"]),
            min_calls=int(config["ALERT_MIN_CALLS"]),
            check_seconds=float(config["ALERT_CHECK_SECONDS"]),
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """One active condition."""

    id: str
    kind: str  # budget | error_rate | fallback_rate | circuit_open
    severity: str  # warning | critical
    message: str
    value: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON view."""
        return asdict(self)


class AlertMonitor:
    """Evaluates every condition, latches episodes and logs their start and end."""

    def __init__(self, settings: AlertSettings, latch: AlertLatch, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.latch = latch
        self._clock = clock
        self._lock = threading.Lock()
        self._next_check = 0.0

    def due(self) -> bool:
        """True at most once per `check_seconds` in this process (the after-call check is throttled)."""
        with self._lock:
            now = self._clock()
            if now < self._next_check:
                return False
            self._next_check = now + self.settings.check_seconds
            return True

    def evaluate(
        self, session: Session, pipeline: LLMIntegrationPipeline | None, now: datetime | None = None
    ) -> list[Alert]:
        """The active alerts, most severe first; newly started episodes are logged at WARNING."""
        now = now or datetime.now(UTC)
        alerts: list[Alert] = []
        if pipeline is not None:
            alerts += self._budget(session, pipeline)
            alerts += self._breakers(pipeline)
        alerts += self._rates(session, now)
        return sorted(alerts, key=lambda a: (a.severity != "critical", a.id))

    def _budget(self, session: Session, pipeline: LLMIntegrationPipeline) -> list[Alert]:
        snapshot = pipeline.costs.snapshot()
        budget = float(snapshot["budget_usd"])
        if budget <= 0:
            return []
        day_start = datetime.fromisoformat(str(snapshot["day"])).replace(tzinfo=UTC)
        ledger = ledger_spend(session, day_start, day_start + timedelta(days=1))
        spent = max(float(snapshot["spent_usd"]), ledger)  # the counter restarts with an embedded process
        pct = 100.0 * spent / budget
        crossed = [level for level in BUDGET_LEVELS if pct >= level]
        for level in crossed:
            alert = _budget_alert(level, pct, spent, budget)
            if self.latch.open(f"budget:{level}:{snapshot['day']}", BUDGET_EPISODE_S):
                _log_start(alert)
        return [_budget_alert(crossed[-1], pct, spent, budget)] if crossed else []

    def _rates(self, session: Session, now: datetime) -> list[Alert]:
        window = self.settings.window_minutes
        rates = recent_rates(session, now - timedelta(minutes=window))
        enough = rates.calls >= self.settings.min_calls
        out = []
        for kind, value, threshold in (
            ("error_rate", rates.error_rate, self.settings.error_rate),
            ("fallback_rate", rates.fallback_rate, self.settings.fallback_rate),
        ):
            label = kind.replace("_", " ")
            alert = Alert(
                kind,
                kind,
                "warning",
                f"{label} {value:.0%} over the last {window} min ({rates.calls} calls) is above {threshold:.0%}",
                value,
                threshold,
            )
            out += self._episode(kind, alert if enough and value > threshold else None, window * 60)
        return out

    def _breakers(self, pipeline: LLMIntegrationPipeline) -> list[Alert]:
        out = []
        for provider, state in pipeline.breaker_states().items():
            alert = None
            if state["state"] != "closed":
                alert = Alert(
                    f"circuit_open:{provider}",
                    "circuit_open",
                    "critical",
                    f"circuit breaker for {provider} is {state['state'].replace('_', '-')} after "
                    f"{state['consecutive_failures']} consecutive failures; calls fall back",
                )
            out += self._episode(f"circuit_open:{provider}", alert, BREAKER_EPISODE_S)
        return out

    def _episode(self, key: str, alert: Alert | None, ttl_s: float) -> list[Alert]:
        if alert is None:
            if self.latch.close(key):
                log.info("alert cleared: %s", key, extra={"alert": key})
            return []
        if self.latch.open(key, ttl_s):
            _log_start(alert)
        return [alert]


def _budget_alert(level: int, pct: float, spent: float, budget: float) -> Alert:
    return Alert(
        f"budget_{level}",
        "budget",
        "critical" if level >= 100 else "warning",
        f"AI spend today {_usd(spent)} is {pct:.0f}% of the {_usd(budget)} daily budget",
        round(pct, 2),
        float(level),
    )


def _usd(amount: float) -> str:
    """Cents for ordinary budgets, significant digits for tiny ones (never "$0.00" for a real amount)."""
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.3g}"


def _log_start(alert: Alert) -> None:
    log.warning(
        "alert: %s",
        alert.message,
        extra={"alert": alert.id, "severity": alert.severity, "value": alert.value, "threshold": alert.threshold},
    )
