"""Devices, products and planograms (read API), CSV imports and removing the demo fleet."""

from __future__ import annotations

from typing import IO, Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from blueprints._openapi import api_doc
from blueprints._web import api_user, parse_json, parse_query, roles_required
from extensions import db
from services import catalog, demo_fleet, planogram_jobs, visit_sheet
from services import planogram_versions as versions
from services.errors import ValidationFailed
from services.imports import run_import, templates, validate_import

bp = Blueprint("catalog", __name__, url_prefix="/api")


class SlotValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64)
    capacity: int | None = Field(default=None, ge=1, le=500)


class SaveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_version: int = Field(ge=0, description="the version the editor loaded; a stale one is a 409")
    slots: dict[str, str | SlotValue | None]
    note: str | None = Field(default=None, max_length=500)
    source: Literal["editor", "optimizer"] = "editor"


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    base_version: int = Field(ge=0)


class DiffQuery(BaseModel):
    from_version: int = Field(alias="from", ge=1)
    to_version: int = Field(alias="to", ge=1)


class ProductQuery(BaseModel):
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)
    category: str | None = Field(default=None, max_length=100)
    q: str | None = Field(default=None, max_length=100)


@bp.get("/devices")
@api_doc()
def devices() -> Response:
    return jsonify({"items": catalog.list_devices()})


@bp.get("/devices/<device_id>")
@api_doc()
def device(device_id: str) -> Response:
    return jsonify(catalog.device_detail(catalog.get_device(device_id)))


@bp.get("/devices/<device_id>/planogram")
@api_doc()
def planogram(device_id: str) -> Response:
    return jsonify(catalog.planogram_detail(catalog.get_device(device_id)))


@bp.post("/devices/<device_id>/planogram")
@api_doc(body=SaveBody, status=201)
@roles_required("merchandiser")
def save_planogram(device_id: str) -> tuple[Response, int]:
    body = parse_json(SaveBody)
    slots = {k: v.model_dump() if isinstance(v, SlotValue) else v for k, v in body.slots.items()}
    saved = versions.save(device_id, slots, body.base_version, api_user().id, body.source, body.note)
    db.session.commit()
    return jsonify(saved), 201


@bp.get("/devices/<device_id>/planogram/versions")
@api_doc()
def planogram_versions(device_id: str) -> Response:
    return jsonify({"device_id": device_id, "items": versions.list_versions(device_id)})


@bp.get("/devices/<device_id>/planogram/versions/<int:number>")
@api_doc()
def planogram_version(device_id: str, number: int) -> Response:
    return jsonify(versions.show_version(device_id, number))


@bp.get("/devices/<device_id>/planogram/diff")
@api_doc(query=DiffQuery)
def planogram_diff(device_id: str) -> Response:
    query = parse_query(DiffQuery)
    return jsonify(versions.diff_versions(device_id, query.from_version, query.to_version))


@bp.post("/devices/<device_id>/planogram/rollback")
@api_doc(body=RollbackBody, status=201)
@roles_required("merchandiser")
def planogram_rollback(device_id: str) -> tuple[Response, int]:
    body = parse_json(RollbackBody)
    saved = versions.rollback(device_id, body.version, body.base_version, api_user().id)
    db.session.commit()
    return jsonify(saved), 201


JobState = Literal["queued", "running", "finished", "failed", "cancelled"]


class JobProgress(BaseModel):
    completed: int
    total: int


class JobOut(BaseModel):
    """A fleet batch: kept JOB_RESULT_TTL_SECONDS after its last event (404 after)."""

    job_id: str
    kind: str
    status: JobState
    progress: JobProgress
    objective: str
    results: list[dict[str, Any]] = Field(description="one per device done, in the batch's order")


class JobCancelOut(BaseModel):
    """Queued shares of the batch are dropped at once; running ones stop after the device in hand."""

    job_id: str
    cancel_requested: bool
    parts_cancelled: int = Field(description="worker jobs dropped from the queue (they will not run)")
    parts_stopping: int = Field(description="running worker jobs asked to stop after their current device")
    status: JobState


