"""Ledger aggregation: usage by day / feature / model / tier / user, per prompt version, recent errors.

One streaming pass over the window's ledger rows (only the needed columns, fetched in batches) keeps
sums exact and equal to what SQL would add up. Latency percentiles are exact too, from the window's
latencies held as 8-byte floats, until a group passes `sample_cap` calls; beyond that a seeded
reservoir sample keeps memory bounded and the group says `latency_sampled: true`.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models import LLMRequest, User
from services.errors import ValidationFailed

GROUP_BYS = ("day", "feature", "model", "tier", "user")
# Fallbacks by design or by policy, not failures: no provider configured, the day's budget spent.
NOT_ERRORS = ("no_provider", "budget_exceeded")
BATCH_ROWS = 5000
DEFAULT_DAYS = 7


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window [start, end) in UTC."""

    start: datetime
    end: datetime

    def days(self) -> list[date]:
        """Every UTC day the window touches, in order."""
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def to_dict(self) -> dict[str, str]:
        """ISO bounds for responses."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def _parse_moment(raw: str, field_name: str, end: bool) -> datetime:
    try:
        if len(raw) == 10:  # a plain date: from its start, or (as `to`) through its end
            day = date.fromisoformat(raw)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"'{field_name}' must be an ISO date or datetime",
            details=[{"field": field_name, "reason": f"not an ISO date or datetime: {raw!r}"}],
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_window(
    raw_from: str | None,
    raw_to: str | None,
    max_days: int,
    now: datetime | None = None,
    default_days: int = DEFAULT_DAYS,
) -> Window:
    """`from` inclusive, `to` exclusive (a plain date as `to` includes that day); default: the last 7 UTC days."""
    now = now or datetime.now(UTC)
    end = _parse_moment(raw_to, "to", end=True) if raw_to else now
    if raw_from:
        start = _parse_moment(raw_from, "from", end=False)
    else:
        start = datetime.combine(end.date() - timedelta(days=default_days - 1), time(), UTC)
        start = min(start, end - timedelta(microseconds=1))
    if start >= end:
        raise ValidationFailed("'from' must be before 'to'", details=[{"field": "from", "reason": "not before 'to'"}])
    if end - start > timedelta(days=max_days):
        raise ValidationFailed(
            f"The window may span at most {max_days} days",
            details=[{"field": "from", "reason": f"window longer than {max_days} days"}],
        )
    return Window(start, end)


class Reservoir:
    """Latency samples: all of them up to `cap`, then a uniform reservoir sample (Algorithm R)."""

    def __init__(self, cap: int, rng: random.Random) -> None:
        self.cap = max(cap, 1)
        self.values = array("d")
        self.seen = 0
        self._rng = rng

    def add(self, value: float) -> None:
        """Offer one sample."""
        self.seen += 1
        if len(self.values) < self.cap:
            self.values.append(value)
            return
        slot = self._rng.randrange(self.seen)
        if slot < self.cap:
            self.values[slot] = value

    def percentiles(self) -> dict[str, float | None]:
        """p50, p95, p99 in ms (numpy's linear interpolation); None without samples."""
        if not self.values:
            return {"p50": None, "p95": None, "p99": None}
        p50, p95, p99 = np.percentile(np.frombuffer(self.values, dtype=np.float64), [50, 95, 99])
        return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3)}


@dataclass(slots=True)
class LedgerRow:
    """The ledger columns the monitoring figures need."""

    created_at: datetime
    feature: str
    model: str | None
    tier: str | None
    user_id: int | None
    prompt_name: str | None
    prompt_version: int | None
    variant: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: float
    status: str
    cached: bool
    fallback_used: bool
    error_kind: str | None
    cache_write_tokens: int = 0
    saved_input_tokens: int = 0
    saved_output_tokens: int = 0
    saved_usd: float = 0.0

    @property
    def is_error(self) -> bool:
        """A call that failed at the provider or its output (not a fallback by design or budget)."""
        return self.error_kind is not None and self.error_kind not in NOT_ERRORS


