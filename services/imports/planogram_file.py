"""planograms.csv: the current slot -> sku assignment per device, saved as a new version when changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from extensions import db
from models import Device, Product
from services.imports import fields
from services.imports.catalog_files import UNKNOWN_DEVICE, UNKNOWN_SKU, Cell
from services.imports.reader import CsvFile, FileSpec
from services.imports.report import ImportReport
from services.planograms import current_assignment, save_version

PLANOGRAMS = FileSpec("planograms.csv", ("device_id", "slot", "sku"), ("capacity",))


def parse_planograms(
    csv_file: CsvFile, report: ImportReport, geometry: dict[str, tuple[int, int]], skus: set[str]
) -> dict[str, dict[str, tuple[str, int | None]]]:
    """Validate rows into {device_id: {slot: (sku, capacity or None)}}."""
    out: dict[str, dict[str, tuple[str, int | None]]] = {}
    for line, row in csv_file.rows():
        report.stats(PLANOGRAMS.name).rows += 1
        cell = Cell(report, PLANOGRAMS.name, line, row)
        device_id = cell.get("device_id", fields.text)
        parsed = cell.get("slot", fields.slot_code)
        sku = cell.get("sku", lambda v: fields.text(v, 64))
        capacity = None
        if row.get("capacity", "").strip():
            capacity = cell.get("capacity", lambda v: fields.integer(v, 1, 500))
        else:
            report.defaulted(PLANOGRAMS.name, "capacity", "slot capacity", "column missing or blank")
        if device_id is not None and device_id not in geometry:
            report.error(PLANOGRAMS.name, line, "device_id", UNKNOWN_DEVICE, device_id)
            continue
        if sku is not None and sku not in skus:
            report.error(PLANOGRAMS.name, line, "sku", UNKNOWN_SKU, sku)
            continue
        if not cell.ok or device_id is None or parsed is None or sku is None:
            continue
        code, r, c = parsed
        rows, cols = geometry[device_id]
        if r >= rows or c >= cols:
            report.error(PLANOGRAMS.name, line, "slot", f"outside the cabinet ({rows} rows x {cols} columns)", code)
            continue
        slots = out.setdefault(device_id, {})
        if code in slots:
            report.error(PLANOGRAMS.name, line, "slot", "slot assigned twice for this device (one sku per slot)", code)
            continue
        slots[code] = (sku, capacity)
    return out


def apply_planograms(records: dict[str, dict[str, tuple[str, int | None]]], report: ImportReport) -> None:
    """Save each device's planogram as a new active version unless it equals the current one."""
    stats = report.stats(PLANOGRAMS.name)
    if not records:
        return
    product_ids = dict(db.session.execute(select(Product.sku, Product.id)).all())
    devices = {d.device_id: d for d in db.session.scalars(select(Device).where(Device.device_id.in_(list(records))))}
    for device_id, slots in records.items():
        device = devices[device_id]
        capacity_of = {s.code: s.capacity for s in device.slots}
        wanted: dict[str, Any] = {
            code: (product_ids[sku], cap if cap is not None else capacity_of.get(code, device.capacity))
            for code, (sku, cap) in slots.items()
        }
        if wanted == current_assignment(device):
            stats.unchanged += len(slots)
            continue
        save_version(device, wanted, author_id=None, source="import", note="Imported from planograms.csv")
        stats.inserted += len(slots)
        report.devices_touched.add(device_id)
