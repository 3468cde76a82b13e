"""Fleet priors: leave-one-out, measured over the devices that STOCKED a sku, blended toward same-venue peers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask

from extensions import db
from services.merchandising import versions
from services.merchandising.data import FLEET, PRIORS, fleet_priors
from services.planogram.priors import TRIAL_PSEUDO_COUNT, UNSTOCKED_FACTOR
from tests.csvdata import GOOD, write_folder

SALES = (
    "device_id,timestamp,slot,sku,price\n"
    + "D1,2026-11-01T08:00:00Z,B1,COLA,1.80\n" * 1
    + "".join(f"D1,2026-11-{d:02d}T09:00:00Z,A2,CHOC,1.40\n" for d in range(1, 11))
    + "".join(f"D2,2026-11-{d:02d}T10:00:00Z,A1,COLA,1.80\n" for d in range(1, 5))
)
# The priors window: from the Monday of the week 120 days before the day after the last vend to that day
# (10 November: back to Monday 13 July, 121 days; whole weeks, as sales_weekly counts them). The imported
# planograms (D1: CHIPS CHOC COLA WATER, D2: COLA WATER) cover it.
DAYS = 121
HALF = 0.5  # a sku stocked without a sale counts as half a vend over its stocked days, not as no data


@pytest.fixture
def fleet(app: Flask, runner: Any, tmp_path: Path) -> None:
    FLEET.clear()
    PRIORS.clear()
    assert (
        runner.invoke(
            args=["import-data", str(write_folder(tmp_path / "f", {"sales.csv": SALES})), "--quiet"]
        ).exit_code
        == 0
    )


@pytest.mark.usefixtures("fleet")
def test_priors_leave_the_device_itself_out(app: Flask) -> None:
    with app.app_context():
        everyone, without_d1, without_d2 = fleet_priors(), fleet_priors("D1"), fleet_priors("D2")
    assert everyone.sku_rate["COLA"] == pytest.approx(5 / DAYS / 2)  # 5 vends over 2 stocking devices
    assert everyone.sku_rate["CHOC"] == pytest.approx(10 / DAYS)
    assert everyone.sku_rate["WATER"] == pytest.approx(HALF / DAYS / 2)  # stocked at both, never sold
    # D1's own CHOC and CHIPS are not its prior; D2 (a gym, not D1's venue) is the only evidence left.
    assert without_d1.sku_rate == {"COLA": pytest.approx(4 / DAYS), "WATER": pytest.approx(HALF / DAYS)}
    assert without_d2.sku_rate == {
        "COLA": pytest.approx(1 / DAYS),
        "CHOC": pytest.approx(10 / DAYS),
        "CHIPS": pytest.approx(HALF / DAYS),
        "WATER": pytest.approx(HALF / DAYS),
    }
    assert without_d2.category_rate["chocolate"] == pytest.approx(10 / DAYS)
    assert without_d2.fleet_rate == pytest.approx((1 + 10 + HALF + HALF) / DAYS / 4)


def test_priors_lean_toward_same_venue_devices(app: Flask, runner: Any, tmp_path: Path) -> None:
    FLEET.clear()
    PRIORS.clear()
    devices = GOOD["devices.csv"] + "D3,Second office,office,combo,2,3,80,210,560,8,7\n"
    planograms = GOOD["planograms.csv"] + "D3,B1,COLA,8\n"
    sales = SALES + "".join(f"D3,2026-11-{d:02d}T11:00:00Z,B1,COLA,1.80\n" for d in range(1, 25))
    folder = write_folder(tmp_path / "v", {"devices.csv": devices, "planograms.csv": planograms, "sales.csv": sales})
    assert runner.invoke(args=["import-data", str(folder), "--quiet"]).exit_code == 0
    with app.app_context():
        office = fleet_priors("D1")  # D3 is the one other office: weight 1 / (1 + 2) on its rate
        gym = fleet_priors("D2")  # no other gym: the fleet-wide rate over D1 and D3
    fleet_wide_d1 = (4 + 24) / (2 * DAYS)
    assert office.sku_rate["COLA"] == pytest.approx((24 / DAYS + 2 * fleet_wide_d1) / 3)
    assert gym.sku_rate["COLA"] == pytest.approx((1 + 24) / (2 * DAYS))


@pytest.mark.usefixtures("fleet")
def test_priors_follow_an_import_of_new_vends_and_ignore_a_repeated_one(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    with app.app_context():
        before = fleet_priors("D2")
    again = runner.invoke(
        args=["import-data", str(write_folder(tmp_path / "same", {"sales.csv": SALES}, only=("sales.csv",))), "--quiet"]
    )
    assert again.exit_code == 0
    with app.app_context():
        assert fleet_priors("D2") is before  # nothing new: the cached fleet state still holds
    more = SALES + "".join(f"D1,2026-11-{d:02d}T12:00:00Z,B1,COLA,1.80\n" for d in range(2, 5))
    added = runner.invoke(
        args=["import-data", str(write_folder(tmp_path / "more", {"sales.csv": more}, only=("sales.csv",))), "--quiet"]
    )
    assert added.exit_code == 0
    with app.app_context():
        assert fleet_priors("D2").sku_rate["COLA"] == pytest.approx((1 + 3) / DAYS)  # D1's four COLA vends now


def test_products_added_to_machines_measure_the_unstocked_factor(app: Flask, runner: Any, tmp_path: Path) -> None:
    """A product added to a machine is a trial of a product the operator had not stocked: how it sold there
    against its fleet prior replaces the default factor, shrunk toward it (priors.TRIAL_PSEUDO_COUNT)."""
    FLEET.clear()
    PRIORS.clear()
    devices = GOOD["devices.csv"] + "D3,Second office,office,combo,2,3,80,210,560,8,7\n"
    planograms = GOOD["planograms.csv"] + "D3,B1,COLA,8\n"
    # CHOC goes into D3 on 1 October at 09:00 and sells 20 times there by the window's end (40.625 days).
    sales = SALES + "".join(f"D3,2026-10-{d:02d}T11:00:00Z,A2,CHOC,1.40\n" for d in range(2, 22))
    folder = write_folder(tmp_path / "t", {"devices.csv": devices, "planograms.csv": planograms})
    assert runner.invoke(args=["import-data", str(folder), "--quiet"]).exit_code == 0
    with app.app_context():
        assert fleet_priors("D2").unstocked_factor == pytest.approx(UNSTOCKED_FACTOR)  # no trial yet
        with time_machine.travel(datetime(2026, 10, 1, 9, 0, tzinfo=UTC), tick=False):
            versions.save("D3", {"B1": "COLA", "A2": "CHOC"}, base_version=1, author_id=None)
            db.session.commit()
    only_sales = write_folder(tmp_path / "s", {"sales.csv": sales}, only=("sales.csv",))
    assert runner.invoke(args=["import-data", str(only_sales), "--quiet"]).exit_code == 0
    with app.app_context():
        factor = fleet_priors("D2").unstocked_factor
    # D3's prior for CHOC is D1's rate (the only other stockist, also an office): 12 vends in 121 days
    # (GOOD's two and SALES' ten). D3 has too few well-sold skus to measure its level: the gap is the log ratio.
    gap = math.log((20 / 40.625) / (12 / DAYS))
    assert factor == pytest.approx(math.exp((gap + TRIAL_PSEUDO_COUNT * math.log(UNSTOCKED_FACTOR)) / 11))
    assert factor > UNSTOCKED_FACTOR  # D3 sold the product it had not stocked far better than the default says
