"""Fleet view API: per-machine figures and the optimiser's opportunity (computed in the background)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from blueprints._openapi import api_doc
from services import fleet

bp = Blueprint("fleet", __name__, url_prefix="/api")


@bp.get("/fleet")
@api_doc()
def overview() -> Response:
    return jsonify(fleet.overview())
