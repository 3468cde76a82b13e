"""Demo data never mixes with real data: priors, candidates and proposals; removal; the import report."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from extensions import db
from models import CustomerOrder, Device, PlanogramVersion, Product, Sale, SalesWeekly, Slot, SocialPost
from services.demo_catalog import DEVICES as DEMO_DEVICES
from services.merchandising.data import fleet_priors, load_device, model_for
from tests.demo_fleet import clear_device_caches, seed_fleet

END = date(2026, 11, 10)  # the demo's last day of sales: fixed, so the suite never depends on today
REAL = "R-OFF-1"  # a real 4 x 5 office combo with 12 of its 20 slots stocked: room for the optimiser to add
DEMO_OFFICE = "DEMO-OFF-01"
REAL_PRODUCTS = {  # sku: (category, price, unit cost, temperature, units/day)
    "R-COLA": ("soft drinks", 1.80, 0.60, "chilled", 2.0),
    "R-WATER": ("water", 1.20, 0.20, "chilled", 1.5),
    "R-LATTE": ("coffee", 2.90, 1.10, "chilled", 1.2),
    "R-CHIPS": ("crisps", 1.50, 0.45, "ambient", 1.4),
    "R-CHOC": ("chocolate", 1.40, 0.50, "ambient", 1.0),
    "R-NUTS": ("health snacks", 2.20, 0.90, "ambient", 0.6),
    "R-GUM": ("candy", 0.90, 0.30, "ambient", 0.0),  # in the catalogue, never stocked
}
REAL_PLANOGRAM = {
    "A1": "R-CHIPS",
    "A2": "R-CHIPS",
    "A3": "R-CHOC",
    "B1": "R-NUTS",
    "B2": "R-CHOC",
    "C1": "R-COLA",
    "C2": "R-COLA",
    "C3": "R-WATER",
    "D1": "R-LATTE",
    "D2": "R-WATER",
    "D3": "R-LATTE",
    "C4": "R-COLA",
}


def real_fleet() -> dict[str, str]:
    """An operator's own small export: two devices, seven products, 30 days of steady vends up to END."""
    products = "sku,name,category,price,unit_cost,width_mm,height_mm,depth_mm,temperature\n" + "".join(
        f"{sku},{sku.title()},{cat},{price:.2f},{cost:.2f},60,150,60,{temp}\n"
        for sku, (cat, price, cost, temp, _) in REAL_PRODUCTS.items()
    )
    devices = (
        "device_id,name,venue_type,cabinet_type,rows,columns,slot_width_mm,slot_height_mm,slot_depth_mm,"
        f"capacity,service_interval_days\n{REAL},Our HQ lobby,office,combo,4,5,80,210,560,8,7\n"
        "R-GYM-1,Our gym,gym,refrigerated,2,3,80,230,500,10,3\n"
    )
    gym = {"A1": "R-WATER", "A2": "R-COLA", "B1": "R-WATER"}
    planograms = "device_id,slot,sku,capacity\n" + "".join(
        f"{device},{slot},{sku},8\n"
        for device, plan in ((REAL, REAL_PLANOGRAM), ("R-GYM-1", gym))
        for slot, sku in sorted(plan.items())
    )
    sales = ["device_id,timestamp,slot,sku,price"]
    for day in range(30):
        when = END - timedelta(days=29 - day)
        for device, plan in ((REAL, REAL_PLANOGRAM), ("R-GYM-1", gym)):
            for n, (slot, sku) in enumerate(sorted(plan.items())):
                rate = REAL_PRODUCTS[sku][4] / sum(1 for s in plan.values() if s == sku)
                vends = int(rate * (day + 1)) - int(rate * day)  # rate/day on average, deterministic
                sales += [
                    f"{device},{when.isoformat()}T{8 + n % 10:02d}:{10 + k:02d}:00Z,{slot},{sku},"
                    f"{REAL_PRODUCTS[sku][1]:.2f}"
                    for k in range(vends)
                ]
    return {
        "products.csv": products,
        "devices.csv": devices,
        "planograms.csv": planograms,
        "sales.csv": "\n".join(sales) + "\n",
    }


def _upload(files: dict[str, str]) -> dict[str, Any]:
    return {name: (io.BytesIO(text.encode()), name) for name, text in files.items()}


@pytest.fixture
def mixed(app: Flask, client: Any, merchandiser: dict[str, Any]) -> dict[str, Any]:
    """The demo fleet seeded for a fixed day, then the operator's own export imported over the API."""
    seed_fleet(app, seed=4, days=30, end=END)
    response = client.post("/api/imports", headers=merchandiser["headers"], data=_upload(real_fleet()))
    assert response.status_code == 200, response.json
    return response.json


def _demo_skus(items: Any) -> set[str]:
    return {s for s in re.findall(r"DEMO-[A-Z0-9-]+", repr(items)) if not s.startswith("DEMO-OFF")}


