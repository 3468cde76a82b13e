"""Downloadable CSV templates: every column each import file takes, with example rows that import cleanly."""

from __future__ import annotations

import csv
import io

from services.errors import NotFound
from services.imports.importer import SPECS

# Example rows, one file's worth each; together they form a valid import (tests/api/test_import_modes.py).
EXAMPLES: dict[str, list[dict[str, str]]] = {
    "products.csv": [
        {
            "sku": "COLA-330",
            "name": "Cola 330ml can",
            "category": "soft drinks",
            "price": "1.80",
            "unit_cost": "0.60",
            "width_mm": "66",
            "height_mm": "115",
            "depth_mm": "66",
            "temperature": "chilled",
        },
        {
            "sku": "CRISPS-45",
            "name": "Sea salt crisps 45g",
            "category": "crisps",
            "price": "1.50",
            "unit_cost": "",
            "width_mm": "130",
            "height_mm": "190",
            "depth_mm": "40",
            "temperature": "ambient",
        },
    ],
    "devices.csv": [
        {
            "device_id": "LOBBY-01",
            "name": "Office lobby",
            "venue_type": "office",
            "cabinet_type": "combo",
            "rows": "2",
            "columns": "3",
            "slot_width_mm": "80",
            "slot_height_mm": "210",
            "slot_depth_mm": "560",
            "capacity": "8",
            "service_interval_days": "7",
        },
    ],
    "slots.csv": [
        {
            "device_id": "LOBBY-01",
            "slot": "A1",
            "width_mm": "160",
            "height_mm": "",
            "depth_mm": "",
            "capacity": "12",
            "zone": "ambient",
        },
    ],
    "planograms.csv": [
        {"device_id": "LOBBY-01", "slot": "A1", "sku": "CRISPS-45", "capacity": "12"},
        {"device_id": "LOBBY-01", "slot": "B1", "sku": "COLA-330", "capacity": ""},
    ],
    "sales.csv": [
        {
            "device_id": "LOBBY-01",
            "timestamp": "2026-11-02T08:15:00Z",
            "slot": "B1",
            "sku": "COLA-330",
            "price": "1.80",
            "transaction_id": "T1001",
        },
        {
            "device_id": "LOBBY-01",
            "timestamp": "2026-11-02T08:15:20Z",
            "slot": "A1",
            "sku": "CRISPS-45",
            "price": "1.50",
            "transaction_id": "T1001",
        },
        {
            "device_id": "LOBBY-01",
            "timestamp": "2026-11-02",
            "slot": "B1",
            "sku": "COLA-330",
            "price": "1.80",
            "transaction_id": "",
        },
    ],
}


def names() -> list[str]:
    """The import files a template exists for, in import order."""
    return list(SPECS)


def template_csv(name: str) -> str:
    """The template of one file: required columns first, then the optional ones, then the example rows."""
    spec = SPECS.get(name)
    if spec is None:
        raise NotFound(f"No template named '{name}'", details={"templates": names()})
    columns = [*spec.required, *spec.optional]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in EXAMPLES[name]:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()
