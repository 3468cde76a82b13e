"""POST /api/planogram/backtest and `flask backtest` over a demo fleet generated for fixed dates."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask

from extensions import db
from services.catalog import get_device
from services.demo import generate
from services.imports import run_import
from services.merchandising import backtest as backtest_service
from services.merchandising.data import DATA
from services.merchandising.store import current_assignment, save_version
from tests.demo_fleet import clear_device_caches

OFFICE = "DEMO-OFF-01"
END = date(2025, 3, 30)  # the last day of the demo's sales
CHANGED_ON = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def fleet(app: Flask) -> None:
    """The demo export for fixed dates (no clock), plus one saved planogram change on OFFICE."""
    clear_device_caches()
    backtest_service.RESULTS.clear()
    with app.app_context():
        demo = generate(seed=4, days=45, end=END)
        run_import({name: io.BytesIO(text.encode()) for name, text in demo.files.items()})
        db.session.commit()
    with app.app_context():
        device = get_device(OFFICE)
        assignment = current_assignment(device)
        a = min(assignment)
        b = min(s for s in assignment if assignment[s][0] != assignment[a][0])  # a slot holding another product
        assignment[a], assignment[b] = assignment[b], assignment[a]
        version = save_version(device, assignment, author_id=None, source="editor", note="swap two slots")
        version.created_at = CHANGED_ON
        db.session.commit()


def post(client: Any, user: dict[str, Any] | None, body: dict[str, Any]) -> Any:
    headers = user["headers"] if user else {}
    return client.post("/api/planogram/backtest", json=body, headers=headers)


@pytest.mark.usefixtures("fleet")
def test_backtest_of_one_device_reports_every_figure(client: Any, viewer: dict[str, Any]) -> None:
    response = post(client, viewer, {"device_id": OFFICE})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["holdout_days"] == 14 and body["level"] == 0.9
    [dev] = body["devices"]
    assert dev["device_id"] == OFFICE and dev["status"] == "ok" and dev["trust"] in {"good", "fair", "poor"}
    assert (dev["last_day"], dev["cutoff_day"]) == ("2025-03-30", "2025-03-16")
    assert dev["train_days"] == 45 - 14 and len(dev["days"]) == 14
    assert dev["days"][0]["date"] == "2025-03-17"
    fc = dev["forecast"]
    assert fc["wape_model"] > 0 and fc["wape_naive"] > 0
    assert fc["wape_ratio"] == pytest.approx(fc["wape_model"] / fc["wape_naive"], rel=1e-4)
    rev = dev["revenue"]
    assert rev["actual"] == pytest.approx(sum(d["actual_revenue"] for d in dev["days"]), rel=1e-6)
    assert rev["bias_pct"] == pytest.approx(100 * (rev["predicted"] / rev["actual"] - 1), rel=1e-4)
    cov = dev["coverage"]
    assert cov == {
        "level": 0.9,
        "interval": "day",
        "share": pytest.approx(cov["days_inside"] / 14),
        "days_inside": sum(d["inside"] for d in dev["days"]),
        "days": 14,
    }
    assert "over the last 14 days" in dev["verdict"]
    [change] = dev["changes"]
    assert change["version"] == 2 and change["date"] == "2025-03-10" and change["slots_changed"] == 2
    assert change["window_days"] == 14
    assert set(change["predicted"]) == {
        "revenue_per_day",
        "revenue_pct",
        "revenue_interval",
        "margin_per_day",
        "margin_pct",
    }
    realised = change["realised"]
    assert realised["revenue_per_day"] == pytest.approx(
        realised["revenue_after_per_day"] - realised["revenue_before_per_day"], abs=1e-5
    )
    assert body["summary"]["devices"] == 1 and body["summary"]["changes"] == 1


@pytest.mark.usefixtures("fleet")
def test_backtest_of_the_fleet_and_a_shorter_holdout(client: Any, merchandiser: dict[str, Any]) -> None:
    body = post(client, merchandiser, {"holdout_days": 7}).json
    assert body["holdout_days"] == 7 and len(body["devices"]) == 7
    assert [d["device_id"] for d in body["devices"]] == sorted(d["device_id"] for d in body["devices"])
    for dev in body["devices"]:  # held out: the 7 days after each device's last day with sales
        assert len(dev["days"]) == 7 and dev["days"][-1]["date"] == dev["last_day"]
    assert body["summary"]["devices_ok"] == 7


@pytest.mark.usefixtures("fleet")
def test_backtest_needs_auth_a_known_device_and_a_sane_holdout(client: Any, admin: dict[str, Any]) -> None:
    assert post(client, None, {"device_id": OFFICE}).status_code == 401
    missing = post(client, admin, {"device_id": "NOPE"})
    assert missing.status_code == 404 and missing.json["error"]["details"] == {"device_id": "NOPE"}
    for bad in (6, 61, "x"):
        response = post(client, admin, {"device_id": OFFICE, "holdout_days": bad})
        assert response.status_code == 422
        assert response.json["error"]["details"][0]["field"] == "holdout_days"
    extra = post(client, admin, {"device_id": OFFICE, "level": 0.8})
    assert extra.status_code == 422 and extra.json["error"]["details"][0]["field"] == "level"


def test_a_device_without_enough_sales_says_so(app: Flask, client: Any, viewer: dict[str, Any]) -> None:
    from tests.csvdata import GOOD

    DATA.clear()
    with app.app_context():
        run_import({name: io.BytesIO(text.encode()) for name, text in GOOD.items()})
        db.session.commit()
    dev = post(client, viewer, {"device_id": "D1"}).json["devices"][0]
    assert dev["status"] == "insufficient_data" and dev["forecast"] is None and dev["days"] == []
    assert dev["verdict"].startswith("Only 1 days of sales")


@pytest.mark.usefixtures("fleet")
def test_cli_prints_a_table_and_fails_on_an_unknown_device(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backtest", "--device", OFFICE, "--holdout-days", "14"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:3] == ["device", "trust", "bias"]
    assert lines[2].startswith(OFFICE)
    assert any(line.startswith(f"  {OFFICE} v2 on 2025-03-10 (2 slots, 14 days each side)") for line in lines)
    assert lines[-1].startswith("Fleet: 1 of 1 devices checked")
    everyone = runner.invoke(args=["backtest"])
    assert everyone.exit_code == 0 and "Fleet: 7 of 7 devices checked" in everyone.output
    unknown = runner.invoke(args=["backtest", "--device", "NOPE"])
    assert unknown.exit_code != 0 and "Device 'NOPE' not found" in unknown.output
    bad = runner.invoke(args=["backtest", "--holdout-days", "3"])
    assert bad.exit_code != 0 and "--holdout-days" in bad.output
