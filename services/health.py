"""Liveness and readiness checks: database, Redis when configured, migrations, AI provider."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from extensions import db
from services.runtime import backends


def _database() -> dict[str, Any]:
    db.session.execute(text("SELECT 1"))
    return {"status": "ok", "dialect": db.engine.dialect.name}


def _migrations() -> dict[str, Any]:
    migrate_ext = current_app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate_ext.migrate.get_config(migrate_ext.directory))
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    status = "ok" if current == heads else "fail"
    return {"status": status, "current": sorted(current), "head": sorted(heads)}


def _redis() -> dict[str, Any]:
    client = backends().redis
    if client is None:
        return {"status": "ok", "mode": "embedded (in-process stand-ins)"}
    client.ping()
    return {"status": "ok", "mode": "redis"}


def _provider() -> dict[str, Any]:
    provider = current_app.config.get("LLM_PROVIDER")
    if not provider:
        return {"status": "ok", "provider": None, "note": "no AI provider: rule-based fallbacks only"}
    return {"status": "ok", "provider": provider}


def readiness() -> tuple[bool, dict[str, Any]]:
    """Run every check; one failing check makes the app not ready."""
    checks: dict[str, Any] = {}
    for name, check in (("database", _database), ("migrations", _migrations), ("redis", _redis),
                        ("llm_provider", _provider)):
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 (a check that raises is a failed check, reported by kind only)
            checks[name] = {"status": "fail", "error": type(exc).__name__}
    ready = all(c["status"] == "ok" for c in checks.values())
    return ready, checks