@dataclass
class Usage:
    """Running sums of one group of ledger rows."""

    latency: Reservoir
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    saved_input_tokens: int = 0
    saved_output_tokens: int = 0
    saved_usd: float = 0.0
    cost_usd: float = 0.0
    cached: int = 0
    fallbacks: int = 0
    errors: int = 0
    features: set[str] = field(default_factory=set)

    def add(self, row: LedgerRow) -> None:
        """Count one call."""
        self.requests += 1
        self.input_tokens += row.input_tokens or 0
        self.output_tokens += row.output_tokens or 0
        self.cached_tokens += row.cached_tokens or 0
        self.cache_write_tokens += row.cache_write_tokens or 0
        self.saved_input_tokens += row.saved_input_tokens or 0
        self.saved_output_tokens += row.saved_output_tokens or 0
        self.saved_usd += row.saved_usd or 0.0
        self.cost_usd += row.cost_usd or 0.0
        self.cached += int(bool(row.cached))
        self.fallbacks += int(bool(row.fallback_used))
        self.errors += int(row.is_error)
        self.latency.add(row.latency_ms or 0.0)
        self.features.add(row.feature)

    def to_dict(self) -> dict[str, Any]:
        """JSON figures: counts, tokens, cost, latency percentiles and rates (shares of `requests`)."""
        n = self.requests
        return {
            "requests": n,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "saved_input_tokens": self.saved_input_tokens,
            "saved_output_tokens": self.saved_output_tokens,
            "saved_usd": round(self.saved_usd, 8),
            "cost_usd": round(self.cost_usd, 8),
            "latency_ms": self.latency.percentiles(),
            "latency_sampled": self.latency.seen > self.latency.cap,
            "cached": self.cached,
            "fallbacks": self.fallbacks,
            "errors": self.errors,
            "cache_hit_rate": _rate(self.cached, n),
            "fallback_rate": _rate(self.fallbacks, n),
            "error_rate": _rate(self.errors, n),
        }


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


class Aggregator:
    """Groups rows by a key function; a seeded RNG keeps sampled percentiles repeatable."""

    def __init__(self, sample_cap: int) -> None:
        self.sample_cap = sample_cap
        self._rng = random.Random(0)
        self.total = self.new()
        self.groups: dict[Hashable, Usage] = {}

    def new(self) -> Usage:
        """An empty group."""
        return Usage(Reservoir(self.sample_cap, self._rng))

    def add(self, key: Hashable, row: LedgerRow) -> None:
        """Count the row in its group and in the total."""
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = self.new()
        group.add(row)
        self.total.add(row)


def ledger_rows(session: Session, window: Window) -> Iterator[LedgerRow]:
    """The window's rows, streamed in batches (no ORM objects)."""
    query = (
        select(
            LLMRequest.created_at,
            LLMRequest.feature,
            LLMRequest.model,
            LLMRequest.tier,
            LLMRequest.user_id,
            LLMRequest.prompt_name,
            LLMRequest.prompt_version,
            LLMRequest.prompt_variant,
            LLMRequest.input_tokens,
            LLMRequest.output_tokens,
            LLMRequest.cached_tokens,
            LLMRequest.cost_usd,
            LLMRequest.latency_ms,
            LLMRequest.status,
            LLMRequest.cached,
            LLMRequest.fallback_used,
            LLMRequest.error_kind,
            LLMRequest.cache_write_tokens,
            LLMRequest.saved_input_tokens,
            LLMRequest.saved_output_tokens,
            LLMRequest.saved_usd,
        )
        .where(LLMRequest.created_at >= window.start, LLMRequest.created_at < window.end)
        .execution_options(yield_per=BATCH_ROWS)
    )
    for values in session.execute(query):
        yield LedgerRow(*values)  # type: ignore[call-arg]


def _key(row: LedgerRow, group_by: str) -> Hashable:
    if group_by == "day":
        return row.created_at.astimezone(UTC).date().isoformat()
    if group_by == "user":
        return row.user_id
    value: Hashable = getattr(row, group_by)
    return value


