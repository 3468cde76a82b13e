"""One import = one transaction over up to five CSV files: all rows land, or nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import IO

from sqlalchemy import select, update

from extensions import db
from models import Device, Product
from services.demo_fleet import presence as demo_presence
from services.errors import ValidationFailed
from services.imports import catalog_files as cf
from services.imports.fields import slot_label
from services.imports.planogram_file import PLANOGRAMS, apply_planograms, parse_planograms
from services.imports.reader import CsvFile, FileSpec, open_text
from services.imports.report import ALL_OR_NOTHING, MODES, ImportRejected, ImportReport
from services.imports.sales_file import SALES, Progress, SalesLoader
from services.imports.weekly import recount
from services.merchandising.invalidation import forget_devices
from services.merchandising.warmup import warm_after_commit

SPECS: dict[str, FileSpec] = {s.name: s for s in (cf.PRODUCTS, cf.DEVICES, cf.SLOTS, PLANOGRAMS, SALES)}
ProgressFactory = Callable[[str], Progress]


def run_import(
    sources: Mapping[str, IO[bytes]],
    progress: ProgressFactory | None = None,
    note_demo: bool = True,
    mode: str = ALL_OR_NOTHING,
) -> ImportReport:
    """Validate and apply the given files (name -> binary stream); raise ImportRejected on any error.

    ``mode`` VALID_ROWS keeps the valid rows instead (one transaction: all of them or, on a failure, none)
    and reports every rejected row; a row that depends on a rejected one (a planogram row of a rejected
    device, a vend of a rejected product) is rejected too, and a device's planogram is imported whole or not
    at all. ``note_demo``: say in the report when the database holds demo data (off for the demo seeder)."""
    known = {name: stream for name, stream in sources.items() if name in SPECS}
    if not known:
        raise ValidationFailed(
            "No importable file: expected one or more of " + ", ".join(SPECS),
            details={"received": sorted(sources)},
        )
    if mode not in MODES:
        raise ValidationFailed(
            "Unknown import mode", details=[{"field": "mode", "reason": f"one of {', '.join(MODES)}"}]
        )
    report = ImportReport(mode=mode)
    report.notes.extend(f"{name}: not an import file, ignored" for name in sorted(set(sources) - set(known)))
    files = {name: CsvFile(SPECS[name], open_text(stream), report) for name, stream in known.items()}
    try:
        _load(files, report, progress)
    except Exception:
        db.session.rollback()
        raise
    if not report.writable:
        db.session.rollback()
        raise ImportRejected(report)
    if note_demo:
        _note_demo(report)
    return report


def _note_demo(report: ImportReport) -> None:
    """Tell the operator that demo data sits beside theirs, is kept apart and how to remove it."""
    found = demo_presence()
    if found.present:
        report.demo = found.as_dict()
        report.notes.append(found.message())


def validate_import(sources: Mapping[str, IO[bytes]], mode: str = ALL_OR_NOTHING) -> ImportReport:
    """Dry run: every check of run_import, then roll back so nothing is kept, whatever the outcome."""
    try:
        return run_import(sources, mode=mode)
    except ImportRejected as exc:
        return exc.report
    finally:
        db.session.rollback()


def _load(files: dict[str, CsvFile], report: ImportReport, progress: ProgressFactory | None) -> None:
    products = cf.parse_products(files[cf.PRODUCTS.name], report) if cf.PRODUCTS.name in files else {}
    devices = cf.parse_devices(files[cf.DEVICES.name], report) if cf.DEVICES.name in files else {}
    geometry = {d: (r, c) for d, r, c in db.session.execute(select(Device.device_id, Device.rows, Device.columns))}
    geometry.update({d: (v["rows"], v["columns"]) for d, v in devices.items()})
    slots = cf.parse_slots(files[cf.SLOTS.name], report, geometry) if cf.SLOTS.name in files else {}
    skus = set(db.session.scalars(select(Product.sku))) | set(products)
    planograms = parse_planograms(files[PLANOGRAMS.name], report, geometry, skus) if PLANOGRAMS.name in files else {}
    if report.writable:
        cf.upsert_products(products, report)
        cf.upsert_devices(devices, slots, report)
        db.session.flush()
        apply_planograms(planograms, report)
        db.session.flush()
    if SALES.name in files:
        _load_sales(files[SALES.name], report, geometry, skus, progress)
    if report.writable and report.devices_touched:
        db.session.execute(
            update(Device)
            .where(Device.device_id.in_(sorted(report.devices_touched)))
            # Bumping lock_version too makes any stale in-memory copy of these devices fail to save.
            .values(data_version=Device.data_version + 1, lock_version=Device.lock_version + 1)
            .execution_options(synchronize_session=False)
        )
        forget_devices(report.devices_touched)
        warm_after_commit(report.devices_touched)


def _load_sales(
    csv_file: CsvFile,
    report: ImportReport,
    geometry: dict[str, tuple[int, int]],
    skus: set[str],
    progress: ProgressFactory | None,
) -> None:
    pks = dict(db.session.execute(select(Device.device_id, Device.id)).all()) if report.writable else {}
    product_ids: dict[str, int | None] = dict.fromkeys(skus)
    if report.writable:
        product_ids.update(db.session.execute(select(Product.sku, Product.id)).all())
    device_slots = {
        device_id: (pks.get(device_id), {slot_label(r, c) for r in range(rows) for c in range(cols)})
        for device_id, (rows, cols) in geometry.items()
    }
    loader = SalesLoader(report, device_slots, product_ids)
    loader.load(csv_file, progress(SALES.name) if progress else None)
    report.devices_touched.update(loader.devices_written)
    if report.writable and loader.devices_written:
        recount(loader.days.spans)
