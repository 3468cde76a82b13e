"""The planogram API, all of /api/planogram: analysis, optimisation (direct, batch, streamed), AI feedback and
prompt tests, the AI usage and cache reports, the dry-run import. Parse (pydantic), one service call, respond.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from blueprints._forms import ImportQuery, WindowQuery, uploads
from blueprints._openapi import api_doc
from blueprints._web import api_user, parse_json, parse_query, roles_required
from extensions import db
from services import ai, sse
from services.catalog import list_devices
from services.errors import ValidationFailed
from services.imports import validate_import
from services.merchandising import analysis, feedback
from services.merchandising import backtest as backtest_service
from services.merchandising import batch as jobs
from services.merchandising import stream as optimization_stream
from services.merchandising import warmup as model_warmup
from services.monitoring import reports

bp = Blueprint("planogram", __name__, url_prefix="/api/planogram")
log = logging.getLogger("planogram.monitoring")

SlotMap = dict[str, str | None]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


FacingsMap = dict[str, Annotated[int, Field(ge=0, le=1000)]]
MAX_CHANGED = Field(
    default=None,
    ge=0,
    le=10_000,
    description="change budget: at most this many slots may differ from the current planogram (a "
    "visit's budget); omit for the configured default (OPTIMIZER_MAX_CHANGED_SLOTS), "
    "null for no limit",
)


class ConstraintsIn(Body):
    must_stock: list[str] = Field(default_factory=list, max_length=500)
    locked_slots: list[str] = Field(default_factory=list, max_length=500)
    min_facings: FacingsMap = Field(default_factory=dict)
    max_facings: FacingsMap = Field(default_factory=dict)
    max_changed_slots: int | None = MAX_CHANGED
    max_new_skus: int | None = Field(
        default=None,
        ge=0,
        le=500,
        description="skus not in the current planogram the result may introduce; omit for the configured "
        "default (OPTIMIZER_MAX_NEW_SKUS), null for no limit",
    )


class DeviceBody(Body):
    device_id: str = Field(min_length=1, max_length=64, examples=["DEMO-GYM-01"])


class ScoreBody(DeviceBody):
    sku: str = Field(min_length=1, max_length=64, examples=["DEMO-COLA-330"])
    slot: str = Field(min_length=2, max_length=4, examples=["A1"])
    planogram: SlotMap | None = None


class ValidateBody(DeviceBody):
    planogram: SlotMap | None = None
    constraints: ConstraintsIn | None = None


class PredictBody(DeviceBody):
    planogram: SlotMap
    level: float = Field(default=0.9, gt=0.5, lt=1.0)


class HeatBody(DeviceBody):
    level: float = Field(default=0.9, gt=0.5, lt=1.0)


class AffinityBody(Body):
    device_id: str | None = Field(default=None, max_length=64, description="omit for the whole fleet")
    min_count: int = Field(default=5, ge=2, le=10_000)
    min_lift: float = Field(default=1.5, ge=1.0, le=100.0)


class ForecastBody(DeviceBody):
    horizon_days: int = Field(default=14, ge=1, le=90)


class PersonalizeBody(DeviceBody):
    max_changes: int = Field(default=5, ge=1, le=50)


class OptimizeBody(DeviceBody):
    objective: Literal["margin", "revenue"] = "margin"
    locked_slots: list[str] = Field(default_factory=list, max_length=500)
    must_stock: list[str] = Field(default_factory=list, max_length=500)
    min_facings: FacingsMap = Field(default_factory=dict)
    max_facings: FacingsMap = Field(default_factory=dict)
    max_changed_slots: int | None = MAX_CHANGED
    max_new_skus: int | None = Field(
        default=None,
        ge=0,
        le=500,
        description="skus not in the current planogram the result may introduce; omit for the configured "
        "default (OPTIMIZER_MAX_NEW_SKUS), null for no limit",
    )

    def constraints(self) -> dict[str, object]:
        """The engine constraints of the request; an omitted limit is left out (the configured default)."""
        fields = {"locked_slots", "must_stock", "min_facings", "max_facings"}
        fields |= {"max_new_skus", "max_changed_slots"} & self.model_fields_set
        return self.model_dump(include=fields)


class AnomalyBody(DeviceBody):
    recent_days: int = Field(default=14, ge=3, le=60)


class BacktestBody(Body):
    device_id: str | None = Field(default=None, min_length=1, max_length=64, description="omit for every device")
    holdout_days: int = Field(default=14, ge=7, le=60)


class BatchBody(Body):
    device_ids: list[str] | None = Field(default=None, max_length=200, description="omit for every device")
    objective: Literal["margin", "revenue"] = "margin"


class JobAccepted(BaseModel):
    """A queued batch job and where to follow it."""

    job_id: str
    status_url: str
    total: int


class CancelOut(BaseModel):
    job_id: str
    cancel_requested: bool


def _fleet_ids() -> list[str]:
    return [d["device_id"] for d in list_devices()]


class ModelStatusQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: str = Field(min_length=1, max_length=64)


@bp.get("/model-status")
@api_doc(query=ModelStatusQuery)
def model_status() -> Response:
    """Whether the device's demand model is fitted (the editor shows "fitting…" until it is)."""
    return jsonify(model_warmup.status(parse_query(ModelStatusQuery).device_id))


