"""Devices (their planogram versions and visit sheets), route sheets, products, CSV imports, the demo fleet."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field

from blueprints._forms import ImportQuery, uploads
from blueprints._openapi import api_doc
from blueprints._web import api_user, parse_json, parse_query, roles_required
from extensions import db
from services import catalog, demo_fleet
from services.imports import run_import, templates
from services.merchandising import versions
from services.merchandising import visit_sheets as visit_sheet

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


@bp.post("/imports")
@api_doc(upload=True, query=ImportQuery)
@roles_required("merchandiser")
def import_files() -> tuple[Response, int]:
    report = run_import(uploads(), mode=parse_query(ImportQuery).mode)
    db.session.commit()
    return jsonify(report.as_dict()), 200


@bp.get("/imports/templates/<name>")
@api_doc()
def import_template(name: str) -> Response:
    """A CSV template with every column of one import file and example rows (e.g. products.csv)."""
    return Response(
        templates.template_csv(name),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


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
