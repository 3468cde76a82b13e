"""Saved planogram versions: list, show, diff, save an edited or optimised planogram, roll back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from extensions import db
from models import Device, PlanogramItem, PlanogramVersion, Product
from services.catalog import get_device
from services.errors import NotFound, ValidationFailed
from services.merchandising.data import cabinet_of, product_specs
from services.merchandising.store import Assignment, save_version
from services.planogram import Planogram, validate


def _versions(device: Device) -> list[PlanogramVersion]:
    return list(
        db.session.scalars(
            select(PlanogramVersion)
            .where(PlanogramVersion.device_pk == device.id)
            .options(selectinload(PlanogramVersion.items).selectinload(PlanogramItem.product))
            .order_by(PlanogramVersion.version_number.desc())
        )
    )


def _get(device: Device, number: int) -> PlanogramVersion:
    version = next((v for v in _versions(device) if v.version_number == number), None)
    if version is None:
        raise NotFound(
            f"Version {number} of {device.device_id} not found",
            details={"device_id": device.device_id, "version": number},
        )
    return version


def _slots(version: PlanogramVersion) -> dict[str, dict[str, Any]]:
    return {i.slot_code: {"sku": i.product.sku, "capacity": i.capacity} for i in version.items}


def version_dict(version: PlanogramVersion, with_slots: bool = False) -> dict[str, Any]:
    """JSON form of a version (slots only on request)."""
    out: dict[str, Any] = {
        "version": version.version_number,
        "status": version.status,
        "source": version.source,
        "note": version.note,
        "author_id": version.author_id,
        "created_at": version.created_at.isoformat(),
        "slot_count": len(version.items),
    }
    if with_slots:
        out["slots"] = _slots(version)
    return out


def list_versions(device_id: str) -> list[dict[str, Any]]:
    """Every version of the device's planogram, newest first."""
    return [version_dict(v) for v in _versions(get_device(device_id))]


def show_version(device_id: str, number: int) -> dict[str, Any]:
    """One version with its slots."""
    return version_dict(_get(get_device(device_id), number), with_slots=True)


def diff_versions(device_id: str, old: int, new: int) -> dict[str, Any]:
    """Slot-by-slot changes from version ``old`` to version ``new``."""
    device = get_device(device_id)
    before, after = _slots(_get(device, old)), _slots(_get(device, new))
    changes = [
        {"slot": slot, "from": before.get(slot), "to": after.get(slot)}
        for slot in sorted(set(before) | set(after))
        if before.get(slot) != after.get(slot)
    ]
    return {"device_id": device_id, "from_version": old, "to_version": new, "changes": changes}


def _assignment(device: Device, slots: Mapping[str, Any]) -> Assignment:
    """Turn {slot: sku | {sku, capacity}} into (product id, capacity) per slot; 422 on unknowns."""
    capacity_of = {s.code: s.capacity for s in device.slots}
    wanted: dict[str, tuple[str, int]] = {}
    problems = []
    for slot, value in slots.items():
        sku, capacity = (
            (value, None) if isinstance(value, str) or value is None else (value.get("sku"), value.get("capacity"))
        )
        if slot not in capacity_of:
            problems.append({"field": f"slots.{slot}", "reason": f"unknown slot for device {device.device_id}"})
        elif sku:
            wanted[slot] = (str(sku), int(capacity) if capacity else capacity_of[slot])
    ids = dict(
        db.session.execute(
            select(Product.sku, Product.id).where(Product.sku.in_({s for s, _ in wanted.values()}))
        ).all()
    )
    problems += [
        {"field": f"slots.{slot}", "reason": f"unknown sku '{sku}'"}
        for slot, (sku, _) in wanted.items()
        if sku not in ids
    ]
    if problems:
        raise ValidationFailed("Invalid planogram", details=problems)
    return {slot: (ids[sku], cap) for slot, (sku, cap) in wanted.items()}


def _hard_violations(device: Device, slots: Mapping[str, tuple[str, int]]) -> list[dict[str, Any]]:
    planogram = Planogram.of({s: sku for s, (sku, _) in slots.items()}, {s: c for s, (_, c) in slots.items()})
    violations = validate(cabinet_of(device), product_specs(), planogram)
    return [
        {"field": f"slots.{v.slot}" if v.slot else "slots", "rule_id": v.rule_id, "reason": v.message}
        for v in violations
        if v.severity == "hard" and v.rule_id != "capacity_cover"
    ]


def save(
    device_id: str,
    slots: Mapping[str, Any],
    base_version: int,
    author_id: int | None,
    source: str = "editor",
    note: str | None = None,
) -> dict[str, Any]:
    """Save a planogram as the new active version; stale base -> 409, hard-rule breaks -> 422."""
    device = get_device(device_id)
    assignment = _assignment(device, slots)
    sku_of = {pid: sku for sku, pid in db.session.execute(select(Product.sku, Product.id)).all()}
    problems = _hard_violations(device, {s: (sku_of[p], c) for s, (p, c) in assignment.items()})
    if problems:
        raise ValidationFailed("This planogram breaks hard rules; fix them before saving", details=problems)
    version = save_version(device, assignment, author_id=author_id, source=source, note=note, base_version=base_version)
    return version_dict(version, with_slots=True)


def rollback(device_id: str, number: int, base_version: int, author_id: int | None) -> dict[str, Any]:
    """Make a copy of an earlier version the new active version."""
    device = get_device(device_id)
    old = _get(device, number)
    assignment = {i.slot_code: (i.product_id, i.capacity) for i in old.items}
    version = save_version(
        device,
        assignment,
        author_id=author_id,
        source="rollback",
        note=f"Rollback to version {number}",
        base_version=base_version,
    )
    return version_dict(version, with_slots=True)
