"""The LLM request ledger in SQL: the pipeline's LedgerSink, and lookups for the API."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from extensions import db
from models import LLMRequest
from services.llm import LedgerRecord, LedgerSink

log = logging.getLogger(__name__)


def app_engine(app: Flask) -> Engine:
    """The app's engine, resolved without needing the caller to hold an app context."""
    with app.app_context():
        return db.engine


def ledger_user_id(user_id: str | None) -> int | None:
    """Ledger user ids are strings in the pipeline; the table links numeric ones to users."""
    return int(user_id) if user_id is not None and user_id.isdigit() else None


class SqlLedgerSink:
    """Writes one LLMRequest row per call in its own short transaction; a row that cannot be written now is
    kept and written later.

    A separate Session on the engine (not the request's db.session) means the row is committed even
    when the request that made the call rolls back, and that job threads without an app context can
    record too. The engine is resolved lazily so create_app never touches the database. The request's own
    connection is released before the provider call (services/db_session.py), so this session never waits
    for a connection the same request holds. If the database still refuses (pool exhausted, database
    restarting), the row waits in a bounded in-process backlog that the next successful write drains, so
    a transient outage loses no ledger rows (only a process exit with a non-empty backlog would; it is logged).
    """

    def __init__(self, app: Flask, backlog_size: int = 10_000) -> None:
        self._app = app
        self._engine: Engine | None = None
        self._backlog: deque[LedgerRecord] = deque(maxlen=backlog_size)
        self._lock = threading.Lock()

    @property
    def backlog(self) -> int:
        """Rows waiting to be written."""
        return len(self._backlog)

    def record(self, row: LedgerRecord) -> None:
        """Write the row (then any backlog); on a database error keep it for the next successful write."""
        try:
            self._write(row)
        except IntegrityError:
            log.exception("ledger row %s cannot be stored", row.request_id)  # retrying would not help
            return
        except SQLAlchemyError:
            with self._lock:
                if len(self._backlog) == self._backlog.maxlen:
                    log.error("ledger backlog full: dropping the oldest row %s", self._backlog[0].request_id)
                self._backlog.append(row)
            log.warning(
                "ledger row %s kept for a retry (%d waiting)", row.request_id, len(self._backlog), exc_info=True
            )
            return
        self.drain()

    def drain(self) -> int:
        """Write waiting rows in order until one fails; return how many were written."""
        written = 0
        while True:
            with self._lock:
                if not self._backlog:
                    return written
                row = self._backlog.popleft()
            try:
                self._write(row)
            except IntegrityError:
                log.exception("ledger row %s cannot be stored", row.request_id)
                continue
            except SQLAlchemyError:
                with self._lock:
                    self._backlog.appendleft(row)
                return written
            written += 1

    def _write(self, row: LedgerRecord) -> None:
        """Insert the row; a user id that names no user is stored as NULL rather than losing the row."""
        user_id = ledger_user_id(row.user_id)
        try:
            self._insert(row, user_id)
        except IntegrityError:
            if self._exists(row.request_id):
                return  # written by an earlier attempt whose commit outcome was unknown
            if user_id is None:
                raise
            log.warning("ledger row %s: user %s does not exist; stored without user", row.request_id, user_id)
            self._insert(row, None)

    def _exists(self, request_id: str) -> bool:
        assert self._engine is not None
        with Session(self._engine) as session:
            return session.get(LLMRequest, request_id) is not None

    def _insert(self, row: LedgerRecord, user_id: int | None) -> None:
        if self._engine is None:
            self._engine = app_engine(self._app)
        with Session(self._engine) as session, session.begin():
            session.add(
                LLMRequest(
                    id=row.request_id,
                    feature=row.feature,
                    provider=row.provider,
                    model=row.model,
                    tier=row.tier,
                    prompt_name=row.prompt_name,
                    prompt_version=row.prompt_version,
                    prompt_variant=row.variant,
                    input_tokens=row.tokens_in,
                    output_tokens=row.tokens_out,
                    cached_tokens=row.tokens_cached,
                    cache_write_tokens=row.tokens_cache_write,
                    saved_input_tokens=row.saved_tokens_in,
                    saved_output_tokens=row.saved_tokens_out,
                    saved_usd=row.saved_usd,
                    cost_usd=row.cost_usd,
                    latency_ms=row.latency_ms,
                    status=row.status,
                    error_kind=row.error_kind,
                    cached=row.cached,
                    fallback_used=row.fallback_used,
                    batch=row.batch,
                    attempts=row.attempts,
                    user_id=user_id,
                    created_at=row.started_at,
                    completed_at=row.finished_at,
                )
            )


class ObservingLedgerSink:
    """A ledger sink that also tells observers (metrics, the LLM log line, alert checks) about every row.

    Observers run even when storing failed (the call happened and cost money); an observer that raises is
    logged and never reaches the pipeline.
    """

    def __init__(self, inner: LedgerSink, observers: Sequence[Callable[[LedgerRecord], None]]) -> None:
        self.inner = inner
        self.observers = tuple(observers)

    def record(self, row: LedgerRecord) -> None:
        """Store through the inner sink, then notify."""
        try:
            self.inner.record(row)
        finally:
            for observe in self.observers:
                try:
                    observe(row)
                except (RedisConnectionError, RedisTimeoutError) as exc:  # Redis outage: said once by /readyz
                    log.warning("ledger observer %r skipped: Redis unavailable (%s)", observe, type(exc).__name__)
                except Exception:  # monitoring must never fail the call it watches
                    log.exception("ledger observer %r failed for request %s", observe, row.request_id)


def get_request(request_id: str) -> LLMRequest | None:
    """One ledger row by request id."""
    return db.session.get(LLMRequest, request_id)


def request_dict(row: LLMRequest) -> dict[str, Any]:
    """JSON view of a ledger row, with the pipeline's field names."""
    return {
        "request_id": row.id,
        "feature": row.feature,
        "provider": row.provider,
        "model": row.model,
        "tier": row.tier,
        "prompt_name": row.prompt_name,
        "prompt_version": row.prompt_version,
        "variant": row.prompt_variant,
        "tokens_in": row.input_tokens,
        "tokens_out": row.output_tokens,
        "tokens_cached": row.cached_tokens,
        "tokens_cache_write": row.cache_write_tokens,
        "saved_tokens_in": row.saved_input_tokens,
        "saved_tokens_out": row.saved_output_tokens,
        "saved_usd": row.saved_usd,
        "batch": row.batch,
        "cost_usd": row.cost_usd,
        "latency_ms": row.latency_ms,
        "status": row.status,
        "error_kind": row.error_kind,
        "cached": row.cached,
        "fallback_used": row.fallback_used,
        "attempts": row.attempts,
        "user_id": row.user_id,
        "started_at": row.created_at.isoformat(),
        "finished_at": row.completed_at.isoformat() if row.completed_at else None,
    }
