"""Devices, products and planograms (read API) and CSV imports."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, Field

from blueprints._web import parse_query, roles_required
from extensions import db
from services import catalog
from services.errors import ValidationFailed
from services.imports import run_import

bp = Blueprint("catalog", __name__, url_prefix="/api")


class ProductQuery(BaseModel):
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)
    category: str | None = Field(default=None, max_length=100)
    q: str | None = Field(default=None, max_length=100)


@bp.get("/devices")
def devices() -> Response:
    return jsonify({"items": catalog.list_devices()})


@bp.get("/devices/<device_id>")
def device(device_id: str) -> Response:
    return jsonify(catalog.device_detail(catalog.get_device(device_id)))


@bp.get("/devices/<device_id>/planogram")
def planogram(device_id: str) -> Response:
    return jsonify(catalog.planogram_detail(catalog.get_device(device_id)))


@bp.get("/products")
def products() -> Response:
    query = parse_query(ProductQuery)
    return jsonify(catalog.list_products(query.page, query.per_page, query.category, query.q))


@bp.get("/products/categories")
def categories() -> Response:
    return jsonify({"items": catalog.categories()})


@bp.post("/imports")
@roles_required("merchandiser")
def import_files() -> tuple[Response, int]:
    uploads = {f.filename.rsplit("/", 1)[-1]: f.stream for f in request.files.values() if f.filename}
    if not uploads:
        raise ValidationFailed(
            "Send the CSV files as multipart/form-data (any field name; file names decide the type)",
            details=[{"field": "files", "reason": "no file uploaded"}],
        )
    report = run_import(uploads)
    db.session.commit()
    return jsonify(report.as_dict()), 200
