"""Seed a realistic, clearly labelled demo fleet through the normal CSV import path."""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import update

from extensions import db
from models import Device, Product
from services.demo_catalog import DEVICES, PRODUCTS, DeviceRow
from services.imports import ImportReport, run_import
from services.imports.catalog_files import default_zone
from services.imports.fields import slot_label
from services.planogram.synthetic import operator_planogram
from services.planogram.types import Cabinet, ProductSpec, SlotSpec

# Relative appeal of each category per venue type (1.0 = average).
VENUE_TASTE: dict[str, dict[str, float]] = {
    "office": {"coffee": 2.2, "fresh food": 1.8, "water": 1.3, "health snacks": 1.2, "candy": 0.8},
    "school": {"candy": 1.8, "crisps": 1.7, "chocolate": 1.5, "coffee": 0.2, "energy drinks": 0.3, "fresh food": 0.7},
    "gym": {"energy drinks": 2.5, "water": 2.2, "health snacks": 2.4, "dairy": 1.8, "chocolate": 0.4, "crisps": 0.3},
    "hospital": {"fresh food": 2.0, "coffee": 1.8, "hot food": 1.6, "water": 1.4, "essentials": 1.8},
    "station": {"soft drinks": 1.6, "crisps": 1.4, "chocolate": 1.4, "coffee": 1.5, "essentials": 1.5},
    "university": {"coffee": 1.9, "energy drinks": 1.6, "crisps": 1.3, "hot food": 1.7, "biscuits": 1.3},
}
# Day-of-week multipliers, Monday first.
WEEKLY: dict[str, tuple[float, ...]] = {
    "office": (1.15, 1.2, 1.2, 1.15, 1.0, 0.2, 0.1),
    "school": (1.25, 1.25, 1.2, 1.2, 1.1, 0.0, 0.0),
    "gym": (1.2, 1.1, 1.1, 1.05, 0.9, 1.0, 0.75),
    "hospital": (1.05, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95),
    "station": (1.1, 1.05, 1.05, 1.1, 1.25, 0.8, 0.65),
    "university": (1.2, 1.25, 1.2, 1.1, 0.9, 0.3, 0.2),
}
# Planted co-purchases: (first sku, second sku, probability the second joins a basket holding the first).
PAIRS = [
    ("DEMO-SAND-HAM", "DEMO-WATER-500", 0.35),
    ("DEMO-SAND-CHICK", "DEMO-SPARK-500", 0.3),
    ("DEMO-CHIPS-SALT", "DEMO-COLA-330", 0.3),
    ("DEMO-COLDBREW-250", "DEMO-CROISSANT", 0.3),
    ("DEMO-PROTBAR-CHOC", "DEMO-ISO-500", 0.35),
    ("DEMO-NOODLE", "DEMO-COLA-500", 0.25),
]
HOURS = {"school": (8, 16), "office": (7, 19), "gym": (6, 22), "university": (8, 22)}


def row_effect(row: int, rows: int) -> float:
    """Eye-level rows (second and third from the top) sell most; the bottom row least."""
    eye = 1.4 if rows > 2 else 1.0
    peak = min(1.5, rows / 3)
    return 0.55 + (eye - 0.55) * math.exp(-((row - peak) ** 2) / 2.5)


def col_effect(col: int, cols: int) -> float:
    """Columns near the payment panel (right side) and the middle get a small lift."""
    return 0.9 + 0.2 * (col / max(cols - 1, 1))


@dataclass(frozen=True)
class DemoFiles:
    """The generated export, as CSV text per file name."""

    files: dict[str, str]
    sales_rows: int


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _cabinet(device: DeviceRow) -> Cabinet:
    """The device's cabinet as the importer will build it (default zones: combo chills the lower half)."""
    device_id, _, venue, cabinet, rows, cols, width, height, depth, capacity, interval = device
    slots = tuple(
        SlotSpec(slot_label(r, c), r, c, width, height, depth, capacity, default_zone(cabinet, r, rows))  # type: ignore[arg-type]
        for r in range(rows)
        for c in range(cols)
    )
    return Cabinet(device_id, rows, cols, venue, cabinet, float(interval), slots)


def _demand(device: DeviceRow, rng: random.Random) -> dict[str, float]:
    """True base demand (relative units/day) of every catalogue product at this device's venue."""
    taste = VENUE_TASTE.get(device[2], {})
    return {p[0]: rng.lognormvariate(0, 0.5) * taste.get(p[2], 1.0) for p in sorted(PRODUCTS)}


