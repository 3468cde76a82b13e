"""products.csv, devices.csv, slots.csv: validation and idempotent upserts by natural key."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from extensions import db
from models import CABINET_TYPES, TEMPERATURES, Device, Product, Slot
from services.imports import fields
from services.imports.reader import CsvFile, FileSpec
from services.imports.report import ImportReport

PRODUCTS = FileSpec(
    "products.csv",
    ("sku", "name", "category", "price"),
    ("unit_cost", "width_mm", "height_mm", "depth_mm", "temperature"),
)
DEVICES = FileSpec(
    "devices.csv",
    ("device_id", "name", "venue_type", "cabinet_type", "rows", "columns"),
    ("slot_width_mm", "slot_height_mm", "slot_depth_mm", "capacity", "service_interval_days"),
)
SLOTS = FileSpec("slots.csv", ("device_id", "slot"), ("width_mm", "height_mm", "depth_mm", "capacity", "zone"))

# Defaults for optional columns, stated in the import report whenever used.
UNKNOWN_DEVICE = "unknown device (not in devices.csv or the database)"
UNKNOWN_SKU = "unknown sku (not in products.csv or the database)"
SLOT_OVERRIDABLE = ("width_mm", "height_mm", "depth_mm", "capacity", "zone")
DEFAULT_COST_RATIO = 0.6  # typical vending unit cost is ~55-65% of the selling price
PRODUCT_DEFAULTS = {"width_mm": 66, "height_mm": 122, "depth_mm": 66, "temperature": "ambient"}
DEVICE_DEFAULTS = {
    "slot_width_mm": 75,
    "slot_height_mm": 200,
    "slot_depth_mm": 560,
    "capacity": 8,
    "service_interval_days": 7,
}


@dataclass
class Cell:
    """Reads one row's cells, recording errors and defaults against its file and line."""

    report: ImportReport
    file: str
    line: int
    row: dict[str, str]
    ok: bool = True

    def get(self, column: str, parse: Callable[[str], Any]) -> Any:
        """Parse a required cell."""
        try:
            return parse(self.row.get(column, ""))
        except ValueError as exc:
            self.ok = False
            self.report.error(self.file, self.line, column, str(exc), self.row.get(column))
            return None

    def opt(self, column: str, parse: Callable[[str], Any], default: Any, why: str = "column missing") -> Any:
        """Parse an optional cell; an absent or blank one gets the default (reported)."""
        raw = self.row.get(column, "")
        if not raw.strip():
            self.report.defaulted(self.file, column, default, why)
            return default
        return self.get(column, parse)


def _dims(cell: Cell, names: Iterable[str], defaults: dict[str, Any]) -> dict[str, Any]:
    return {n: cell.opt(n, lambda v: fields.integer(v, 1, 5000), defaults[n]) for n in names}


def parse_products(csv_file: CsvFile, report: ImportReport) -> dict[str, dict[str, Any]]:
    """Validate products.csv rows into {sku: values}."""
    out: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for line, row in csv_file.rows():
        report.stats(PRODUCTS.name).rows += 1
        cell = Cell(report, PRODUCTS.name, line, row)
        sku = cell.get("sku", lambda v: fields.text(v, 64))
        values = {
            "name": cell.get("name", fields.text),
            "category": cell.get("category", lambda v: fields.text(v, 100)),
            "price": cell.get("price", fields.money),
        }
        default_cost = round(values["price"] * DEFAULT_COST_RATIO, 2) if values["price"] else None
        values["unit_cost"] = cell.opt(
            "unit_cost",
            lambda v: fields.money(v, allow_zero=True),
            default_cost,
            f"no unit cost given: {int(DEFAULT_COST_RATIO * 100)}% of price assumed",
        )
        values.update(_dims(cell, ("width_mm", "height_mm", "depth_mm"), PRODUCT_DEFAULTS))
        values["temperature"] = cell.opt(
            "temperature", lambda v: fields.choice(v, TEMPERATURES), PRODUCT_DEFAULTS["temperature"]
        )
        if sku in seen:
            report.error(PRODUCTS.name, line, "sku", f"duplicate sku (first seen on line {seen[sku]})", sku)
            continue
        if sku is not None:
            seen[sku] = line
        if cell.ok and sku is not None:
            out[sku] = values
    return out


def parse_devices(csv_file: CsvFile, report: ImportReport) -> dict[str, dict[str, Any]]:
    """Validate devices.csv rows into {device_id: values}."""
    out: dict[str, dict[str, Any]] = {}
    for line, row in csv_file.rows():
        report.stats(DEVICES.name).rows += 1
        cell = Cell(report, DEVICES.name, line, row)
        device_id = cell.get("device_id", lambda v: fields.text(v, 64))
        values = {
            "name": cell.get("name", fields.text),
            "venue_type": cell.get("venue_type", lambda v: fields.text(v, 50).lower()),
            "cabinet_type": cell.get("cabinet_type", lambda v: fields.choice(v, CABINET_TYPES)),
            "rows": cell.get("rows", lambda v: fields.integer(v, 1, fields.MAX_ROWS)),
            "columns": cell.get("columns", lambda v: fields.integer(v, 1, fields.MAX_COLUMNS)),
        }
        values.update(_dims(cell, ("slot_width_mm", "slot_height_mm", "slot_depth_mm"), DEVICE_DEFAULTS))
        values["capacity"] = cell.opt("capacity", lambda v: fields.integer(v, 1, 500), DEVICE_DEFAULTS["capacity"])
        values["service_interval_days"] = cell.opt(
            "service_interval_days", lambda v: fields.integer(v, 1, 90), DEVICE_DEFAULTS["service_interval_days"]
        )
        if device_id in out:
            report.error(DEVICES.name, line, "device_id", "duplicate device_id in file", device_id)
        elif cell.ok and device_id is not None:
            out[device_id] = values
    return out


