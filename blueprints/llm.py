"""LLM ledger API under /api/llm: one row per pipeline call, for admins and the user who made it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from blueprints._openapi import api_doc
from blueprints._web import api_user
from services import ledger
from services.errors import NotFound

bp = Blueprint("llm", __name__, url_prefix="/api/llm")


@bp.get("/requests/<request_id>")
@api_doc()
def get_request(request_id: str) -> Response:
    # Someone else's request is a 404, not a 403: request ids are not to be probed.
    user = api_user()
    row = ledger.get_request(request_id)
    if row is None or (user.role != "admin" and row.user_id != user.id):
        raise NotFound(f"No LLM request '{request_id}'", details={"request_id": request_id})
    return jsonify(ledger.request_dict(row))