def _assign(device: DeviceRow, demand: dict[str, float], seed: int, index: int) -> dict[str, str]:
    """What a competent operator would load (`synthetic.operator_planogram`): the best believed sellers
    (local demand known to within lognormal(0, 0.5)), facings to last the service interval (up to 3),
    categories blocked, the best ones at eye level; right temperature, fits the slot."""
    products = [ProductSpec(*p) for p in PRODUCTS]  # type: ignore[arg-type]
    rng = np.random.default_rng([seed, index])
    return operator_planogram(_cabinet(device), products, demand, rng).mapping()


def generate(seed: int = 42, days: int = 90, end: date | None = None) -> DemoFiles:
    """Build products, devices, planograms and ``days`` of sales ending on ``end`` (default today), with weekly,
    position and basket effects; the same seed and end give the same files."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    prices = {p[0]: p[3] for p in PRODUCTS}
    files = {
        "products.csv": _csv(
            ["sku", "name", "category", "price", "unit_cost", "width_mm", "height_mm", "depth_mm", "temperature"],
            [list(p) for p in PRODUCTS],
        ),
        "devices.csv": _csv(
            [
                "device_id",
                "name",
                "venue_type",
                "cabinet_type",
                "rows",
                "columns",
                "slot_width_mm",
                "slot_height_mm",
                "slot_depth_mm",
                "capacity",
                "service_interval_days",
            ],
            [list(d) for d in DEVICES],
        ),
    }
    plano_rows: list[list[object]] = []
    sales: list[list[object]] = []
    for index, device in enumerate(DEVICES):
        demand = _demand(device, rng)
        planogram = _assign(device, demand, seed, index)
        plano_rows.extend([device[0], code, sku, device[9]] for code, sku in sorted(planogram.items()))
        sales.extend(_device_sales(device, planogram, demand, start, days, rng, prices))
    files["planograms.csv"] = _csv(["device_id", "slot", "sku", "capacity"], plano_rows)
    sales.sort(key=lambda r: (str(r[0]), str(r[1])))
    files["sales.csv"] = _csv(["device_id", "timestamp", "slot", "sku", "price", "transaction_id"], sales)
    return DemoFiles(files, len(sales))


def _device_sales(
    device: DeviceRow,
    planogram: dict[str, str],
    base: dict[str, float],
    start: date,
    days: int,
    rng: random.Random,
    prices: dict[str, float],
) -> list[list[object]]:
    device_id, _, venue, _, rows, cols, _, _, _, capacity, interval = device
    weekly = WEEKLY.get(venue, (1.0,) * 7)
    open_h, close_h = HOURS.get(venue, (5, 23))
    slot_of: dict[str, list[str]] = {}
    for code, sku in planogram.items():
        slot_of.setdefault(sku, []).append(code)
    stock = dict.fromkeys(planogram, capacity)
    out: list[list[object]] = []
    txn = 0
    for d in range(days):
        day = start + timedelta(days=d)
        if d % interval == 0:
            stock = dict.fromkeys(planogram, capacity)  # service visit refills every slot
        trend = 1.0 + 0.1 * d / days
        for code, sku in planogram.items():
            r, c = ord(code[0]) - 65, int(code[1:]) - 1
            rate = 0.9 * base[sku] * row_effect(r, rows) * col_effect(c, cols) * weekly[day.weekday()] * trend
            rate /= len(slot_of[sku]) ** 0.8  # extra facings split demand, adding little
            for _ in range(_poisson(rng, rate)):
                if stock[code] <= 0:
                    break  # stocked out: the demand is lost, not recorded
                stock[code] -= 1
                txn += 1
                moment = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
                    seconds=rng.randint(open_h * 3600, close_h * 3600 - 120)
                )
                tid = f"{device_id}-T{txn:07d}" if rng.random() < 0.7 else ""
                out.append([device_id, moment.isoformat(), code, sku, f"{prices[sku]:.2f}", tid])
                out.extend(_basket_partner(rng, device_id, sku, moment, tid, slot_of, stock, prices))
    return out


def _basket_partner(
    rng: random.Random,
    device_id: str,
    sku: str,
    moment: datetime,
    tid: str,
    slot_of: dict[str, list[str]],
    stock: dict[str, int],
    prices: dict[str, float],
) -> list[list[object]]:
    for first, second, prob in PAIRS:
        if sku == first and second in slot_of and rng.random() < prob:
            code = max(slot_of[second], key=lambda s: stock[s])
            if stock[code] > 0:
                stock[code] -= 1
                when = moment + timedelta(seconds=rng.randint(8, 60))
                return [[device_id, when.isoformat(), code, second, f"{prices[second]:.2f}", tid]]
    return []


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's Poisson sampler (small rates only)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def seed_demo(seed: int = 42, days: int = 90, end: date | None = None) -> ImportReport:
    """Import the generated demo export (sales up to ``end``, default today), flagged ``is_demo`` so that it
    stays apart from the operator's data (services/demo_fleet); running it twice changes nothing."""
    demo = generate(seed, days, end)
    report = run_import({name: io.BytesIO(text.encode()) for name, text in demo.files.items()}, note_demo=False)
    device_ids = [d[0] for d in DEVICES]
    db.session.execute(
        update(Device)
        .where(Device.device_id.in_(device_ids))
        .values(is_demo=True)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Product)
        .where(Product.sku.in_([p[0] for p in PRODUCTS]))
        .values(is_demo=True)
        .execution_options(synchronize_session=False)
    )
    seed_content_demo(seed, end)
    return report


