"""Background job API under /api/jobs: a fleet batch's status and cancelling it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from blueprints._openapi import api_doc
from blueprints._web import api_user
from services.merchandising import batch

bp = Blueprint("jobs", __name__, url_prefix="/api/jobs")


@bp.get("/<job_id>")
@api_doc()
def job(job_id: str) -> Response:
    user = api_user()
    return jsonify(batch.job_status(job_id, user.id, user.role == "admin"))


@bp.delete("/<job_id>")
@api_doc()
def cancel_job(job_id: str) -> Response:
    user = api_user()
    return jsonify(batch.cancel(job_id, user.id, user.role == "admin"))
