"""orders.csv: customer orders for the email assistant, upserted by order number."""

from __future__ import annotations

import re
from typing import IO, Any

from sqlalchemy import select

from extensions import db
from models import ORDER_STATUSES, CustomerOrder, Product
from services.imports import fields
from services.imports.catalog_files import Cell
from services.imports.reader import CsvFile, FileSpec, open_text
from services.imports.report import ImportRejected, ImportReport

ORDERS = FileSpec(
    "orders.csv",
    ("order_number", "status", "ordered_at"),
    (
        "customer_name",
        "customer_email",
        "items",
        "total",
        "currency",
        "device_id",
        "expected_delivery_at",
        "delivered_at",
        "refunded_amount",
        "notes",
    ),
)
ORDER_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
Catalog = dict[str, tuple[str, float]]


def order_number(value: str) -> str:
    """Letters, digits, '-' and '_' (as printed on receipts)."""
    raw = value.strip()
    if not ORDER_NUMBER.match(raw):
        raise ValueError(f"'{value}' is not an order number (letters, digits, '-' or '_', at most 64)")
    return raw


def parse_items(value: str, catalog: Catalog) -> list[dict[str, Any]]:
    """`sku:qty[:unit_price]` separated by ';' → item dicts; the catalogue names known skus and prices them."""
    items: list[dict[str, Any]] = []
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        pieces = [p.strip() for p in part.split(":")]
        if len(pieces) not in (2, 3) or not pieces[0]:
            raise ValueError(f"item '{part}' is not sku:quantity or sku:quantity:unit_price")
        sku, qty = pieces[0], fields.integer(pieces[1], 1, 1000)
        known = catalog.get(sku)
        if len(pieces) == 3:
            price = fields.money(pieces[2], allow_zero=True)
        elif known is not None:
            price = known[1]
        else:
            raise ValueError(f"item '{part}': unknown sku needs a unit price (sku:quantity:unit_price)")
        items.append({"sku": sku, "name": known[0] if known else sku, "quantity": qty, "unit_price": price})
    return items


def customer_email(value: str) -> str:
    """An email address (or blank)."""
    raw = value.strip()
    if raw and not EMAIL.match(raw):
        raise ValueError(f"'{value}' is not an email address")
    return raw


def import_orders(stream: IO[bytes], demo: bool = False) -> ImportReport:
    """Validate the whole file, then upsert by order number; any error rejects the file and changes nothing."""
    report = ImportReport()
    csv_file = CsvFile(ORDERS, open_text(stream), report)
    catalog: Catalog = {
        sku: (name, price) for sku, name, price in db.session.execute(select(Product.sku, Product.name, Product.price))
    }
    rows = _parse(csv_file, report, catalog)
    if not report.ok:
        raise ImportRejected(report)
    upsert_orders(rows, report, demo)
    return report


def _parse(csv_file: CsvFile, report: ImportReport, catalog: Catalog) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for line, row in csv_file.rows():
        report.stats(ORDERS.name).rows += 1
        cell = Cell(report, ORDERS.name, line, row)
        values: dict[str, Any] = {
            "order_number": cell.get("order_number", order_number),
            "status": cell.get("status", lambda v: fields.choice(v, ORDER_STATUSES)),
            "ordered_at": cell.get("ordered_at", fields.timestamp),
            "customer_name": row.get("customer_name", "").strip()[:200],
            "customer_email": cell.opt("customer_email", customer_email, "", "no email given"),
            "items": cell.opt("items", lambda v: parse_items(v, catalog), [], "no items given"),
            "currency": cell.opt("currency", _currency, "USD"),
            "device_id": row.get("device_id", "").strip()[:64] or None,
            "expected_delivery_at": cell.opt("expected_delivery_at", fields.timestamp, None, "no date given"),
            "delivered_at": cell.opt("delivered_at", fields.timestamp, None, "not delivered"),
            "refunded_amount": cell.opt("refunded_amount", lambda v: fields.money(v, True), 0.0, "no refund"),
            "notes": row.get("notes", "").strip()[:2000],
        }
        items_total = round(sum(i["quantity"] * i["unit_price"] for i in values["items"] or []), 4)
        values["total"] = cell.opt("total", lambda v: fields.money(v, True), items_total, "sum of the items")
        if not cell.ok:
            continue
        if values["refunded_amount"] > values["total"]:
            report.error(
                ORDERS.name, line, "refunded_amount", "is more than the order total", row.get("refunded_amount")
            )
            continue
        if values["order_number"] in out:
            report.error(ORDERS.name, line, "order_number", "appears twice in this file", values["order_number"])
            continue
        out[values["order_number"]] = values
    return out


def _currency(value: str) -> str:
    raw = value.strip().upper()
    if not CURRENCY.match(raw):
        raise ValueError(f"'{value}' is not a three-letter currency code")
    return raw


def upsert_orders(rows: dict[str, dict[str, Any]], report: ImportReport, demo: bool) -> None:
    """Insert new orders, update changed ones. Flushes only."""
    stats = report.stats(ORDERS.name)
    existing = (
        {
            o.order_number: o
            for o in db.session.scalars(select(CustomerOrder).where(CustomerOrder.order_number.in_(list(rows))))
        }
        if rows
        else {}
    )
    for number, values in rows.items():
        order = existing.get(number)
        if order is None:
            db.session.add(CustomerOrder(is_demo=demo, **values))
            stats.inserted += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(order, k) != v}
        for name, value in changed.items():
            setattr(order, name, value)
        stats.updated += bool(changed)
        stats.unchanged += not changed
    db.session.flush()
