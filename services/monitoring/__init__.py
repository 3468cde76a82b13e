"""Monitoring for admins: ledger figures, cache, prompts A/B, providers, alerts and Prometheus (docs/MONITORING.md)."""

from __future__ import annotations

from flask import Flask

from services.metrics import init_metrics
from services.monitoring.alerts import AlertMonitor, AlertSettings, MemoryAlertLatch, RedisAlertLatch
from services.monitoring.observers import ALERTS_KEY, ledger_observers
from services.runtime import EXTENSION_KEY as BACKENDS_KEY

__all__ = ["ALERTS_KEY", "init_monitoring", "ledger_observers"]


def init_monitoring(app: Flask) -> None:
    """Metrics and their HTTP hooks, and the alert monitor; after init_runtime, before init_llm (which wires
    `ledger_observers` into the ledger sink)."""
    init_metrics(app)
    redis = app.extensions[BACKENDS_KEY].redis
    latch = RedisAlertLatch(redis) if redis is not None else MemoryAlertLatch()
    app.extensions[ALERTS_KEY] = AlertMonitor(AlertSettings.from_config(app.config), latch)
