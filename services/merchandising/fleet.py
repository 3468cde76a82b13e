"""Fleet view: per machine today's margin/day, stockouts, days since the last planogram change and the
optimiser's opportunity within the default change budget.

Model-based figures are computed by a background job and cached per device data version (in Redis when
configured, else in this process), so the page answers at once and says "computing" until they exist.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis
from flask import current_app
from sqlalchemy import func, select

from extensions import db
from models import Device, PlanogramVersion
from models._types import utcnow
from services import catalog
from services.errors import AppError
from services.merchandising import analysis
from services.merchandising.compute import solve_margin
from services.merchandising.data import load_device, model_for, version_key
from services.planogram import (
    InfeasibleError,
    OptimizationResult,
    ValueParams,
    detect_anomalies,
    diff_planograms,
    evaluate,
)
from services.processes import shared_pool
from services.runtime import backends

log = logging.getLogger("planogram.fleet")
JOB_FUNCTION = "services.merchandising.fleet.compute_metrics"
SOLVE_FUNCTION = "services.merchandising.compute.solve_margin"  # engine-only module: children start fast
METRICS_TTL_S = 14 * 86_400
PENDING_TTL_S = 300  # a claimed device whose job died is claimed again after this
STOCKOUT_WINDOW_DAYS = 14
STOCKOUT_KINDS = frozenset({"stopped", "drop"})


class MetricsStore:
    """Computed fleet figures by cache key: Redis (shared by every worker) or this process's memory."""

    def __init__(self, client: redis.Redis | None) -> None:
        self._r = client

    def get_many(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        """The stored figures of each key (None where missing)."""
        if self._r is not None:
            raw = self._r.mget(keys) if keys else []
            return [json.loads(v) if v else None for v in raw]
        now = time.monotonic()
        with _LOCK:
            entries = [_MEMORY.get(k) for k in keys]
        return [e[1] if e is not None and e[0] > now else None for e in entries]

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store figures for a key (kept METRICS_TTL_S)."""
        if self._r is not None:
            self._r.set(key, json.dumps(value), ex=METRICS_TTL_S)
            return
        with _LOCK:
            _MEMORY[key] = (time.monotonic() + METRICS_TTL_S, value)

    def claim(self, key: str) -> bool:
        """Mark a key as being computed; False when another request already claimed it recently."""
        pending = f"{key}:pending"
        if self._r is not None:
            return bool(self._r.set(pending, "1", nx=True, ex=PENDING_TTL_S))
        with _LOCK:
            until = _MEMORY.get(pending, (0.0, None))[0]
            if until > time.monotonic():
                return False
            _MEMORY[pending] = (time.monotonic() + PENDING_TTL_S, {})
            return True


_LOCK = threading.Lock()
_MEMORY: dict[str, tuple[float, dict[str, Any] | None]] = {}


def _store() -> MetricsStore:
    return MetricsStore(backends().redis)


def budget() -> dict[str, Any]:
    """The default change budget the opportunity is computed within."""
    return {"max_changed_slots": analysis.default_max_changed_slots(), "max_new_skus": analysis.default_max_new_skus()}


def metrics_key(device_id: str) -> str:
    """Cache key: device, data version, catalogue fingerprint and the default change budget."""
    device, data_version, products, is_demo = version_key(device_id)
    b = budget()
    side = "demo" if is_demo else "real"  # the demo/real divide decides which products the optimiser may use
    return f"pgw:fleet:{device}:{data_version}:{products}:{side}:{b['max_changed_slots']}:{b['max_new_skus']}"


# --- the background job ------------------------------------------------------------------------------


def compute_metrics(items: list[tuple[str, str]]) -> None:
    """Job: for each (device, key) store today's figures at once, then the opportunity when solved."""
    store = _store()
    for device_id, key in items:
        try:
            today = current_figures(device_id)
            store.put(key, {**today, "opportunity": None})
            store.put(key, {**today, "opportunity": opportunity(device_id)})
        except AppError as exc:  # one device without usable data must not stop the others
            store.put(key, {"error": exc.message})
        except InfeasibleError as exc:  # today's planogram breaks a rule no planogram can keep
            store.put(key, {"error": f"no planogram satisfies the rules: {exc}"})
        except Exception as exc:
            log.exception("fleet metrics failed", extra={"device_id": device_id})
            store.put(key, {"error": f"internal error ({type(exc).__name__})"})
        finally:
            db.session.remove()


def current_figures(device_id: str) -> dict[str, Any]:
    """Predicted margin and revenue per day of the current planogram, and slots stocked out recently."""
    data = load_device(device_id)
    model = model_for(data)
    value = evaluate(model, data.cabinet, data.products, data.planogram, ValueParams(objective="margin"))
    found = detect_anomalies(
        model, data.cabinet, data.products, data.sales, data.planogram, recent_days=STOCKOUT_WINDOW_DAYS
    )
    stockouts = sorted({a.slot for a in found if a.kind in STOCKOUT_KINDS})
    return {
        "margin_per_day": round(value.margin_per_day, 4),
        "revenue_per_day": round(value.revenue_per_day, 4),
        "stockout_slots": stockouts,
    }


def opportunity(device_id: str) -> dict[str, Any]:
    """The optimiser's predicted margin gain per day within the default change budget (0 when none)."""
    data = load_device(device_id)
    config = current_app.config
    inputs = (
        model_for(data),
        data.cabinet,
        data.products,
        data.planogram,
        analysis.constraints_from(data, None),
        float(config["OPTIMIZATION_TIME_LIMIT_SECONDS"]),
    )
    if backends().mode == "embedded" and config["OPTIMIZATION_CHILD_PROCESSES"]:
        # job threads share the web process's GIL with the requests: compute in a child process
        result: OptimizationResult = shared_pool(int(config["JOB_WORKERS"])).call(SOLVE_FUNCTION, *inputs)
    else:  # RQ work horses are processes of their own
        result = solve_margin(*inputs)
    changed = len(diff_planograms(data.planogram, result.planogram))
    improves = changed > 0 and result.uplift_per_day > 0
    return {
        "gain_per_day": round(result.margin_per_day - result.current_margin_per_day, 4) if improves else 0.0,
        "slots_changed": changed if improves else 0,
        "optimal": bool(result.optimal),
    }


# --- the view ----------------------------------------------------------------------------------------------


def _last_changes() -> dict[str, datetime]:
    """When each device's planogram last changed (newest saved, non-draft version)."""
    rows = db.session.execute(
        select(Device.device_id, func.max(PlanogramVersion.created_at))
        .join(PlanogramVersion, PlanogramVersion.device_pk == Device.id)
        .where(PlanogramVersion.status != "draft")
        .group_by(Device.device_id)
    ).all()
    return {device_id: _aware(created) for device_id, created in rows if created is not None}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def overview(queue_missing: bool = True) -> dict[str, Any]:
    """Every device with its figures (None while computing); queues one job for the missing ones."""
    devices = catalog.list_devices()
    keys = [metrics_key(d["device_id"]) for d in devices]
    figures = _store().get_many(keys)
    changed = _last_changes()
    now = utcnow()
    missing = [
        (d["device_id"], k)
        for d, k, f in zip(devices, keys, figures, strict=True)
        if f is None or ("error" not in f and f.get("opportunity") is None)
    ]
    if queue_missing:
        claimed = [item for item in missing if _store().claim(item[1])]
        if claimed:
            backends().jobs.submit(JOB_FUNCTION, claimed, background=True)  # never ahead of a user's optimisation
    items = []
    for device, f in zip(devices, figures, strict=True):
        last = changed.get(device["device_id"])
        items.append(
            {
                **device,
                "figures": f,
                "days_since_change": (now - last).days if last is not None else None,
                "last_change_at": last.isoformat() if last is not None else None,
            }
        )
    return {
        "items": items,
        "pending": len(missing),
        "budget": budget(),
        "stockout_window_days": STOCKOUT_WINDOW_DAYS,
        "currency": current_app.config["CURRENCY"],
    }
