"""Fixtures shared by the content, email and review API tests (imported by name into those modules).

`app` is the real app with the real prompts/ synced, a small catalogue with four weeks of sales ending
yesterday, and either the fake provider (real Anthropic SDK over HTTP) or no provider (embedded mode):
parametrize `provider` with None for the latter.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from extensions import db
from services.imports import run_import
from tests.clock import FIXED_NOW
from tests.csvdata import GOOD

# Units sold per day in the older and the newer fortnight: COLA rises, WATER falls.
DAILY = {"COLA": (2, 5), "WATER": (4, 1), "CHIPS": (2, 2), "CHOC": (1, 1)}
SLOTS = {"COLA": "B1", "WATER": "B2", "CHIPS": "A1", "CHOC": "A2"}
PRICES = {"COLA": 1.80, "WATER": 1.20, "CHIPS": 1.50, "CHOC": 1.40}


def sales_csv(today: datetime) -> str:
    """28 days of vends at D1 ending yesterday."""
    rows = ["device_id,timestamp,slot,sku,price,transaction_id"]
    for day in range(28, 0, -1):
        moment = (today - timedelta(days=day)).replace(hour=10, minute=0, second=0, microsecond=0)
        for sku, (old, new) in DAILY.items():
            for n in range(new if day <= 14 else old):
                rows.append(f"D1,{(moment + timedelta(minutes=n)).isoformat()},{SLOTS[sku]},{sku},{PRICES[sku]:.2f},")
    return "\n".join(rows) + "\n"


def seed_catalog() -> None:
    """Products, devices, planograms and sales through the normal import path."""
    files = {name: GOOD[name] for name in ("products.csv", "devices.csv", "planograms.csv")}
    files["sales.csv"] = sales_csv(FIXED_NOW)
    run_import({name: io.BytesIO(text.encode()) for name, text in files.items()})


@pytest.fixture
def app(make_llm_app: Callable[..., Flask]) -> Flask:
    app = make_llm_app()
    with app.app_context():
        seed_catalog()
        db.session.commit()
    return app


@pytest.fixture
def marketer(make_user: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_user("marketer")


@pytest.fixture
def agent(make_user: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_user("agent")


def answer(**fields: Any) -> str:
    """A provider answer: the JSON object a feature asks for."""
    return json.dumps(fields)


CAPTION_OK = answer(
    caption="Ice-cold cola, right by the lift.",
    character_count=33,
    style="casual",
    alt_text="A can of cola in a vending machine.",
    confidence=0.9,
)
