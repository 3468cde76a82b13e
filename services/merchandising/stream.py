"""Streaming optimisation: a job improves a planogram step by step and publishes each step as an event.

``start`` checks the request, publishes ``started`` and hands the CPU work to the job runner (real OS
threads in embedded mode, RQ workers with Redis); ``run_job`` publishes ``progress`` per step, the
AI explanation as ``explanation`` deltas, then ``done`` (or ``error`` / ``cancelled``). Readers relay
the job's event stream as SSE (``services.sse``) from any worker, resuming after a Last-Event-ID.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import redis
from flask import current_app
from sqlalchemy import select

from extensions import db
from models import Device
from services import serving_gate
from services.errors import AppError, Forbidden, NotFound, ValidationFailed
from services.merchandising import analysis
from services.merchandising.compute import (
    FitInputs,
    OptimisationPlan,
    PlanStep,
    QuickPlan,
    compute_plan,
    quick_plan,
    stage_by_row,
)
from services.merchandising.data import MODELS, DeviceData, fit_priors, load_device, model_for, version_key
from services.merchandising.explain import ExplanationInput, stream_explanation
from services.planogram import (
    Cabinet,
    Constraints,
    DemandModel,
    InfeasibleError,
    Move,
    Planogram,
    ProductSpec,
    ValueParams,
    diff_planograms,
)
from services.planogram.optimize import point_value
from services.processes import shared_pool
from services.runtime import backends
from services.sse import TERMINAL_EVENTS, RelaySettings, relay

log = logging.getLogger("planogram.optimization")
JOB_FUNCTION = "services.merchandising.stream.run_job"
# In a child process: a module that imports only the engine, so a new child starts in a fraction of the time.
COMPUTE_FUNCTION = "services.merchandising.compute.compute_plan"
QUICK_FUNCTION = "services.merchandising.compute.quick_plan"
FIT_FUNCTION = "services.merchandising.compute.fit_and_value"
# Longest single blocking read of a relay: also how often it records that a client is listening.
RELAY_BLOCK_S = 2.0
# A relay with no event for this long gives up (the job died without a terminal event).
RELAY_MAX_IDLE_S = 600.0
CONFIGURED = -1  # max_new_skus not given: use OPTIMIZER_MAX_NEW_SKUS (None = no limit)


def stream_name(job_id: str) -> str:
    """The job's client-visible event stream."""
    return f"opt:{job_id}"


def _owner_stream(job_id: str) -> str:
    return f"opt:{job_id}:owner"


# --- listener presence ------------------------------------------------------------------------------

_LOCAL_PRESENCE: dict[str, float] = {}  # embedded mode is one process; dict get/set are atomic


class Presence:
    """When a client last listened to a job's stream (wall clock, in Redis when configured)."""

    def __init__(self, client: redis.Redis | None, keep_s: int) -> None:
        self._r = client
        self._keep_s = max(keep_s, 60)

    def touch(self, job_id: str) -> None:
        """Record that a client is listening now."""
        now = time.time()
        if self._r is not None:
            self._r.set(f"pgw:opt-listener:{job_id}", repr(now), ex=self._keep_s)
            return
        _LOCAL_PRESENCE[job_id] = now
        if len(_LOCAL_PRESENCE) > 1000:
            for key, seen in list(_LOCAL_PRESENCE.items()):
                if seen < now - self._keep_s:
                    _LOCAL_PRESENCE.pop(key, None)

    def idle_s(self, job_id: str) -> float:
        """Seconds since a client last listened (infinite when none ever did or the record expired)."""
        if self._r is not None:
            raw = self._r.get(f"pgw:opt-listener:{job_id}")
            seen = float(raw) if raw is not None else None
        else:
            seen = _LOCAL_PRESENCE.get(job_id)
        return math.inf if seen is None else max(0.0, time.time() - seen)


def _presence() -> Presence:
    return Presence(backends().redis, int(current_app.config["STREAM_ABANDON_SECONDS"]) * 4)


