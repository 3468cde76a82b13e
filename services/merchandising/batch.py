"""Fleet batch optimisation as a background job (RQ with Redis, threads without) with progress events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from services.errors import AppError, Forbidden, NotFound
from services.merchandising import analysis
from services.runtime import backends

log = logging.getLogger("planogram.jobs")
# Per-device solver limit in fleet batches: the MILP usually proves its optimum well before this.
RESULT_FIELDS = ("objective", "current_objective", "uplift_per_day", "uplift_pct", "revenue_per_day",
                 "margin_per_day", "current_revenue_per_day", "current_margin_per_day", "optimal", "slots_changed",
                 "planogram")


def _stream(job_id: str) -> str:
    return f"job:{job_id}"


def start_batch(device_ids: Sequence[str], objective: str, user_id: int, parts: int) -> str:
    """Queue a batch optimisation split over ``parts`` worker jobs; events are readable at once."""
    job_id = uuid.uuid4().hex
    ids = list(device_ids)
    parts = max(1, min(parts, len(ids)))
    backends().events.publish(_stream(job_id), "started", {
        "kind": "batch_optimize", "objective": objective, "device_ids": ids,
        "total": len(ids), "user_id": user_id, "parts": parts,
    })
    for part in range(parts):
        chunk = [(i, d) for i, d in enumerate(ids) if i % parts == part]
        backends().jobs.submit("services.merchandising.batch.run_batch", job_id, chunk, objective,
                               job_id=f"{job_id}-{part}")
    return job_id


def run_batch(job_id: str, devices: list[tuple[int, str]], objective: str) -> None:
    """One worker's share: optimise each device, publishing one progress event per device."""
    events, jobs = backends().events, backends().jobs
    stream = _stream(job_id)
    for index, device_id in devices:
        if jobs.is_cancelled(job_id):
            events.publish(stream, "cancelled", {"at_index": index})
            return
        try:
            result = analysis.optimise(device_id, objective, None)
            item = {"ok": True, "result": {k: result[k] for k in RESULT_FIELDS if k in result}}
        except AppError as exc:  # one bad device must not stop the fleet
            item = {"ok": False, "error": exc.message}
        except Exception as exc:
            log.exception("batch device failed", extra={"job_id": job_id, "device_id": device_id})
            item = {"ok": False, "error": f"internal error ({type(exc).__name__})"}
        events.publish(stream, "progress", {"index": index, "device_id": device_id, **item})


def job_status(job_id: str, user_id: int, is_admin: bool) -> dict[str, Any]:
    """Status, progress and per-device results of a job (its owner or an admin only)."""
    events = backends().events.read(_stream(job_id), None, count=100_000)
    if not events or events[0].type != "started":
        raise NotFound(f"Job '{job_id}' not found", details={"job_id": job_id})
    started = events[0].data
    if started["user_id"] != user_id and not is_admin:
        raise Forbidden("This job belongs to another user")
    results = sorted((e.data for e in events if e.type == "progress"), key=lambda r: r["index"])
    parts = [backends().jobs.status(f"{job_id}-{p}") for p in range(started.get("parts", 1))]
    if len(results) == started["total"]:
        status = "finished"
    elif any(e.type == "cancelled" for e in events):
        status = "cancelled"
    elif "failed" in parts:  # the runner knows about crashes; events alone cannot tell slow from dead
        status = "failed"
    else:
        status = "queued" if all(p == "queued" for p in parts) else "running"
    return {
        "job_id": job_id,
        "kind": started["kind"],
        "status": status,
        "progress": {"completed": len(results), "total": started["total"]},
        "objective": started["objective"],
        "results": results,
    }


def cancel(job_id: str, user_id: int, is_admin: bool) -> dict[str, Any]:
    """Ask a job to stop after the device in hand."""
    job_status(job_id, user_id, is_admin)  # existence and ownership
    backends().jobs.cancel(job_id)
    return {"job_id": job_id, "cancel_requested": True}