def test_real_device_proposals_candidates_and_priors_hold_no_demo_sku(
    mixed: dict[str, Any], app: Flask, client: Any, merchandiser: dict[str, Any]
) -> None:
    viewer = merchandiser
    optimised = client.post("/api/planogram/optimize", json={"device_id": REAL}, headers=viewer["headers"])
    assert optimised.status_code == 200, optimised.json
    proposal = {slot: v["sku"] for slot, v in optimised.json["planogram"].items()}
    assert proposal and not any(sku.startswith("DEMO-") for sku in proposal.values())
    with app.app_context():
        data = load_device(REAL)
        assert set(data.products) == set(REAL_PRODUCTS)  # the optimiser's candidates: the operator's catalogue
        assert not data.is_demo and "DEMO-WATER-500" in data.hidden_skus
        assert not _demo_skus(model_for(data).skus)
        priors = fleet_priors(REAL, "office")  # what model_for shrinks this device toward
        assert set(priors.sku_rate) == {"R-COLA", "R-WATER"}  # R-GYM-1's skus: the one other real device
        demo = load_device(DEMO_OFFICE)  # the other way round: the demo keeps to itself
        assert demo.is_demo and not any(sku.startswith("R-") for sku in demo.products)
        assert not any(sku.startswith("R-") for sku in fleet_priors(DEMO_OFFICE, "office", demo=True).sku_rate)
    dropped = client.post(
        "/api/planogram/realtime-score",
        headers=viewer["headers"],
        json={"device_id": REAL, "sku": "DEMO-WATER-500", "slot": "D4"},
    )
    assert dropped.status_code == 422
    assert [d["reason"] for d in dropped.json["error"]["details"]] == [
        f"sku 'DEMO-WATER-500' is demo data, kept apart from the real device {REAL}"
    ]
    scored = client.post(
        "/api/planogram/realtime-score",
        headers=viewer["headers"],
        json={"device_id": REAL, "sku": "R-GUM", "slot": "A4"},
    )
    assert scored.status_code == 200