def default_zone(cabinet_type: str, row: int, rows: int) -> str:
    """Temperature zone of a slot when slots.csv does not say: combo cabinets chill the lower half."""
    if cabinet_type == "refrigerated":
        return "chilled"
    if cabinet_type == "combo":
        return "chilled" if row >= rows // 2 else "ambient"
    return "ambient"


def parse_slots(
    csv_file: CsvFile, report: ImportReport, geometry: dict[str, tuple[int, int]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Validate slots.csv overrides into {(device_id, code): values}; only given columns override."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for line, row in csv_file.rows():
        report.stats(SLOTS.name).rows += 1
        cell = Cell(report, SLOTS.name, line, row)
        device_id = cell.get("device_id", fields.text)
        parsed = cell.get("slot", fields.slot_code)
        if device_id is not None and device_id not in geometry:
            report.error(SLOTS.name, line, "device_id", UNKNOWN_DEVICE, device_id)
            continue
        if parsed is None or device_id is None:
            continue
        code, r, c = parsed
        rows, cols = geometry[device_id]
        if r >= rows or c >= cols:
            report.error(SLOTS.name, line, "slot", f"outside the cabinet ({rows} rows x {cols} columns)", code)
            continue
        values: dict[str, Any] = {}
        for name in ("width_mm", "height_mm", "depth_mm"):
            if row.get(name, "").strip():
                values[name] = cell.get(name, lambda v: fields.integer(v, 1, 5000))
        if row.get("capacity", "").strip():
            values["capacity"] = cell.get("capacity", lambda v: fields.integer(v, 1, 500))
        if row.get("zone", "").strip():
            values["zone"] = cell.get("zone", lambda v: fields.choice(v, TEMPERATURES))
        if (device_id, code) in out:
            report.error(SLOTS.name, line, "slot", "duplicate slot for this device", code)
        elif cell.ok:
            out[(device_id, code)] = values
    return out


def _apply(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def upsert_products(records: dict[str, dict[str, Any]], report: ImportReport) -> None:
    """Insert new products and update changed ones by sku."""
    stats = report.stats(PRODUCTS.name)
    existing = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(list(records))))}
    for sku, values in records.items():
        product = existing.get(sku)
        if product is None:
            db.session.add(Product(sku=sku, **values))
            stats.inserted += 1
        elif _apply(product, values):
            stats.updated += 1
        else:
            stats.unchanged += 1


def upsert_devices(
    records: dict[str, dict[str, Any]], overrides: dict[tuple[str, str], dict[str, Any]], report: ImportReport
) -> None:
    """Upsert devices by device_id and lay out their slots (geometry defaults, then slots.csv overrides)."""
    stats = report.stats(DEVICES.name)
    ids = set(records) | {d for d, _ in overrides}
    existing = {d.device_id: d for d in db.session.scalars(select(Device).where(Device.device_id.in_(list(ids))))}
    for device_id, values in records.items():
        device = existing.get(device_id)
        if device is None:
            device = Device(device_id=device_id, **values)
            db.session.add(device)
            existing[device_id] = device
            stats.inserted += 1
            report.devices_touched.add(device_id)
        elif _apply(device, values):
            stats.updated += 1
            report.devices_touched.add(device_id)
        else:
            stats.unchanged += 1
    by_device: dict[str, dict[str, dict[str, Any]]] = {}  # grouped once: a scan per device was quadratic
    for (device_id, code), values in overrides.items():
        by_device.setdefault(device_id, {})[code] = values
    for device_id in ids:
        mine = by_device.get(device_id, {})
        changed = layout_slots(existing[device_id], mine)
        if changed:
            report.devices_touched.add(device_id)
        if mine:
            slot_stats = report.stats(SLOTS.name)
            slot_stats.updated += len(changed & set(mine))
            slot_stats.unchanged += len(set(mine) - changed)


def layout_slots(device: Device, overrides: dict[str, dict[str, Any]]) -> set[str]:
    """Make the device's slots match its geometry plus overrides; return the codes that changed."""
    current = {s.code: s for s in device.slots}
    wanted: dict[str, dict[str, Any]] = {}
    for r in range(device.rows):
        for c in range(device.columns):
            code = fields.slot_label(r, c)
            base = current.get(code)
            values: dict[str, Any] = {
                "row_index": r,
                "col_index": c,
                "width_mm": device.slot_width_mm,
                "height_mm": device.slot_height_mm,
                "depth_mm": device.slot_depth_mm,
                "capacity": device.capacity,
                "zone": default_zone(device.cabinet_type, r, device.rows),
                "custom": False,
            }
            if code in overrides:
                values.update(overrides[code], custom=True)
            elif base is not None and base.custom:
                # An earlier slots.csv override stays until a later slots.csv row changes it.
                values.update({k: getattr(base, k) for k in SLOT_OVERRIDABLE}, custom=True)
            wanted[code] = values
    changed: set[str] = set()
    for code, slot in current.items():
        if code not in wanted:
            device.slots.remove(slot)
            changed.add(code)
    for code, values in wanted.items():
        existing = current.get(code)
        if existing is None:
            device.slots.append(Slot(code=code, **values))
            changed.add(code)
        elif _apply(existing, values):
            changed.add(code)
    return changed
