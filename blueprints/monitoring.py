"""Health endpoints (usage, cost and cache dashboards arrive with the monitoring issue)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from blueprints._web import public
from services.health import readiness

bp = Blueprint("monitoring", __name__)


@bp.get("/healthz")
@public
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@public
def readyz() -> tuple[Response, int]:
    ready, checks = readiness()
    return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), 200 if ready else 503