@bp.post("/realtime-score")
@api_doc(body=ScoreBody)
def realtime_score() -> Response:
    body = parse_json(ScoreBody)
    return jsonify(analysis.realtime_score(body.device_id, body.sku, body.slot.upper(), body.planogram))


@bp.post("/validate-constraints")
@api_doc(body=ValidateBody)
def validate_constraints() -> Response:
    body = parse_json(ValidateBody)
    constraints = body.constraints.model_dump() if body.constraints else None
    return jsonify(analysis.validate_constraints(body.device_id, body.planogram, constraints))


@bp.post("/predict-revenue")
@api_doc(body=PredictBody)
def predict_revenue() -> Response:
    body = parse_json(PredictBody)
    return jsonify(analysis.revenue(body.device_id, body.planogram, body.level))


@bp.post("/heat-zone-analysis")
@api_doc(body=HeatBody)
def heat_zone_analysis() -> Response:
    body = parse_json(HeatBody)
    return jsonify(analysis.heat(body.device_id, body.level))


@bp.post("/affinity-analysis")
@api_doc(body=AffinityBody)
def affinity_analysis() -> Response:
    body = parse_json(AffinityBody)
    ids = [body.device_id] if body.device_id else _fleet_ids()
    return jsonify(analysis.affinity_pairs(ids, body.min_count, body.min_lift))


@bp.post("/demand-forecast")
@api_doc(body=ForecastBody)
def demand_forecast() -> Response:
    body = parse_json(ForecastBody)
    return jsonify(analysis.forecast(body.device_id, body.horizon_days))


@bp.post("/location-personalize")
@api_doc(body=PersonalizeBody)
def location_personalize() -> Response:
    body = parse_json(PersonalizeBody)
    return jsonify(analysis.personalize(body.device_id, _fleet_ids(), body.max_changes))


@bp.post("/anomaly-detection")
@api_doc(body=AnomalyBody)
def anomaly_detection() -> Response:
    body = parse_json(AnomalyBody)
    return jsonify(analysis.anomalies(body.device_id, body.recent_days))


@bp.post("/backtest")
@api_doc(body=BacktestBody)
def backtest() -> Response:
    body = parse_json(BacktestBody)
    return jsonify(backtest_service.backtest(body.device_id, body.holdout_days))


@bp.post("/optimize")
@api_doc(body=OptimizeBody)
@roles_required("merchandiser")
def optimize() -> Response:
    body = parse_json(OptimizeBody)
    return jsonify(analysis.optimise(body.device_id, body.objective, body.constraints()))


@bp.post("/batch-optimize")
@api_doc(body=BatchBody, response=JobAccepted, status=202)
@roles_required("merchandiser")
def batch_optimize() -> tuple[Response, int]:
    body = parse_json(BatchBody)
    ids = body.device_ids if body.device_ids is not None else _fleet_ids()
    known = set(_fleet_ids())
    unknown = [d for d in ids if d not in known]
    if unknown:
        raise ValidationFailed(
            "Unknown devices", details=[{"field": "device_ids", "reason": f"unknown device '{d}'"} for d in unknown]
        )
    job_id = jobs.start_batch(ids, body.objective, api_user().id, current_app.config["BATCH_PARALLELISM"])
    return jsonify({"job_id": job_id, "status_url": f"/api/jobs/{job_id}", "total": len(ids)}), 202


