"""A machine's performance summary sends its layout and baskets through the DataStructurer, fitted to the budget."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import Device, PlanogramItem, PlanogramVersion, Product, Sale, Slot
from services.llm import DataStructurer
from services.llm.settings import DEFAULT_CONTEXT_BUDGET
from services.llm.tokens import estimate_tokens
from tests.api import content_fixtures as fx
from tests.clock import FIXED_NOW

app, marketer = fx.app, fx.marketer
ROWS, COLUMNS = "ABCDEFGHIJKL", 20  # 240 slots: far more than the fast tier's 4,000-token context


def add_large_machine() -> None:
    """A 240-slot machine, each slot its own product, with a fortnight of vends in two-item baskets."""
    device = Device(
        device_id="BIG1",
        name="Station concourse",
        venue_type="transport",
        cabinet_type="ambient",
        rows=len(ROWS),
        columns=COLUMNS,
        slot_width_mm=70,
        slot_height_mm=90,
        slot_depth_mm=600,
        capacity=10,
    )
    db.session.add(device)
    db.session.flush()
    version = PlanogramVersion(device_pk=device.id, version_number=1, status="active", source="import")
    db.session.add(version)
    db.session.flush()
    for row_index, row in enumerate(ROWS):
        for col in range(1, COLUMNS + 1):
            code = f"{row}{col}"
            product = Product(
                sku=f"BIG-{code}",
                name=f"Snack {code}",
                category="snacks",
                price=1.5,
                unit_cost=0.5,
                width_mm=60,
                height_mm=80,
                depth_mm=50,
                temperature="ambient",
            )
            db.session.add(product)
            db.session.flush()
            db.session.add_all(
                [
                    Slot(
                        device_pk=device.id,
                        code=code,
                        row_index=row_index,
                        col_index=col - 1,
                        width_mm=70,
                        height_mm=90,
                        depth_mm=600,
                        capacity=10,
                        zone="standard",
                    ),
                    PlanogramItem(version_id=version.id, slot_code=code, product_id=product.id, capacity=10),
                ]
            )
            for day in range(1, 15, 3):
                moment = FIXED_NOW - timedelta(days=day, minutes=col)
                db.session.add(
                    Sale(
                        device_pk=device.id,
                        ts=moment,
                        slot_code=code,
                        product_id=product.id,
                        price=1.5,
                        transaction_id=f"T{row}{(col + 1) // 2}-{day}",
                        dedup_key=f"{code}-{day}",
                    )
                )
    db.session.commit()


def test_a_large_machine_is_trimmed_to_the_tiers_context_budget(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    with app.app_context():
        add_large_machine()
    start, end = (FIXED_NOW - timedelta(days=14)).date(), (FIXED_NOW - timedelta(days=1)).date()
    res = client.post(
        "/api/content/performance",
        json={"from": start.isoformat(), "to": end.isoformat(), "device_id": "BIG1"},
        headers=marketer["headers"],
    )
    assert res.status_code == 201, res.json
    assert not res.json["fallback_used"] and not res.json["flags"]
    prompt = fake.calls[-1].prompt
    layout = re.search(r"<planogram device=\"BIG1\">.*?</planogram>", prompt, re.DOTALL)
    fitted = re.search(r"\{\"baskets\":.*?lines truncated -->", prompt, re.DOTALL)
    baskets = fitted.group(0) if fitted else ""
    assert layout is not None
    budget = DEFAULT_CONTEXT_BUDGET["fast"]
    # The layout alone would not fit; what was sent does, cut at a row boundary with a marker.
    with app.app_context():
        from services.content import data as content_data

        full = DataStructurer().planogram(content_data.device_layout("BIG1", start, end)).render()
    assert estimate_tokens(full) > budget
    assert estimate_tokens(layout.group(0)) + estimate_tokens(baskets) <= budget
    assert "planogram lines truncated" in layout.group(0) and '<row id="A">' in layout.group(0)
    assert layout.group(0).count("<row ") < len(ROWS)
    assert '"top_pairs":["BIG-' in baskets  # pairs bought together lead the (history) block
