"""Planogram versions: create, activate and compare, with optimistic locking against stale saves."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from extensions import db
from models import Device, PlanogramItem, PlanogramVersion
from services.cache_invalidation import forget_devices
from services.errors import Conflict
from services.model_warmup import warm_after_commit

Assignment = dict[str, tuple[int, int]]  # slot code -> (product id, capacity)


def current_assignment(device: Device) -> Assignment:
    """The active version's slot -> (product id, capacity)."""
    rows = db.session.execute(
        select(PlanogramItem.slot_code, PlanogramItem.product_id, PlanogramItem.capacity)
        .join(PlanogramVersion)
        .where(PlanogramVersion.device_pk == device.id, PlanogramVersion.status == "active")
    ).all()
    return {code: (pid, cap) for code, pid, cap in rows}


def save_version(
    device: Device,
    assignment: Assignment,
    *,
    author_id: int | None,
    source: str,
    note: str | None = None,
    base_version: int | None = None,
) -> PlanogramVersion:
    """Save ``assignment`` as the device's new active version; a stale ``base_version`` is a 409."""
    name = device.device_id  # read now: after a failed flush the instance can no longer load attributes
    if base_version is not None and base_version != device.planogram_version:
        raise Conflict(
            f"Planogram of {device.device_id} changed since you loaded version {base_version} "
            f"(now version {device.planogram_version}); reload and reapply your changes",
            code="stale_version",
            details={"base_version": base_version, "current_version": device.planogram_version},
        )
    previous = db.session.scalar(
        select(PlanogramVersion).where(PlanogramVersion.device_pk == device.id, PlanogramVersion.status == "active")
    )
    db.session.execute(
        update(PlanogramVersion)
        .where(PlanogramVersion.device_pk == device.id, PlanogramVersion.status == "active")
        .values(status="archived")
    )
    version = PlanogramVersion(
        device_pk=device.id,
        version_number=device.planogram_version + 1,
        status="active",
        author_id=author_id,
        parent_version_id=previous.id if previous else None,
        source=source,
        note=note,
        items=[PlanogramItem(slot_code=c, product_id=p, capacity=cap) for c, (p, cap) in sorted(assignment.items())],
    )
    db.session.add(version)
    device.planogram_version = version.version_number
    device.data_version += 1
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError):
        raise Conflict(
            f"Planogram of {name} was saved by someone else at the same time; reload and retry",
            code="stale_version",
        ) from None
    forget_devices([name])
    warm_after_commit([name])  # the saved version is part of the model's history: refit before the next click
    return version
