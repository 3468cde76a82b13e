"""Fit devices' demand models before anyone asks, so the first Optimise does not wait for a fit.

Fitted models are cached per data version (`data.model_for`: this process, and Redis when set).
Warm-ups run as background jobs (threads in embedded mode, RQ otherwise): every device when the server starts
(`wsgi.py`) or an RQ worker starts (`flask rq-worker`, before it forks work horses), the devices an import or
a saved planogram changed once that commits, and one device when its editor finds its model missing.
In embedded mode start-up also spawns the optimiser's child processes, so no click pays for their imports,
and the fits run in those children (below the web process's priority), so a warm-up never holds the serving
process's GIL while requests arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from extensions import db
from models import Device
from services import serving_gate
from services.errors import AppError
from services.jobs import native
from services.merchandising.data import MODEL_CACHE_SIZE, load_device, model_ready, version_key
from services.merchandising.stream import model_and_value
from services.planogram import ValueParams
from services.processes import shared_pool
from services.runtime import backends

log = logging.getLogger("planogram.models")
WARM_FUNCTION = "services.merchandising.warmup.warm_devices"
CHILD_READY_FUNCTION = "services.merchandising.compute.ready"
PENDING_KEY = "planogram.warm_devices"
SERVING_KEY = "planogram.serving"  # set by on_start: this process serves requests and keeps warm models
CLAIM_S = 120  # one on-demand warm-up per device and data version in this window
_claims: dict[str, float] = {}
_claims_lock = threading.Lock()


def enabled(app: Flask | None = None) -> bool:
    """Whether warm-ups run (MODEL_WARMUP; off in tests, which fit on demand)."""
    return bool((app or current_app).config["MODEL_WARMUP"])


def on_start(app: Flask) -> None:
    """Server start-up: warm the optimiser's child processes and queue a warm-up of every device."""
    if not enabled(app):
        return
    app.extensions[SERVING_KEY] = True
    with app.app_context():
        if backends().mode == "embedded" and app.config["OPTIMIZATION_CHILD_PROCESSES"]:
            pool = shared_pool(int(app.config["JOB_WORKERS"]))
            native("_thread", "start_new_thread")(_prestart, (pool,))
        backends().jobs.submit(WARM_FUNCTION, None, background=True)


def _prestart(pool: Any) -> None:
    try:
        pool.prestart(CHILD_READY_FUNCTION)
    except Exception:  # the first optimisation starts them instead
        log.exception("optimiser child processes not started")


def warm_worker() -> None:
    """An RQ worker is starting: load (or fit) the models its cache holds, so the work horses it forks start
    with them. No more than the cache holds: on a 20,000-machine fleet a worker must not spend hours fitting
    models it would drop; the server's start-up job fills Redis with the rest."""
    if enabled():
        warm_devices(None, limit=MODEL_CACHE_SIZE)


def warm_devices(device_ids: list[str] | None, limit: int | None = None) -> None:
    """Job: fit and cache the models of these devices (all when None, at most ``limit``); a device that
    fails is skipped."""
    t0 = time.perf_counter()
    if device_ids is None:
        if backends().mode == "embedded":  # without Redis only this process's cache keeps them
            limit = min(limit or MODEL_CACHE_SIZE, MODEL_CACHE_SIZE)
        query = select(Device.device_id).order_by(Device.device_id)
        device_ids = list(db.session.scalars(query if limit is None else query.limit(limit)))
    ids = device_ids
    fitted = 0
    for device_id in ids:
        try:
            serving_gate.wait_for_quiet()  # requests first: the ORM reads share the serving GIL in embedded mode
            model_and_value(load_device(device_id), ValueParams())
            fitted += 1
        except AppError:
            continue  # deleted meanwhile, or no usable data: its editor says so when opened
        except Exception:
            log.exception("model warm-up failed", extra={"device_id": device_id})
        finally:
            db.session.remove()
    log.info("models warmed", extra={"devices": fitted, "seconds": round(time.perf_counter() - t0, 2)})


def status(device_id: str) -> dict[str, Any]:
    """Whether Optimise can start at once: the device's model for its current data is fitted (a missing one
    is queued, once) and, in embedded mode, the optimiser's child processes are up."""
    key = version_key(device_id)  # 404 for an unknown device
    fitted = model_ready(key)
    if not fitted and _claim("pgw:model-warm:" + ":".join(str(part) for part in key)):
        backends().jobs.submit(WARM_FUNCTION, [device_id])  # interactive: someone is waiting in the editor
    ready = fitted and _optimiser_ready()
    return {"device_id": device_id, "data_version": key[1], "fitted": fitted, "ready": ready}


def _optimiser_ready() -> bool:
    """Embedded mode with child processes: whether start-up has them running (else there is nothing to wait for)."""
    config = current_app.config
    if not enabled() or backends().mode != "embedded" or not config["OPTIMIZATION_CHILD_PROCESSES"]:
        return True
    return bool(shared_pool(int(config["JOB_WORKERS"])).prestarted)


def _claim(name: str) -> bool:
    client = backends().redis
    if client is not None:
        try:
            return bool(client.set(name, "1", nx=True, ex=CLAIM_S))
        except redis.RedisError:
            pass  # fall back to this process's claims
    now = time.monotonic()
    with _claims_lock:
        if _claims.get(name, 0.0) > now:
            return False
        _claims[name] = now + CLAIM_S
        return True


def warm_after_commit(device_ids: Iterable[str]) -> None:
    """Queue a warm-up of these devices once the current transaction commits (never on rollback)."""
    ids = set(device_ids)
    if not ids or not has_app_context() or not enabled():
        return
    if backends().mode == "embedded" and not current_app.extensions.get(SERVING_KEY):
        return  # a CLI process in embedded mode: its models would die with it
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
    db.session.info.setdefault(PENDING_KEY, set()).update(ids)


def _after_commit(session: Session) -> None:
    ids: set[str] | None = session.info.pop(PENDING_KEY, None)
    if not ids or not has_app_context():
        return
    try:
        backends().jobs.submit(WARM_FUNCTION, sorted(ids), background=True)
    except Exception:  # the commit stands; the editor fits on demand instead
        log.exception("model warm-up not queued")


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
