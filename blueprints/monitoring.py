"""Health, Prometheus and the admin monitoring API under /api/monitoring (prompts A/B, providers, alerts); pages nested.

The AI usage and cache reports live under /api/planogram, so the planogram blueprint serves them.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from blueprints._forms import WindowQuery
from blueprints._openapi import api_doc
from blueprints._web import parse_query, public, roles_required
from blueprints.monitoring_pages import bp as pages_bp
from services.health import readiness, readiness_body
from services.metrics import may_read_metrics, metrics
from services.monitoring import reports

bp = Blueprint("monitoring", __name__)
bp.register_blueprint(pages_bp)


class ProvidersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)


@bp.get("/healthz")
@public
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@public
def readyz() -> tuple[Response, int]:
    ready, checks = readiness()
    detailed = may_read_metrics(current_app, request.headers.get("Authorization", ""), g.get("user"))
    return jsonify(readiness_body(ready, checks, detailed)), 200 if ready else 503


@bp.get("/metrics")
@public  # not under /api; readable by admins or with METRICS_TOKEN (checked here)
def prometheus_metrics() -> Response:
    if not may_read_metrics(current_app, request.headers.get("Authorization", ""), g.get("user")):
        return Response(
            "metrics: admin session or METRICS_TOKEN bearer required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body, content_type = metrics(current_app).exposition()
    return Response(body, content_type=content_type)


@bp.get("/api/monitoring/prompts")
@api_doc(query=WindowQuery)
@roles_required("admin")
def prompts() -> Response:
    query = parse_query(WindowQuery)
    return jsonify(reports.prompt_report(query.from_, query.to))


@bp.get("/api/monitoring/providers")
@api_doc(query=ProvidersQuery)
@roles_required("admin")
def providers() -> Response:
    return jsonify(reports.provider_report(parse_query(ProvidersQuery).minutes))


@bp.get("/api/monitoring/alerts")
@api_doc()
@roles_required("admin")
def alerts() -> Response:
    return jsonify({"alerts": reports.active_alerts()})