def test_backtests_fit_each_device_with_its_own_sides_priors(
    mixed: dict[str, Any], app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.merchandising import backtest
    from services.planogram.backtest import backtest_device as real_engine

    seen: dict[str, set[str]] = {}

    def engine(data: Any, settings: Any) -> Any:
        seen[data.cabinet.device_id] = set(data.priors.sku_rate)
        return real_engine(data, settings)

    monkeypatch.setattr(backtest, "backtest_device", engine)
    with app.app_context():
        for device_id in (REAL, DEMO_OFFICE):
            backtest.run_device(load_device(device_id), 14)
    assert seen[REAL] == {"R-COLA", "R-WATER"}  # R-GYM-1's skus: no demo product is a real device's prior
    assert seen[DEMO_OFFICE] and not any(sku.startswith("R-") for sku in seen[DEMO_OFFICE])


def test_personalisation_and_batch_of_a_real_device_suggest_no_demo_product(
    mixed: dict[str, Any], app: Flask, client: Any, merchandiser: dict[str, Any]
) -> None:
    personal = client.post(
        "/api/planogram/location-personalize", json={"device_id": REAL}, headers=merchandiser["headers"]
    )
    assert personal.status_code == 200 and not _demo_skus(personal.json)
    fleet = client.post("/api/planogram/affinity-analysis", json={"min_count": 2}, headers=merchandiser["headers"])
    assert fleet.status_code == 200 and fleet.json["device_ids"] == ["R-GYM-1", REAL]  # the real fleet only
    assert not _demo_skus(fleet.json)
    demo = client.post(
        "/api/planogram/affinity-analysis", json={"device_id": DEMO_OFFICE}, headers=merchandiser["headers"]
    )
    assert demo.status_code == 200 and demo.json["device_ids"] == [DEMO_OFFICE]
    from services.merchandising.editor import editor_state

    with app.app_context():
        palette = {p["sku"] for p in editor_state(REAL, "merchandiser", False, "EUR")["products"]}
        demo_palette = {p["sku"] for p in editor_state(DEMO_OFFICE, "merchandiser", False, "EUR")["products"]}
    assert palette == set(REAL_PRODUCTS)
    assert demo_palette and not any(sku.startswith("R-") for sku in demo_palette)


def test_batch_keeps_each_device_to_its_own_side(
    mixed: dict[str, Any], app: Flask, client: Any, merchandiser: dict[str, Any]
) -> None:
    from tests.api.test_versions_and_jobs import _wait
    from tests.conftest import REDIS_MODE

    started = client.post(
        "/api/planogram/batch-optimize",
        headers=merchandiser["headers"],
        json={"device_ids": [REAL, "R-GYM-1", DEMO_OFFICE]},
    )
    assert started.status_code == 202
    if REDIS_MODE:  # jobs wait in Redis for an RQ worker; run one here
        from rq import SimpleWorker

        from services.runtime import backends

        with app.app_context():
            SimpleWorker(["planogram"], connection=backends().redis).work(burst=True)
    body = _wait(app, client, merchandiser, started.json["job_id"], 3)
    assert body["status"] == "finished" and all(r["ok"] for r in body["results"])
    skus = {r["device_id"]: {v["sku"] for v in r["result"]["planogram"].values()} for r in body["results"]}
    assert skus[REAL] and skus["R-GYM-1"] and skus[DEMO_OFFICE]
    assert not any(s.startswith("DEMO-") for s in skus[REAL] | skus["R-GYM-1"])
    assert not any(s.startswith("R-") for s in skus[DEMO_OFFICE])


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        real = select(Device.id).where(Device.is_demo.is_(False))
        return {
            "demo_devices": db.session.scalar(select(func.count(Device.id)).where(Device.is_demo.is_(True))) or 0,
            "demo_products": db.session.scalar(select(func.count(Product.id)).where(Product.is_demo.is_(True))) or 0,
            "real_devices": db.session.scalar(select(func.count(Device.id)).where(Device.is_demo.is_(False))) or 0,
            "real_products": db.session.scalar(select(func.count(Product.id)).where(Product.is_demo.is_(False))) or 0,
            "real_sales": db.session.scalar(select(func.count(Sale.id)).where(Sale.device_pk.in_(real))) or 0,
            "real_slots": db.session.scalar(select(func.count(Slot.id)).where(Slot.device_pk.in_(real))) or 0,
            "real_versions": db.session.scalar(
                select(func.count(PlanogramVersion.id)).where(PlanogramVersion.device_pk.in_(real))
            )
            or 0,
            "sales": db.session.scalar(select(func.count(Sale.id))) or 0,
            "real_weekly": db.session.scalar(select(func.sum(SalesWeekly.units)).where(SalesWeekly.device_pk.in_(real)))
            or 0,
            "weekly": db.session.scalar(select(func.sum(SalesWeekly.units))) or 0,
            "slots": db.session.scalar(select(func.count(Slot.id))) or 0,
            "versions": db.session.scalar(select(func.count(PlanogramVersion.id))) or 0,
            "demo_posts": db.session.scalar(select(func.count(SocialPost.id)).where(SocialPost.is_demo.is_(True))) or 0,
            "demo_orders": db.session.scalar(
                select(func.count(CustomerOrder.id)).where(CustomerOrder.is_demo.is_(True))
            )
            or 0,
        }


def test_demo_remove_is_admin_only_deletes_all_demo_and_nothing_real_and_is_idempotent(
    mixed: dict[str, Any], app: Flask, client: Any, make_user: Any, admin: dict[str, Any]
) -> None:
    before = _counts(app)
    with app.app_context():
        priors_with_demo = fleet_priors(REAL, "office")
    assert before["demo_devices"] == len(DEMO_DEVICES) and before["demo_posts"] and before["demo_orders"]
    for role in ("viewer", "merchandiser", "marketer"):
        denied = client.delete("/api/admin/demo", headers=make_user(role)["headers"])
        assert denied.status_code == 403 and denied.json["error"]["code"] == "forbidden"
    assert _counts(app) == before
    removed = client.delete("/api/admin/demo", headers=admin["headers"])
    assert removed.status_code == 200, removed.json
    body = removed.json
    assert body["removed"]["devices"] == len(DEMO_DEVICES) and body["removed"]["products"] == before["demo_products"]
    assert body["device_ids"] == sorted(d[0] for d in DEMO_DEVICES) and body["kept_products"] == []
    after = _counts(app)
    real = {k: v for k, v in before.items() if k.startswith("real_")}
    assert {k: v for k, v in after.items() if k.startswith("real_")} == real  # nothing real touched
    assert after["demo_devices"] == after["demo_products"] == after["demo_posts"] == after["demo_orders"] == 0
    assert (after["sales"], after["weekly"], after["slots"], after["versions"]) == (
        real["real_sales"],
        real["real_weekly"],
        real["real_slots"],
        real["real_versions"],
    )  # no orphan rows of demo devices
    again = client.delete("/api/admin/demo", headers=admin["headers"])
    assert again.status_code == 200 and again.json["total"] == 0
    assert _counts(app) == after
    assert client.get("/api/admin/demo", headers=admin["headers"]).json == {
        "devices": 0,
        "products": 0,
        "present": False,
        "message": None,
    }
    clear_device_caches()
    with app.app_context():
        assert fleet_priors(REAL, "office") == priors_with_demo  # the demo never was part of the real priors
    optimised = client.post("/api/planogram/optimize", json={"device_id": REAL}, headers=admin["headers"])
    assert optimised.status_code == 200  # the real fleet still works without the demo


def test_demo_products_a_real_device_uses_are_kept(
    app: Flask, client: Any, merchandiser: dict[str, Any], admin: dict[str, Any]
) -> None:
    seed_fleet(app, seed=4, days=7, end=END)
    files = real_fleet()
    files["planograms.csv"] += f"{REAL},D4,DEMO-WATER-500,8\n"  # the operator stocks a demo product
    assert client.post("/api/imports", headers=merchandiser["headers"], data=_upload(files)).status_code == 200
    body = client.delete("/api/admin/demo", headers=admin["headers"]).json
    assert body["kept_products"] == ["DEMO-WATER-500"]
    with app.app_context():
        assert load_device(REAL).products.keys() >= {"DEMO-WATER-500"}  # its own product stays a candidate
    note = client.get("/api/admin/demo", headers=admin["headers"]).json
    assert note["devices"] == 0 and note["products"] == 1


def test_session_delete_needs_csrf(mixed: dict[str, Any], client: Any, admin: dict[str, Any]) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    login = client.post(
        "/login", data={"email": admin["email"], "password": admin["password"], "csrf_token": token.group(1)}
    )
    assert login.status_code == 302
    fleet = client.get("/").get_data(as_text=True)
    assert 'id="demo-remove"' in fleet and f"Demo fleet: {len(DEMO_DEVICES)} machine(s)" in fleet
    assert client.delete("/api/admin/demo").status_code == 400  # a cookie session without the token
    assert client.get("/api/admin/demo").json["devices"] == len(DEMO_DEVICES)
    meta = re.search(r'name="csrf-token" content="([^"]+)"', fleet)
    assert meta
    assert client.delete("/api/admin/demo", headers={"X-CSRFToken": meta.group(1)}).status_code == 200
    assert 'id="demo-remove"' not in client.get("/").get_data(as_text=True)


def test_fleet_page_shows_no_remove_button_to_other_roles(
    mixed: dict[str, Any], client: Any, merchandiser: dict[str, Any]
) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post(
        "/login",
        data={"email": merchandiser["email"], "password": merchandiser["password"], "csrf_token": token.group(1)},
    )
    fleet = client.get("/").get_data(as_text=True)
    assert f"Demo fleet: {len(DEMO_DEVICES)} machine(s)" in fleet and "An admin can remove it" in fleet
    assert 'id="demo-remove"' not in fleet


def test_import_report_says_when_demo_data_is_present(
    mixed: dict[str, Any], client: Any, merchandiser: dict[str, Any]
) -> None:
    demo = mixed["demo"]
    assert demo["present"] and demo["devices"] == len(DEMO_DEVICES)
    assert demo["message"].startswith(f"Demo fleet present: {len(DEMO_DEVICES)} device(s)")
    assert "kept apart from yours" in demo["message"] and "flask demo remove" in demo["message"]
    assert demo["message"] in mixed["notes"]
    dry = client.post("/api/planogram/validate-data", headers=merchandiser["headers"], data=_upload(real_fleet()))
    assert dry.json["valid"] and dry.json["demo"]["devices"] == len(DEMO_DEVICES)


def test_import_report_is_silent_without_demo_data(client: Any, merchandiser: dict[str, Any]) -> None:
    response = client.post("/api/imports", headers=merchandiser["headers"], data=_upload(real_fleet()))
    assert response.status_code == 200
    assert response.json["demo"] is None and not any("Demo fleet" in n for n in response.json["notes"])


def test_cli_demo_remove_prints_what_it_removed_and_is_remembered(app: Flask, runner: Any, tmp_path: Path) -> None:
    seeded = runner.invoke(args=["demo", "seed", "--seed", "4", "--days", "7", "--end", END.isoformat()])
    assert seeded.exit_code == 0, seeded.output
    status = runner.invoke(args=["demo", "status"])
    assert status.output.startswith(f"Demo fleet present: {len(DEMO_DEVICES)} device(s)")
    first = runner.invoke(args=["demo", "remove"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Demo fleet removed: ") and f"{len(DEMO_DEVICES)} devices" in first.output
    second = runner.invoke(args=["demo", "remove"])
    assert second.exit_code == 0 and "nothing removed" in second.output
    # `make run` seeds with --if-empty: a removed demo does not come back on the next start ...
    skipped = runner.invoke(args=["seed-demo", "--if-empty", "--days", "7", "--end", END.isoformat()])
    assert skipped.exit_code == 0 and "was removed" in skipped.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Device.id))) == 0
    # ... until someone asks for it explicitly (the old command name still works).
    back = runner.invoke(args=["seed-demo", "--days", "7", "--end", END.isoformat()])
    assert back.exit_code == 0 and "Demo fleet seeded" in back.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Device.id))) == len(DEMO_DEVICES)
