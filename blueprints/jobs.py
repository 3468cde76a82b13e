"""Background job API under /api/jobs: a fleet batch's status and cancelling it."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, Field

from blueprints._openapi import api_doc
from blueprints._web import api_user
from services.merchandising import batch

bp = Blueprint("jobs", __name__, url_prefix="/api/jobs")

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


@bp.get("/<job_id>")
@api_doc(response=JobOut)
def job(job_id: str) -> Response:
    user = api_user()
    return jsonify(batch.job_status(job_id, user.id, user.role == "admin"))


@bp.delete("/<job_id>")
@api_doc(response=JobCancelOut)
def cancel_job(job_id: str) -> Response:
    user = api_user()
    return jsonify(batch.cancel(job_id, user.id, user.role == "admin"))
