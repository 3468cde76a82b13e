"""What happens after every ledger row: a structured log line, Prometheus counters, a throttled alert check."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.ledger import app_engine
from services.llm import LedgerRecord
from services.metrics import EXTENSION_KEY as METRICS_KEY
from services.metrics import PIPELINE_KEY
from services.monitoring.alerts import AlertMonitor

ALERTS_KEY = "planogram.alerts"
log = logging.getLogger("planogram.llm")
Observer = Callable[[LedgerRecord], None]


def log_llm_call(row: LedgerRecord) -> None:
    """One INFO line per call: what was called, what it cost, how it ended (never prompt text or user data)."""
    log.info(
        "llm call",
        extra={
            "llm_request_id": row.request_id,
            "feature": row.feature,
            "prompt": row.prompt_name,
            "prompt_version": row.prompt_version,
            "variant": row.variant,
            "provider": row.provider,
            "model": row.model,
            "tier": row.tier,
            "tokens_in": row.tokens_in,
            "tokens_out": row.tokens_out,
            "tokens_cached": row.tokens_cached,
            "saved_tokens": row.saved_tokens_in + row.saved_tokens_out,
            "cost_usd": round(row.cost_usd, 8),
            "latency_ms": round(row.latency_ms, 3),
            "status": row.status,
            "error_kind": row.error_kind,
            "attempts": row.attempts,
        },
    )


class AlertCheck:
    """After a call, at most every ALERT_CHECK_SECONDS per process: evaluate alerts on a short own Session
    (job threads have no app context; the request's session must not be touched)."""

    def __init__(self, app: Flask, monitor: AlertMonitor) -> None:
        self._app = app
        self._monitor = monitor
        self._engine: Engine | None = None

    def __call__(self, _row: LedgerRecord) -> None:
        if not self._monitor.due():
            return
        if self._engine is None:
            self._engine = app_engine(self._app)
        with Session(self._engine) as session:
            self._monitor.evaluate(session, self._app.extensions.get(PIPELINE_KEY))


def ledger_observers(app: Flask) -> list[Observer]:
    """The log line always; metrics and alert checks when init_monitoring ran."""
    observers: list[Observer] = [log_llm_call]
    metrics = app.extensions.get(METRICS_KEY)
    if metrics is not None:
        observers.append(metrics.observe_llm)
    monitor = app.extensions.get(ALERTS_KEY)
    if monitor is not None:
        observers.append(AlertCheck(app, monitor))
    return observers