# Demo posts and orders for the content and email assistants (is_demo, fictitious customers on example.com).
DEMO_POSTS = [
    (
        "instagram",
        "Monday fuel: cold brew is back in the lobby machine.",
        "a cold brew can on a desk",
        "DEMO-COLDBREW-250",
    ),
    (
        "x",
        "Crisps + cola = the 3pm classic. Which flavour wins?",
        "crisps and a cola can",
        "DEMO-CHIPS-SALT;DEMO-COLA-330",
    ),
    (
        "linkedin",
        "Healthier breaks: protein bars and nuts now in every office cooler.",
        "a shelf of protein bars",
        "DEMO-PROTBAR-CHOC;DEMO-NUTMIX",
    ),
    (
        "facebook",
        "Gym reception cooler restocked with isotonic drinks for your next session.",
        "a fridge of drinks",
        "DEMO-ISO-500",
    ),
    ("instagram", "Fresh wraps every morning at the hospital machine.", "a chicken caesar wrap", "DEMO-SAND-CHICK"),
    (
        "x",
        "Sparkling water or still? Both are chilled and waiting.",
        "two water bottles",
        "DEMO-SPARK-500;DEMO-WATER-500",
    ),
    ("instagram", "Sweet tooth? Fruit gummies just landed at the station.", "a bag of gummies", "DEMO-GUMMY"),
]
DEMO_CUSTOMERS = [
    ("Alex Rivera", "alex.rivera@example.com"),
    ("Sam Okafor", "sam.okafor@example.com"),
    ("Priya Nair", "priya.nair@example.com"),
    ("Jo Lindqvist", "jo.lindqvist@example.com"),
]
ORDER_STATES = ("delivered", "failed", "shipped", "paid", "refunded", "delivered", "cancelled", "delivered")


def generate_content(seed: int = 42, end: date | None = None) -> dict[str, str]:
    """posts.csv (the last two weeks) and orders.csv for the demo, deterministic per seed and day."""
    rng = random.Random(seed * 7919 + 17)
    end = end or datetime.now(UTC).date()
    posts: list[list[object]] = []
    for i, (platform, text, media, skus) in enumerate(DEMO_POSTS):
        day = end - timedelta(days=14 - 2 * i)  # the newest one yesterday: never in the future
        moment = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=rng.choice((8, 12, 17)))
        impressions = rng.randint(300, 2500)
        posts.append(
            [
                platform,
                text,
                moment.isoformat(),
                media,
                skus,
                impressions,
                int(impressions * rng.uniform(0.02, 0.08)),
                rng.randint(0, 12),
                rng.randint(0, 9),
                rng.randint(0, 40),
            ]
        )
    orders: list[list[object]] = []
    for i, status in enumerate(ORDER_STATES):
        name, email = DEMO_CUSTOMERS[i % len(DEMO_CUSTOMERS)]
        ordered = datetime.combine(end - timedelta(days=1 + 4 * i), datetime.min.time(), tzinfo=UTC) + timedelta(
            hours=9 + i
        )
        items = ";".join(f"{rng.choice(PRODUCTS)[0]}:{rng.randint(1, 3)}" for _ in range(rng.randint(1, 3)))
        expected = (end + timedelta(days=2)).isoformat() if status in ("shipped", "paid") else ""
        orders.append([f"DEMO-ORD-{1001 + i}", status, ordered.isoformat(), name, email, items, expected])
    return {
        "posts.csv": _csv(
            [
                "platform",
                "text",
                "posted_at",
                "media_description",
                "products",
                "impressions",
                "likes",
                "comments",
                "shares",
                "clicks",
            ],
            posts,
        ),
        "orders.csv": _csv(
            [
                "order_number",
                "status",
                "ordered_at",
                "customer_name",
                "customer_email",
                "items",
                "expected_delivery_at",
            ],
            orders,
        ),
    }


def seed_content_demo(seed: int = 42, end: date | None = None) -> None:
    """Import the demo posts and orders up to ``end`` (None = today), flagged is_demo; running it twice changes
    nothing."""
    from services.imports.orders_file import import_orders
    from services.imports.posts_file import import_posts

    files = generate_content(seed, end)
    import_posts(io.BytesIO(files["posts.csv"].encode()), demo=True)
    import_orders(io.BytesIO(files["orders.csv"].encode()), demo=True)