class TestPromptBody(Body):
    prompt_name: str = Field(min_length=1, max_length=100)
    variables: dict[str, Any] = Field(default_factory=dict)
    run: bool = False
    user_id: str | None = Field(default=None, min_length=1, max_length=64, description="A/B unit; default: you")


@bp.post("/test-prompt")
@api_doc(body=TestPromptBody)
@roles_required("admin")
def test_prompt() -> Response:
    body = parse_json(TestPromptBody)
    user_id = body.user_id or str(api_user().id)
    return jsonify(ai.try_prompt(body.prompt_name, body.variables, body.run, user_id))


class StreamOptimizeBody(OptimizeBody):
    """The optimise body: the stream takes the same constraints."""


class EventsQuery(BaseModel):
    last_event_id: str | None = Field(default=None, max_length=64)


def _sse(body: Iterator[str]) -> Response:
    db.session.remove()  # the relay needs no database: give the connection back before a long stream
    return Response(body, mimetype=sse.MIMETYPE, headers=sse.HEADERS)


@bp.post("/stream-optimization")
@api_doc(body=StreamOptimizeBody, stream=True)
@roles_required("merchandiser")
def stream_optimization() -> Response:
    body = parse_json(StreamOptimizeBody)
    limit = body.max_new_skus if "max_new_skus" in body.model_fields_set else optimization_stream.CONFIGURED
    extra = {k: v for k, v in body.constraints().items() if k not in {"locked_slots", "max_new_skus"}}
    return _sse(
        optimization_stream.start_stream(body.device_id, body.objective, body.locked_slots, api_user().id, limit, extra)
    )


@bp.get("/optimizations/<job_id>/events")
@api_doc(query=EventsQuery, stream=True)
def optimization_events(job_id: str) -> Response:
    user = api_user()
    after = request.headers.get("Last-Event-ID") or parse_query(EventsQuery).last_event_id
    return _sse(optimization_stream.follow(job_id, user.id, user.role == "admin", after))


@bp.post("/optimizations/<job_id>/cancel")
@api_doc(response=CancelOut)
def cancel_optimization(job_id: str) -> Response:
    user = api_user()
    return jsonify(optimization_stream.cancel(job_id, user.id, user.role == "admin"))


@bp.post("/placement-feedback")
@api_doc(body=ScoreBody)
def placement_feedback() -> Response:
    body = parse_json(ScoreBody)
    return jsonify(
        feedback.placement_feedback(body.device_id, body.sku, body.slot.upper(), body.planogram, str(api_user().id))
    )


@bp.post("/validate-data")
@api_doc(upload=True, query=ImportQuery)
@roles_required("merchandiser")
def validate_data() -> Response:
    """The SPEC's dry-run import: the same per-row report, nothing changed."""
    report = validate_import(uploads(), mode=parse_query(ImportQuery).mode)
    return jsonify({"valid": report.ok, **report.as_dict()})


class UsageQuery(WindowQuery):
    group_by: Literal["day", "feature", "model", "tier", "user"] = "day"


class ClearCacheBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str | None = Field(default=None, min_length=1, max_length=50)
    tag: str | None = Field(default=None, min_length=1, max_length=200)
    expired_only: bool = False
    all: bool = False


@bp.get("/ai-usage")
@api_doc(query=UsageQuery)
@roles_required("admin")
def ai_usage() -> Response:
    query = parse_query(UsageQuery)
    return jsonify(reports.ai_usage(query.from_, query.to, query.group_by))


@bp.get("/cache-stats")
@api_doc(query=WindowQuery)
@roles_required("admin")
def cache_stats() -> Response:
    query = parse_query(WindowQuery)
    return jsonify(reports.cache_stats(query.from_, query.to))


@bp.post("/clear-cache")
@api_doc(body=ClearCacheBody)
@roles_required("admin")
def clear_cache() -> Response:
    body = parse_json(ClearCacheBody)
    result = reports.clear_cache(body.feature, body.tag, body.expired_only, body.all)
    log.info("cache cleared", extra={**result, "user_id": api_user().id})
    return jsonify(result)
