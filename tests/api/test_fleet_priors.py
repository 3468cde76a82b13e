"""Fleet priors: a device's shrinkage targets come from the other devices' vends only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from services.planogram_data import FLEET, PRIORS, fleet_priors
from tests.csvdata import write_folder

SALES = (
    "device_id,timestamp,slot,sku,price\n"
    + "D1,2026-11-01T08:00:00Z,B1,COLA,1.80\n" * 1
    + "".join(f"D1,2026-11-{d:02d}T09:00:00Z,A2,CHOC,1.40\n" for d in range(1, 11))
    + "".join(f"D2,2026-11-{d:02d}T10:00:00Z,A1,COLA,1.80\n" for d in range(1, 5))
)


@pytest.fixture
def fleet(app: Flask, runner: Any, tmp_path: Path) -> None:
    FLEET.clear()
    PRIORS.clear()
    assert runner.invoke(args=["import-data", str(write_folder(tmp_path / "f", {"sales.csv": SALES})),
                               "--quiet"]).exit_code == 0


@pytest.mark.usefixtures("fleet")
def test_priors_leave_the_device_itself_out(app: Flask) -> None:
    with app.app_context():
        everyone, without_d1, without_d2 = fleet_priors(), fleet_priors("D1"), fleet_priors("D2")
    days = 120  # the priors window
    assert everyone.sku_rate["COLA"] == pytest.approx(5 / days / 2)  # 5 vends over 2 devices
    assert everyone.sku_rate["CHOC"] == pytest.approx(10 / days)
    assert without_d1.sku_rate == {"COLA": pytest.approx(4 / days)}  # D1's CHOC is not its own prior
    assert without_d2.sku_rate == {"COLA": pytest.approx(1 / days), "CHOC": pytest.approx(10 / days)}
    assert without_d2.category_rate == {"soft drinks": pytest.approx(1 / days), "chocolate": pytest.approx(10 / days)}
    assert without_d2.fleet_rate == pytest.approx((1 / days + 10 / days) / 2)
