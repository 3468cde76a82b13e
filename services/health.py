"""Liveness and readiness checks: database, migrations, Redis when configured, job workers, AI provider.

Readiness fails (503) only for what stops the app from serving: the database, un-applied migrations, or a
configured Redis that does not answer. No AI provider, or a provider that is failing, is reported but
is not a failure: the product answers with labelled rule-based fallbacks then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import inspect, text

from extensions import db
from services.runtime import backends

VERSION_TABLE = "alembic_version"  # Flask-Migrate's default


def _database() -> dict[str, Any]:
    try:
        db.session.execute(text("SELECT 1"))
    finally:
        db.session.rollback()  # never leave the request's session in a failed transaction
    return {"status": "ok", "dialect": db.engine.dialect.name}


def _migrations() -> dict[str, Any]:
    migrate_ext = current_app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate_ext.migrate.get_config(migrate_ext.directory))
    # Read alembic's version table directly: MigrationContext.configure logs at INFO on every probe.
    with db.engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            current: set[str] = set()
        else:
            query = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 (a constant name)
            current = set(connection.execute(query).scalars())
    heads = set(script.get_heads())
    status = "ok" if current == heads else "fail"
    return {"status": status, "current": sorted(current), "head": sorted(heads)}


def _redis() -> dict[str, Any]:
    client = backends().redis
    if client is None:
        return {"status": "ok", "mode": "embedded (in-process stand-ins)"}
    client.ping()
    return {"status": "ok", "mode": "redis"}


def _workers() -> dict[str, Any]:
    """RQ workers serving the job queue (Redis mode); none is worth saying, jobs then wait in the queue."""
    client = backends().redis
    if client is None:
        return {"status": "ok", "mode": "in-process threads"}
    from rq import Worker

    count = Worker.count(connection=client)
    out: dict[str, Any] = {"status": "ok", "mode": "rq", "workers": count}
    if not count:
        out["note"] = "no `flask rq-worker` running: background jobs wait in the queue"
    return out


def _provider() -> dict[str, Any]:
    provider = current_app.config.get("LLM_PROVIDER")
    if not provider:
        return {"status": "ok", "provider": None, "note": "no AI provider: rule-based fallbacks only"}
    return {"status": "ok", "provider": provider}


def _llm_cache() -> dict[str, Any]:
    """Which cache lookups run (exact only, or exact + similarity with which embedder); never a failure."""
    from services.ai import pipeline  # here: health is imported before the pipeline exists

    return {"status": "ok", **pipeline().cache.similarity()}


CHECKS: tuple[tuple[str, Callable[[], dict[str, Any]]], ...] = (
    ("database", _database),
    ("migrations", _migrations),
    ("redis", _redis),
    ("workers", _workers),
    ("llm_provider", _provider),
    ("llm_cache", _llm_cache),
)


def readiness() -> tuple[bool, dict[str, Any]]:
    """Run every check (each timed); one failing check makes the app not ready."""
    checks: dict[str, Any] = {}
    for name, check in CHECKS:
        started = time.perf_counter()
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 (a check that raises is a failed check, reported by kind only)
            checks[name] = {"status": "fail", "error": type(exc).__name__}
        checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 2)
    ready = all(c["status"] == "ok" for c in checks.values())
    return ready, checks


def readiness_body(ready: bool, checks: dict[str, Any], detailed: bool) -> dict[str, Any]:
    """The /readyz answer: status and the failing checks' names for anyone; the checks' details (dialect,
    migration revisions, provider, timings, error kinds) only for admins and the metrics scraper."""
    failing = sorted(name for name, check in checks.items() if check["status"] != "ok")
    shown = checks if detailed else {name: {"status": check["status"]} for name, check in checks.items()}
    return {"status": "ready" if ready else "not_ready", "failing": failing, "checks": shown}
