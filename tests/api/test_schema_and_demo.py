"""Migrations match the models; the demo fleet is realistic, labelled and deterministic."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import func, select

from extensions import db
from models import Device, PlanogramVersion, Product, Sale
from services.demo import PAIRS, generate
from tests.clock import DEMO_END


def test_migrations_match_models(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_seed_demo_builds_a_labelled_fleet_and_is_idempotent(app: Flask, runner: Any) -> None:
    first = runner.invoke(args=["seed-demo", "--seed", "3", "--days", "30", "--end", DEMO_END.isoformat()])
    assert first.exit_code == 0, first.output
    with app.app_context():
        devices = list(db.session.scalars(select(Device)))
        assert len(devices) >= 6 and all(d.is_demo and d.name.startswith("Demo:") for d in devices)
        assert db.session.scalar(select(func.count(Product.id)).where(Product.is_demo.is_(False))) == 0
        assert len({d.venue_type for d in devices}) >= 5 and {d.cabinet_type for d in devices} == {
            "combo",
            "refrigerated",
            "ambient",
        }
        assert (db.session.scalar(select(func.count(Product.id))) or 0) >= 60
        assert db.session.scalar(select(func.count(PlanogramVersion.id))) == len(devices)
        sales = db.session.scalar(select(func.count(Sale.id)))
        assert sales and sales > 1000
        first_day, last_day = db.session.execute(select(func.min(Sale.ts), func.max(Sale.ts))).one()
        assert (first_day.date(), last_day.date()) == (DEMO_END - timedelta(days=29), DEMO_END)
    again = runner.invoke(args=["seed-demo", "--seed", "3", "--days", "30", "--if-empty"])
    assert "skipped" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Sale.id))) == sales


def test_demo_generation_is_deterministic_with_weekly_position_and_basket_effects() -> None:
    end = date(2026, 11, 1)
    a, b = generate(seed=9, days=60, end=end), generate(seed=9, days=60, end=end)
    assert a.files == b.files
    assert generate(seed=10, days=60, end=end).files["sales.csv"] != a.files["sales.csv"]
    rows = [line.split(",") for line in a.files["sales.csv"].splitlines()[1:]]
    office = [r for r in rows if r[0] == "DEMO-OFF-01"]
    weekend = sum(1 for r in office if date.fromisoformat(r[1][:10]).weekday() >= 5)
    assert weekend < len(office) * 0.1  # offices are quiet at weekends
    by_row: dict[str, int] = {}
    for r in office:
        by_row[r[2][0]] = by_row.get(r[2][0], 0) + 1
    assert by_row["B"] > by_row["F"]  # eye level outsells the bottom shelf
    baskets: dict[str, set[str]] = {}
    for r in rows:
        if r[5]:
            baskets.setdefault(r[5], set()).add(r[3])
    planted = sum(1 for items in baskets.values() for x, y, _ in PAIRS if {x, y} <= items)
    assert planted > 20
