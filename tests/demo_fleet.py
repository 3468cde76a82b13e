"""The seeded demo fleet most API tests start from, with the device caches emptied first."""

from __future__ import annotations

from datetime import date

from flask import Flask

from extensions import db
from services.demo import seed_demo
from services.merchandising.data import DATA, FLEET, MODELS, PRIORS
from tests.clock import DEMO_END


def clear_device_caches() -> None:
    """Forget every device's cached data, fleet sales, priors and fitted model (they outlive one test's app)."""
    for cache in (MODELS, DATA, PRIORS, FLEET):
        cache.clear()


def seed_fleet(app: Flask, seed: int = 4, days: int = 45, end: date = DEMO_END) -> None:
    """Seed the demo fleet (sales ending on ``end``) into a fresh app, with cold device caches."""
    clear_device_caches()
    with app.app_context():
        seed_demo(seed=seed, days=days, end=end)
        db.session.commit()
