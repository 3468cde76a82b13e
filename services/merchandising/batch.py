"""Fleet batch optimisation as a background job (RQ with Redis, threads without) with progress events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from services.errors import AppError, Forbidden, NotFound
from services.jobs import CANCELLED, STOPPING
from services.merchandising import analysis
from services.runtime import backends

log = logging.getLogger("planogram.jobs")
# Per-device solver limit in fleet batches: the MILP usually proves its optimum well before this.
RESULT_FIELDS = (
    "objective",
    "current_objective",
    "uplift_per_day",
    "uplift_pct",
    "revenue_per_day",
    "margin_per_day",
    "current_revenue_per_day",
    "current_margin_per_day",
    "optimal",
    "slots_changed",
    "planogram",
)


def _stream(job_id: str) -> str:
    return f"job:{job_id}"


def _publish(job_id: str, event_type: str, data: dict[str, Any], total: int) -> None:
    """An event of a batch's stream, kept (with the per-device results) for JOB_RESULT_TTL_SECONDS."""
    backends().events.publish(
        _stream(job_id), event_type, data, ttl_seconds=backends().jobs.policy.result_ttl_s, max_len=total + 1_000
    )  # every device's result, whatever the fleet's size


def start_batch(device_ids: Sequence[str], objective: str, user_id: int, parts: int) -> str:
    """Queue a batch optimisation split over ``parts`` worker jobs; events are readable at once."""
    job_id = uuid.uuid4().hex
    ids = list(device_ids)
    parts = max(1, min(parts, len(ids)))
    _publish(
        job_id,
        "started",
        {
            "kind": "batch_optimize",
            "objective": objective,
            "device_ids": ids,
            "total": len(ids),
            "user_id": user_id,
            "parts": parts,
        },
        len(ids),
    )
    for part in range(parts):
        chunk = [(i, d) for i, d in enumerate(ids) if i % parts == part]
        backends().jobs.submit(
            "services.merchandising.batch.run_batch", job_id, chunk, objective, len(ids), job_id=_part(job_id, part)
        )
    return job_id


def _part(job_id: str, part: int) -> str:
    return f"{job_id}-{part}"


def run_batch(job_id: str, devices: list[tuple[int, str]], objective: str, total: int) -> None:
    """One worker's share: optimise each device, publishing one progress event per device.

    A retried share (after a crash or a timeout) skips the devices an earlier attempt already reported."""
    jobs = backends().jobs
    done = {
        e.data["index"]
        for e in backends().events.read(_stream(job_id), None, count=total + 1_000)
        if e.type == "progress"
    }
    for index, device_id in devices:
        if index in done:
            continue
        if jobs.is_cancelled(job_id):
            _publish(job_id, "cancelled", {"at_index": index}, total)
            return
        try:
            result = analysis.optimise(device_id, objective, None)
            item = {"ok": True, "result": {k: result[k] for k in RESULT_FIELDS if k in result}}
        except AppError as exc:  # one bad device must not stop the fleet
            item = {"ok": False, "error": exc.message}
        except Exception as exc:
            log.exception("batch device failed", extra={"job_id": job_id, "device_id": device_id})
            item = {"ok": False, "error": f"internal error ({type(exc).__name__})"}
        _publish(job_id, "progress", {"index": index, "device_id": device_id, **item}, total)


def _started(job_id: str, user_id: int, is_admin: bool) -> tuple[dict[str, Any], list[Any]]:
    """The batch's first event and all its events (404 unknown or expired, 403 another user's)."""
    events = backends().events.read(_stream(job_id), None, count=10_000_000)
    if not events or events[0].type != "started":
        raise NotFound(f"Job '{job_id}' not found", details={"job_id": job_id})
    started = events[0].data
    if started["user_id"] != user_id and not is_admin:
        raise Forbidden("This job belongs to another user")
    return started, events


def job_status(job_id: str, user_id: int, is_admin: bool) -> dict[str, Any]:
    """Status, progress and per-device results of a job (its owner or an admin only)."""
    started, events = _started(job_id, user_id, is_admin)
    by_index = {e.data["index"]: e.data for e in events if e.type == "progress"}  # a retry never repeats one
    results = [by_index[i] for i in sorted(by_index)]
    parts = [backends().jobs.status(_part(job_id, p)) for p in range(started.get("parts", 1))]
    if len(results) == started["total"]:
        status = "finished"
    elif any(e.type == "cancelled" for e in events) or "cancelled" in parts:
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
    """Drop the batch's queued shares and ask the running ones to stop after the device in hand."""
    started, _ = _started(job_id, user_id, is_admin)
    jobs = backends().jobs
    jobs.cancel(job_id)  # the flag run_batch checks between devices
    outcomes = [jobs.cancel(_part(job_id, p)) for p in range(started.get("parts", 1))]
    return {
        "job_id": job_id,
        "cancel_requested": True,
        "parts_cancelled": outcomes.count(CANCELLED),
        "parts_stopping": outcomes.count(STOPPING),
        "status": job_status(job_id, user_id, is_admin)["status"],
    }
