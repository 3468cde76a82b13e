"""LedgerSink: one row per pipeline call; the app provides the SQL sink, tests use the memory one."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """Everything needed to audit and cost one call (never prompt text, never keys)."""

    request_id: str
    feature: str
    provider: str | None
    model: str | None
    tier: str | None
    prompt_name: str
    prompt_version: int | None
    variant: str | None
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float
    latency_ms: float
    status: str  # ok | cached | fallback
    error_kind: str | None
    cached: bool
    fallback_used: bool
    user_id: str | None
    started_at: datetime
    finished_at: datetime
    attempts: int = 0
    tokens_cache_write: int = 0
    saved_tokens_in: int = 0
    saved_tokens_out: int = 0
    saved_usd: float = 0.0
    batch: bool = False  # through a provider batch API (half price, not interactive)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (datetimes as ISO strings) for JSON or SQL insertion."""
        out = asdict(self)
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat()
        return out


class LedgerSink(Protocol):
    """Where ledger rows go; `record` must not raise for ordinary storage hiccups."""

    def record(self, row: LedgerRecord) -> None:
        """Store one row."""
        ...


class InMemoryLedger:
    """Thread-safe list of rows, with lookup by request id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: list[LedgerRecord] = []

    def record(self, row: LedgerRecord) -> None:
        """Append a row."""
        with self._lock:
            self.rows.append(row)

    def get(self, request_id: str) -> LedgerRecord | None:
        """The row of one request, if recorded."""
        with self._lock:
            return next((r for r in self.rows if r.request_id == request_id), None)


def ledger_row(result: Any, user_id: str | None, started_at: datetime, attempts: int) -> LedgerRecord:
    """The ledger row of a finished LLMResult."""
    return LedgerRecord(
        request_id=result.request_id,
        feature=result.feature,
        provider=result.provider,
        model=result.model,
        tier=result.tier,
        prompt_name=result.prompt_name,
        prompt_version=result.prompt_version,
        variant=result.variant,
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
        tokens_cached=result.tokens_cached,
        cost_usd=result.cost_usd,
        latency_ms=result.latency_ms,
        status=result.status,
        error_kind=result.error_kind,
        cached=result.cached,
        fallback_used=result.fallback_used,
        user_id=user_id,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        attempts=attempts,
        tokens_cache_write=result.tokens_cache_write,
        saved_tokens_in=result.saved_tokens_in,
        saved_tokens_out=result.saved_tokens_out,
        saved_usd=result.saved_usd,
        batch=result.batch,
    )