# --- requests -----------------------------------------------------------------------------------------


def start(
    device_id: str,
    objective: str,
    locked_slots: Sequence[str],
    user_id: int,
    max_new_skus: int | None = CONFIGURED,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Check the device and constraints, publish ``queued`` (with the place in the queue) and queue the job.

    Only cheap work happens here (the device's data is cached per data version): the model fit and the
    current objective are the job's first step, which publishes ``started``. So the POST answers at once
    even when many start together. ``max_new_skus``: CONFIGURED = OPTIMIZER_MAX_NEW_SKUS, None = no limit.
    ``extra``: must_stock, min_facings, max_facings and max_changed_slots (absent = the configured default)."""
    locked = [s.strip().upper() for s in locked_slots]
    extra = dict(extra or {})
    limit = _checked_limit(device_id, locked, max_new_skus, extra)
    job_id = uuid.uuid4().hex
    events, jobs = backends().events, backends().jobs
    events.publish(_owner_stream(job_id), "owner", {"user_id": user_id, "device_id": device_id})
    _presence().touch(job_id)  # the caller is about to listen
    # Published before the job is submitted, so it is always the stream's first event.
    events.publish(
        stream_name(job_id),
        "queued",
        {
            "job_id": job_id,
            "device_id": device_id,
            "objective": objective,
            "position": len(jobs.waiting(JOB_FUNCTION)) + 1,  # 1 = next to start; updated as jobs ahead start
        },
    )
    # Never retried: a re-run would publish its events again; the stream ends with `error` instead.
    jobs.submit(JOB_FUNCTION, job_id, device_id, objective, locked, user_id, limit, extra, job_id=job_id, retries=0)
    log.info("optimisation stream queued", extra={"job_id": job_id, "device_id": device_id})
    return job_id


def _checked_limit(
    device_id: str, locked: Sequence[str], max_new_skus: int | None, extra: Mapping[str, Any]
) -> int | None:
    """404 for an unknown device, 422 for a rule naming an unknown or empty slot or sku; the new-sku limit.

    Only rules that name slots or skus need the device's data (cached per data version, but a cold read
    costs tens of ms on the serving worker); a plain request checks the device with one cheap query."""
    if locked or any(extra.get(k) for k in ("must_stock", "min_facings", "max_facings")):
        data = load_device(device_id)
        return _constraints(data, locked, max_new_skus, extra).max_new_skus  # the job rebuilds them
    version_key(device_id)  # the standard 404
    return analysis.default_max_new_skus() if max_new_skus == CONFIGURED else max_new_skus


def start_stream(
    device_id: str,
    objective: str,
    locked_slots: Sequence[str],
    user_id: int,
    max_new_skus: int | None = CONFIGURED,
    extra: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """Start a job and return the SSE relay of its events (``started`` is the first chunk)."""
    return _relay(start(device_id, objective, locked_slots, user_id, max_new_skus, extra), None)


def follow(job_id: str, user_id: int, is_admin: bool, last_event_id: str | None) -> Iterator[str]:
    """The SSE relay of an existing job (its owner or an admin), after ``last_event_id`` when given."""
    _authorise(job_id, user_id, is_admin)
    return _relay(job_id, last_event_id or None)


def cancel(job_id: str, user_id: int, is_admin: bool) -> dict[str, Any]:
    """Ask the job to stop and end its stream with ``cancelled`` (unless it has already ended)."""
    _authorise(job_id, user_id, is_admin)
    backends().jobs.cancel(job_id)
    events = backends().events
    seen = events.read(stream_name(job_id), None, count=100_000)
    if not any(e.type in TERMINAL_EVENTS for e in seen):
        step = max((int(e.data.get("step", 0)) for e in seen if e.type == "progress"), default=0)
        events.publish(stream_name(job_id), "cancelled", {"step": step, "reason": "requested"})
    return {"job_id": job_id, "cancel_requested": True}


def _authorise(job_id: str, user_id: int, is_admin: bool) -> None:
    owner = backends().events.read(_owner_stream(job_id), None, count=1)
    if not owner:
        raise NotFound(f"Optimisation job '{job_id}' not found", details={"job_id": job_id})
    if owner[0].data["user_id"] != user_id and not is_admin:
        raise Forbidden("This optimisation belongs to another user")


def _relay(job_id: str, after: str | None) -> Iterator[str]:
    """Bind a relay to plain handles: it runs after the request, without app context or DB."""
    events, presence = backends().events, _presence()
    heartbeat = float(current_app.config["SSE_HEARTBEAT_SECONDS"])
    settings = RelaySettings(heartbeat_s=heartbeat, block_s=min(RELAY_BLOCK_S, heartbeat), max_idle_s=RELAY_MAX_IDLE_S)
    presence.touch(job_id)
    return relay(events, stream_name(job_id), after, settings, on_poll=lambda: presence.touch(job_id))


def _constraints(
    data: DeviceData,
    locked: Sequence[str],
    max_new_skus: int | None = CONFIGURED,
    extra: Mapping[str, Any] | None = None,
) -> Constraints:
    """Engine constraints of the request; a 422 names an unknown or empty slot or an unknown sku."""
    spec: dict[str, object] = {**(extra or {}), "locked_slots": list(locked)}
    if max_new_skus != CONFIGURED:
        spec["max_new_skus"] = max_new_skus
    try:
        return analysis.constraints_from(data, spec)
    except ValidationFailed as exc:
        renamed = {"constraints.locked_slots": "locked_slots", "constraints.skus": "must_stock/min_facings/max_facings"}
        details = [{**d, "field": renamed.get(d.get("field"), d.get("field"))} for d in (exc.details or [])]
        raise ValidationFailed(exc.message, details=details) from None


# --- the job (the engine work itself: services/merchandising/compute.py) ------------------------------------------

__all__ = ["OptimisationPlan", "PlanStep", "compute_plan", "run_job", "stage_by_row", "start"]


def run_job(
    job_id: str,
    device_id: str,
    objective: str,
    locked: list[str],
    user_id: int,
    max_new_skus: int | None = CONFIGURED,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """The job: fit and value (``started``), compute, publish paced progress, stream the explanation, ``done``."""
    events, jobs = backends().events, backends().jobs
    stream = stream_name(job_id)
    config = current_app.config
    presence = _presence()
    abandon_s = float(config["STREAM_ABANDON_SECONDS"])
    state = {"step": 0}

    def stopped() -> bool:
        if jobs.is_cancelled(job_id):
            return True  # whoever cancelled published `cancelled`
        if presence.idle_s(job_id) > abandon_s:
            jobs.cancel(job_id)
            events.publish(stream, "cancelled", {"step": state["step"], "reason": "abandoned"})
            log.info("optimisation abandoned: nobody listening", extra={"job_id": job_id})
            return True
        return False

    try:
        _announce_positions()
        if stopped():
            return
        serving_gate.wait_for_quiet()  # embedded mode: the ORM reads below share the serving GIL
        data = load_device(device_id)
        params = ValueParams(objective=objective)  # type: ignore[arg-type]
        constraints = _constraints(data, locked, max_new_skus, extra)
        name = db.session.scalar(select(Device.name).where(Device.device_id == device_id)) or device_id
        model, current = model_and_value(data, params)
        events.publish(
            stream,
            "started",
            {
                "job_id": job_id,
                "device_id": device_id,
                "objective": objective,
                "current_objective": _num(current),
                "current_planogram": slot_map(data.cabinet, data.planogram),
            },
        )
        db.session.remove()  # nothing below touches the database until the ledger (own session)
        shown = _publish_quick(model, data, constraints, params, stream, state)
        if stopped():
            return
        plan = _compute(model, data, constraints, params, shown)
        if _publish_steps(plan, data, stream, stopped, state):
            _finish(plan, data, stream, stopped, device_id, name, objective, locked, user_id)
    except InfeasibleError as exc:
        events.publish(
            stream, "error", {"code": "infeasible", "message": f"No planogram satisfies the hard rules: {exc}"}
        )
    except AppError as exc:
        events.publish(stream, "error", {"code": exc.code, "message": exc.message})
    except Exception as exc:  # the stream must end with an event whatever broke
        log.exception("optimisation job failed", extra={"job_id": job_id})
        events.publish(
            stream, "error", {"code": "internal_error", "message": f"The optimisation failed ({type(exc).__name__})"}
        )
        raise


def _in_child() -> bool:
    """Embedded mode computes in child processes: job threads share the web process's GIL."""
    return backends().mode == "embedded" and bool(current_app.config["OPTIMIZATION_CHILD_PROCESSES"])


def model_and_value(data: DeviceData, params: ValueParams) -> tuple[DemandModel, float]:
    """The device's model (cached per data version; a fit runs in a child process in embedded mode, so it
    never holds the serving process's GIL) and the current planogram's objective. Also the warm-up's work."""
    model = MODELS.get(data.version_key)
    if model is not None or not _in_child():
        model = model or model_for(data)
        return model, point_value(model, data.cabinet, data.products, data.planogram, params)
    inputs = FitInputs(
        (data.cabinet, data.products, data.sales, data.planogram), fit_priors(data), data.history or None
    )
    model, value = shared_pool(int(current_app.config["JOB_WORKERS"])).call(
        FIT_FUNCTION, None, inputs, data.cabinet, data.products, data.planogram, params
    )
    MODELS.put(data.version_key, model)
    return model, float(value)


def _announce_positions() -> None:
    """A job left the queue: tell every optimisation still waiting its new place (``queued`` again)."""
    events = backends().events
    for position, waiting_id in enumerate(backends().jobs.waiting(JOB_FUNCTION), start=1):
        events.publish(stream_name(waiting_id), "queued", {"job_id": waiting_id, "position": position})


def _engine_call(func_path: str, func: Callable[..., Any], *args: Any) -> Any:
    """Run an engine function in a child process in embedded mode (RQ work horses are processes of their own)."""
    if _in_child():
        return shared_pool(int(current_app.config["JOB_WORKERS"])).call(func_path, *args)
    return func(*args)


def _publish_quick(
    model: DemandModel,
    data: DeviceData,
    constraints: Constraints,
    params: ValueParams,
    stream: str,
    state: dict[str, int],
) -> Planogram | None:
    """Publish the quick plan (the floor and a few swaps) as step 1, before the exact MILP; the planogram
    the client now shows, or None when there was nothing to show."""
    quick: QuickPlan | None = _engine_call(
        QUICK_FUNCTION, quick_plan, model, data.cabinet, data.products, data.planogram, constraints, params
    )
    if quick is None:
        return None
    moves = diff_planograms(data.planogram, quick.planogram)
    if not moves:
        return None
    state["step"] = 1
    backends().events.publish(
        stream,
        "progress",
        {
            "step": 1,
            "phase": "quick",
            "moves": [_move(m) for m in moves],
            "objective": _num(quick.objective),
            "floor_objective": None if quick.floor_objective is None else _num(quick.floor_objective),
            "planogram": slot_map(data.cabinet, quick.planogram),
        },
    )
    return quick.planogram


def _compute(
    model: DemandModel, data: DeviceData, constraints: Constraints, params: ValueParams, shown: Planogram | None
) -> OptimisationPlan:
    """The exact plan, its steps leading from ``shown`` (the quick plan) when one was published."""
    limit = float(current_app.config["OPTIMIZATION_TIME_LIMIT_SECONDS"])
    return _engine_call(  # type: ignore[no-any-return]
        COMPUTE_FUNCTION,
        compute_plan,
        model,
        data.cabinet,
        data.products,
        data.planogram,
        constraints,
        params,
        limit,
        shown,
    )


def _publish_steps(
    plan: OptimisationPlan, data: DeviceData, stream: str, stopped: Callable[[], bool], state: dict[str, int]
) -> bool:
    """Publish each step, paced so the grid animates; False when the job was stopped."""
    delay_s = max(0.0, float(current_app.config["OPTIMIZATION_STEP_DELAY_MS"]) / 1000)
    events = backends().events
    for index, item in enumerate(plan.steps, start=state["step"] + 1):
        if index > 1 and delay_s:
            time.sleep(delay_s)
        if stopped():
            return False
        state["step"] = index
        events.publish(
            stream,
            "progress",
            {
                "step": index,
                "phase": "exact",
                "moves": [_move(m) for m in item.moves],
                "objective": _num(item.objective),
                "planogram": slot_map(data.cabinet, item.planogram),
            },
        )
    return True


def _finish(
    plan: OptimisationPlan,
    data: DeviceData,
    stream: str,
    stopped: Callable[[], bool],
    device_id: str,
    device_name: str,
    objective: str,
    locked: Sequence[str],
    user_id: int,
) -> None:
    """Stream the explanation, then publish ``done``."""
    events = backends().events
    explained = stream_explanation(
        _explanation_input(plan, data.cabinet, data.products, device_id, device_name, objective, locked),
        publish=lambda delta, fallback: events.publish(
            stream, "explanation", {"delta": delta, "fallback_used": fallback}
        ),
        stopped=stopped,
        user_id=str(user_id),
    )
    if explained is None or stopped():
        return
    uplift = plan.objective - plan.current_objective
    events.publish(
        stream,
        "done",
        {
            "planogram": slot_map(data.cabinet, plan.final),
            "objective": _num(plan.objective),
            "current_objective": _num(plan.current_objective),
            "uplift_per_day": _num(uplift),
            "uplift_pct": _num(100 * uplift / abs(plan.current_objective) if plan.current_objective else 0.0),
            "slots_changed": len(diff_planograms(plan.current, plan.final)),
            "changes": [{**_move(m), "value_per_day": _num(v)} for m, v in plan.change_values],
            "explanation_fallback_used": explained.fallback_used,
            "request_id": explained.request_id,
            "explanation_fallback_reason": explained.fallback_reason,
            "explanation_error_kind": explained.error_kind,
            "explanation_model": explained.model,
        },
    )


def _explanation_input(
    plan: OptimisationPlan,
    cabinet: Cabinet,
    products: Mapping[str, ProductSpec],
    device_id: str,
    device_name: str,
    objective: str,
    locked: Sequence[str],
) -> ExplanationInput:
    return ExplanationInput(
        device_id=device_id,
        device_name=device_name,
        objective=objective,
        total_slots=len(cabinet.slots),
        current_objective=plan.current_objective,
        objective_value=plan.objective,
        revenue_before=plan.revenue_before,
        revenue_after=plan.revenue_after,
        margin_before=plan.margin_before,
        margin_after=plan.margin_after,
        optimal=plan.optimal,
        changes=plan.change_values,
        locked_slots=tuple(locked),
        names={sku: p.name for sku, p in products.items()},
    )


# --- JSON shapes ------------------------------------------------------------------------------------------


def slot_map(cabinet: Cabinet, planogram: Planogram) -> dict[str, str | None]:
    """Every slot of the cabinet (row-major) with its sku, null when empty."""
    mapping = planogram.mapping()
    return {code: mapping.get(code) for code in cabinet.slot_codes()}


def _move(move: Move) -> dict[str, str | None]:
    return {"slot": move.slot, "from": move.from_sku, "to": move.to_sku}


def _num(value: float) -> float | None:
    """Rounded for the wire; non-finite becomes null (SSE data must be valid JSON)."""
    return round(float(value), 4) if math.isfinite(value) else None