@bp.get("/jobs/<job_id>")
@api_doc(response=JobOut)
def job(job_id: str) -> Response:
    user = api_user()
    return jsonify(planogram_jobs.job_status(job_id, user.id, user.role == "admin"))


@bp.delete("/jobs/<job_id>")
@api_doc(response=JobCancelOut)
def cancel_job(job_id: str) -> Response:
    user = api_user()
    return jsonify(planogram_jobs.cancel(job_id, user.id, user.role == "admin"))


class SheetQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=1, description="saved version (default: the active one)")
    job: str | None = Field(default=None, min_length=1, max_length=64, description="fleet batch job")


class RouteQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    devices: str = Field(min_length=1, max_length=4000, description="comma-separated device ids")
    job: str | None = Field(default=None, min_length=1, max_length=64)


@bp.get("/devices/<device_id>/visit-sheet")
@api_doc(query=SheetQuery)
def device_visit_sheet(device_id: str) -> Response:
    """The visit sheet as JSON: slot steps and units to load (the page and CSV show the same)."""
    query, user = parse_query(SheetQuery), api_user()
    source = visit_sheet.Source(version=query.version, job_id=query.job, user_id=user.id, is_admin=user.role == "admin")
    return jsonify(visit_sheet.device_sheet(device_id, source))


@bp.get("/route")
@api_doc(query=RouteQuery)
def route_sheet() -> Response:
    """A route day's visit sheets and its pick list as JSON."""
    query, user = parse_query(RouteQuery), api_user()
    ids = [d.strip() for d in query.devices.split(",") if d.strip()]
    return jsonify(visit_sheet.route_sheet(ids, query.job, user.id, user.role == "admin"))


@bp.get("/products")
@api_doc(query=ProductQuery)
def products() -> Response:
    query = parse_query(ProductQuery)
    return jsonify(catalog.list_products(query.page, query.per_page, query.category, query.q))


@bp.get("/products/categories")
@api_doc()
def categories() -> Response:
    return jsonify({"items": catalog.categories()})


def _uploads() -> dict[str, IO[bytes]]:
    uploads = {f.filename.rsplit("/", 1)[-1]: f.stream for f in request.files.values() if f.filename}
    if not uploads:
        raise ValidationFailed(
            "Send the CSV files as multipart/form-data (any field name; file names decide the type)",
            details=[{"field": "files", "reason": "no file uploaded"}],
        )
    return uploads


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["all_or_nothing", "valid_rows"] = Field(
        default="all_or_nothing",
        description="all_or_nothing: one bad row and nothing changes; valid_rows: import the valid rows (in one "
                    "transaction) and report every rejected row")


@bp.post("/imports")
@api_doc(upload=True, query=ImportQuery)
@roles_required("merchandiser")
def import_files() -> tuple[Response, int]:
    report = run_import(_uploads(), mode=parse_query(ImportQuery).mode)
    db.session.commit()
    return jsonify(report.as_dict()), 200


@bp.post("/planogram/validate-data")
@api_doc(upload=True, query=ImportQuery)
@roles_required("merchandiser")
def validate_data() -> Response:
    """The SPEC's dry-run import: the same per-row report, nothing changed."""
    report = validate_import(_uploads(), mode=parse_query(ImportQuery).mode)
    return jsonify({"valid": report.ok, **report.as_dict()})


@bp.get("/imports/templates/<name>")
@api_doc()
def import_template(name: str) -> Response:
    """A CSV template with every column of one import file and example rows (e.g. products.csv)."""
    return Response(templates.template_csv(name), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/admin/demo")
@api_doc()
@roles_required("admin")
def demo_presence() -> Response:
    return jsonify(demo_fleet.presence().as_dict())


@bp.delete("/admin/demo")
@api_doc()
@roles_required("admin")
def remove_demo() -> Response:
    """Delete the demo fleet (one transaction, idempotent); the operator's data stays."""
    removal = demo_fleet.remove_demo_fleet(current_app.instance_path)
    db.session.commit()
    return jsonify(removal.as_dict())
