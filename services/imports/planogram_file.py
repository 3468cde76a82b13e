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
from services.merchandising.store import current_assignment, save_version

PLANOGRAMS = FileSpec("planograms.csv", ("device_id", "slot", "sku"), ("capacity",))


def parse_planograms(
    csv_file: CsvFile, report: ImportReport, geometry: dict[str, tuple[int, int]], skus: set[str]
) -> dict[str, dict[str, tuple[str, int | None]]]:
    """Validate rows into {device_id: {slot: (sku, capacity or None)}}.

    Keeping valid rows, a device with any rejected row keeps its current planogram: a planogram is imported
    whole (half of one would empty the slots of its rejected rows), and its other rows are reported."""
    out: dict[str, dict[str, tuple[str, int | None]]] = {}
    lines: dict[str, list[int]] = {}
    failed: dict[str, int] = {}  # device -> its first rejected line
    for line, row in csv_file.rows():
        errors_before = report.error_count
        device_id = _parse_row(line, row, report, geometry, skus, out)
        if device_id is not None:
            lines.setdefault(device_id, []).append(line)
            if report.error_count > errors_before:
                failed.setdefault(device_id, line)
    if report.partial:
        for device_id, first in failed.items():
            out.pop(device_id, None)
            for line in lines[device_id]:
                if line != first and line not in report.rejected_lines.get(PLANOGRAMS.name, ()):
                    report.error(
                        PLANOGRAMS.name,
                        line,
                        "device_id",
                        f"not imported: this device's planogram has "
                        f"a rejected row (line {first}); a planogram is imported whole",
                        device_id,
                    )
    return out


def _parse_row(
    line: int,
    row: dict[str, str],
    report: ImportReport,
    geometry: dict[str, tuple[int, int]],
    skus: set[str],
    out: dict[str, dict[str, tuple[str, int | None]]],
) -> str | None:
    """Validate one row into ``out``; returns its device id when it names one (valid or not)."""
    report.stats(PLANOGRAMS.name).rows += 1
    cell = Cell(report, PLANOGRAMS.name, line, row)
    device_id: str | None = cell.get("device_id", fields.text)
    parsed = cell.get("slot", fields.slot_code)
    sku = cell.get("sku", lambda v: fields.text(v, 64))
    capacity = None
    if row.get("capacity", "").strip():
        capacity = cell.get("capacity", lambda v: fields.integer(v, 1, 500))
    else:
        report.defaulted(PLANOGRAMS.name, "capacity", "slot capacity", "column missing or blank")
    if device_id is not None and device_id not in geometry:
        report.error(PLANOGRAMS.name, line, "device_id", UNKNOWN_DEVICE, device_id)
        return None  # no planogram of it can be imported anyway
    if sku is not None and sku not in skus:
        report.error(PLANOGRAMS.name, line, "sku", UNKNOWN_SKU, sku)
        return device_id
    if not cell.ok or device_id is None or parsed is None or sku is None:
        return device_id
    code, r, c = parsed
    rows, cols = geometry[device_id]
    if r >= rows or c >= cols:
        report.error(PLANOGRAMS.name, line, "slot", f"outside the cabinet ({rows} rows x {cols} columns)", code)
        return device_id
    slots = out.setdefault(device_id, {})
    if code in slots:
        report.error(PLANOGRAMS.name, line, "slot", "slot assigned twice for this device (one sku per slot)", code)
        return device_id
    slots[code] = (sku, capacity)
    return device_id


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