def usage(session: Session, window: Window, group_by: str, daily_budget_usd: float, sample_cap: int) -> dict[str, Any]:
    """Totals and groups of the window; `day` groups cover every day and carry spend vs the daily budget."""
    if group_by not in GROUP_BYS:
        raise ValidationFailed(
            f"group_by must be one of {', '.join(GROUP_BYS)}",
            details=[{"field": "group_by", "reason": f"unknown grouping {group_by!r}"}],
        )
    agg = Aggregator(sample_cap)
    if group_by == "day":
        for day in window.days():
            agg.groups[day.isoformat()] = agg.new()
    for row in ledger_rows(session, window):
        agg.add(_key(row, group_by), row)
    labels = _user_labels(session, agg.groups) if group_by == "user" else {}
    groups = []
    for key, figures in agg.groups.items():
        entry = {"key": key, "label": labels.get(key, key if key is not None else "(none)"), **figures.to_dict()}
        if group_by == "day":
            entry["budget_usd"] = daily_budget_usd
            entry["budget_used_pct"] = _pct(figures.cost_usd, daily_budget_usd)
        groups.append(entry)
    if group_by != "day":
        groups.sort(key=lambda g: (-g["cost_usd"], -g["requests"], str(g["key"])))
    return {**window.to_dict(), "group_by": group_by, "totals": agg.total.to_dict(), "groups": groups}


def _pct(value: float, whole: float) -> float | None:
    return round(100.0 * value / whole, 2) if whole > 0 else None


def _user_labels(session: Session, groups: Iterable[Hashable]) -> dict[Hashable, str]:
    ids = [key for key in groups if isinstance(key, int)]
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(ids))).all()
    return {row.id: row.email for row in rows}


def prompt_usage(session: Session, window: Window, sample_cap: int) -> dict[tuple[Any, ...], Usage]:
    """Usage per (prompt name, version, variant) in the window."""
    agg = Aggregator(sample_cap)
    for row in ledger_rows(session, window):
        agg.add((row.prompt_name, row.prompt_version, row.variant), row)
    return {key: value for key, value in agg.groups.items() if isinstance(key, tuple)}


def ledger_spend(session: Session, start: datetime, end: datetime) -> float:
    """Settled cost of the ledger rows in [start, end)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LLMRequest.cost_usd), 0.0)).where(
            LLMRequest.created_at >= start, LLMRequest.created_at < end
        )
    )
    return float(total or 0.0)


@dataclass(frozen=True, slots=True)
class RecentRates:
    """Error and fallback shares of the recent calls that had a provider to call."""

    calls: int
    errors: int
    fallbacks: int

    @property
    def error_rate(self) -> float:
        """Errors / calls."""
        return _rate(self.errors, self.calls)

    @property
    def fallback_rate(self) -> float:
        """Fallbacks / calls."""
        return _rate(self.fallbacks, self.calls)


def recent_rates(session: Session, since: datetime) -> RecentRates:
    """One SQL aggregate over the rows since `since`, leaving out 'no provider' fallbacks (a configuration)."""
    is_error = LLMRequest.error_kind.is_not(None) & LLMRequest.error_kind.not_in(NOT_ERRORS)
    calls, errors, fallbacks = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((is_error, 1), else_=0)), 0),
            func.coalesce(func.sum(case((LLMRequest.fallback_used.is_(True), 1), else_=0)), 0),
        ).where(
            LLMRequest.created_at >= since,
            (LLMRequest.error_kind.is_(None)) | (LLMRequest.error_kind != "no_provider"),
        )
    ).one()
    return RecentRates(int(calls), int(errors), int(fallbacks))


def recent_error_kinds(session: Session, since: datetime) -> list[dict[str, Any]]:
    """Why fallbacks answered since `since`: count and last time per error kind, most frequent first."""
    rows = session.execute(
        select(LLMRequest.error_kind, func.count(), func.max(LLMRequest.created_at))
        .where(LLMRequest.created_at >= since, LLMRequest.error_kind.is_not(None))
        .group_by(LLMRequest.error_kind)
    ).all()
    out = [
        {"error_kind": kind, "count": int(count), "last_seen": _iso(last), "is_error": kind not in NOT_ERRORS}
        for kind, count, last in rows
    ]
    return sorted(out, key=lambda r: (-r["count"], r["error_kind"]))


def recent_calls_by_provider(session: Session, since: datetime) -> list[dict[str, Any]]:
    """Calls per provider and status since `since` (fallback rows name no provider)."""
    rows = session.execute(
        select(LLMRequest.provider, LLMRequest.status, func.count())
        .where(LLMRequest.created_at >= since)
        .group_by(LLMRequest.provider, LLMRequest.status)
    ).all()
    return sorted(
        ({"provider": p, "status": s, "count": int(c)} for p, s, c in rows),
        key=lambda r: (str(r["provider"]), r["status"]),
    )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()
    return str(value)
