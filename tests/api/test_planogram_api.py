"""Planogram analysis endpoints over a seeded demo fleet: real numbers, clear 404/422s, roles."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.demo_fleet import seed_fleet

OFFICE = "DEMO-OFF-01"  # combo 6x8: rows A-C ambient, D-F chilled


@pytest.fixture
def fleet(app: Flask) -> None:
    seed_fleet(app, seed=4, days=45)


def post(client: Any, user: dict[str, Any], path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/planogram/{path}", json=body, headers=user["headers"])


@pytest.mark.usefixtures("fleet")
def test_realtime_score_of_a_good_and_a_rule_breaking_drop(client: Any, viewer: dict[str, Any]) -> None:
    good = post(client, viewer, "realtime-score", {"device_id": OFFICE, "sku": "DEMO-WATER-500", "slot": "E2"})
    assert good.status_code == 200
    body = good.json
    assert 0 < body["score"] <= 100 and body["violations"] == []
    assert body["predicted_units_per_day"] > 0
    assert {r["kind"] for r in body["reasons"]} >= {"position"}
    warm = post(client, viewer, "realtime-score", {"device_id": OFFICE, "sku": "DEMO-WATER-500", "slot": "A2"})
    assert warm.json["score"] == 0
    assert [v["rule_id"] for v in warm.json["violations"]] == ["temperature"]


@pytest.mark.usefixtures("fleet")
def test_realtime_score_uses_the_unsaved_editor_state(client: Any, viewer: dict[str, Any]) -> None:
    base = {"device_id": OFFICE, "sku": "DEMO-CHIPS-SALT", "slot": "A1"}
    saved = post(client, viewer, "realtime-score", base).json
    emptied = {f"{r}{c}": None for r in "ABCDEF" for c in range(1, 9)}
    alone = post(client, viewer, "realtime-score", {**base, "planogram": emptied}).json
    assert alone["delta_revenue_per_day"] != saved["delta_revenue_per_day"]


@pytest.mark.usefixtures("fleet")
def test_unknown_device_sku_and_slot_are_named(client: Any, viewer: dict[str, Any]) -> None:
    missing = post(client, viewer, "realtime-score", {"device_id": "NOPE", "sku": "X", "slot": "A1"})
    assert missing.status_code == 404 and missing.json["error"]["details"] == {"device_id": "NOPE"}
    bad = post(client, viewer, "realtime-score", {"device_id": OFFICE, "sku": "NOPE", "slot": "Z9"})
    assert bad.status_code == 422
    assert {(d["field"], d["reason"]) for d in bad.json["error"]["details"]} == {
        ("slot", f"unknown slot 'Z9' for device {OFFICE}"),
        ("sku", "unknown sku 'NOPE'"),
    }
    malformed = post(client, viewer, "predict-revenue", {"device_id": OFFICE, "planogram": {"A1": 5, "Q7": "x"}})
    assert malformed.status_code == 422
    assert "planogram.A1" in {d["field"] for d in malformed.json["error"]["details"]}
    extra = post(client, viewer, "heat-zone-analysis", {"device_id": OFFICE, "surprise": 1})
    assert extra.status_code == 422 and extra.json["error"]["details"][0]["field"] == "surprise"


@pytest.mark.usefixtures("fleet")
def test_validate_constraints_reports_hard_and_must_stock(client: Any, viewer: dict[str, Any]) -> None:
    body = {
        "device_id": OFFICE,
        "planogram": {"A1": "DEMO-COLA-330", "E1": "DEMO-WATER-500"},
        "constraints": {"must_stock": ["DEMO-SAND-HAM"]},
    }
    result = post(client, viewer, "validate-constraints", body).json
    assert result["valid"] is False
    rules = {(v["rule_id"], v["severity"], v["slot"]) for v in result["violations"]}
    assert ("temperature", "hard", "A1") in rules
    assert any(r == "must_stock" and s == "hard" for r, s, _ in rules)


@pytest.mark.usefixtures("fleet")
def test_optimise_never_breaks_hard_rules_keeps_locks_and_improves(
    client: Any, merchandiser: dict[str, Any], viewer: dict[str, Any]
) -> None:
    current = client.get(f"/api/devices/{OFFICE}/planogram", headers=viewer["headers"]).json["slots"]
    locked = sorted(current)[:2]
    result = post(
        client,
        merchandiser,
        "optimize",
        {"device_id": OFFICE, "locked_slots": locked, "must_stock": ["DEMO-WATER-500"]},
    )
    assert result.status_code == 200, result.json
    body = result.json
    proposed = {slot: v["sku"] for slot, v in body["planogram"].items()}
    assert all(proposed[s] == current[s]["sku"] for s in locked)
    assert "DEMO-WATER-500" in proposed.values()
    assert body["objective_name"] == "margin" and body["margin_per_day"] >= body["current_margin_per_day"] - 1e-6
    check = post(
        client,
        viewer,
        "validate-constraints",
        {"device_id": OFFICE, "planogram": proposed, "constraints": {"must_stock": ["DEMO-WATER-500"]}},
    ).json
    assert [v for v in check["violations"] if v["severity"] == "hard"] == []


@pytest.mark.usefixtures("fleet")
def test_infeasible_constraints_are_422(client: Any, merchandiser: dict[str, Any]) -> None:
    # A ham sandwich box (140 mm) fits no 80 mm slot of this cabinet.
    response = post(client, merchandiser, "optimize", {"device_id": OFFICE, "must_stock": ["DEMO-SAND-HAM"]})
    assert response.status_code == 422
    assert "DEMO-SAND-HAM" in response.json["error"]["details"][0]["reason"]


@pytest.mark.usefixtures("fleet")
def test_viewer_cannot_optimise(client: Any, viewer: dict[str, Any]) -> None:
    assert post(client, viewer, "optimize", {"device_id": OFFICE}).status_code == 403
    assert post(client, viewer, "batch-optimize", {}).status_code == 403


@pytest.mark.usefixtures("fleet")
def test_predict_revenue_of_the_current_planogram_has_zero_delta(client: Any, viewer: dict[str, Any]) -> None:
    current = client.get(f"/api/devices/{OFFICE}/planogram", headers=viewer["headers"]).json["slots"]
    body = post(
        client, viewer, "predict-revenue", {"device_id": OFFICE, "planogram": {s: v["sku"] for s, v in current.items()}}
    ).json
    assert abs(body["delta_revenue_per_day"]) < 1e-6
    assert body["revenue_per_day"] > 0 and len(body["per_slot"]) == len(current)


@pytest.mark.usefixtures("fleet")
def test_heat_zones_affinity_forecast_personalize(client: Any, viewer: dict[str, Any]) -> None:
    heat = post(client, viewer, "heat-zone-analysis", {"device_id": OFFICE}).json
    assert len(heat["weights"]) == 6 and len(heat["weights"][0]) == 8
    assert heat["row_weights"][1] > heat["row_weights"][5]  # the demo plants eye-level rows
    pairs = post(client, viewer, "affinity-analysis", {}).json["pairs"]
    found = {frozenset((p["sku_a"], p["sku_b"])) for p in pairs}
    assert frozenset(("DEMO-SAND-CHICK", "DEMO-SPARK-500")) in found  # planted by the demo generator
    forecast = post(client, viewer, "demand-forecast", {"device_id": OFFICE, "horizon_days": 5}).json
    assert len(forecast["days"]) == 5 and all(len(s["demand"]) == 5 for s in forecast["per_sku"])
    personal = post(client, viewer, "location-personalize", {"device_id": OFFICE})
    assert personal.status_code == 200 and isinstance(personal.json["changes"], list)


def _stocked_and_absent(app: Flask) -> tuple[set[str], list[str]]:
    from services.merchandising.data import load_device

    with app.app_context():
        data = load_device(OFFICE)
        stocked = set(data.planogram.mapping().values())
        return stocked, sorted(set(data.products) - stocked)


@pytest.mark.usefixtures("fleet")
def test_optimise_limits_new_skus(app: Flask, client: Any, merchandiser: dict[str, Any]) -> None:
    stocked, absent = _stocked_and_absent(app)
    none_new = post(client, merchandiser, "optimize", {"device_id": OFFICE, "max_new_skus": 0})
    assert none_new.status_code == 200, none_new.json
    assert {v["sku"] for v in none_new.json["planogram"].values()} <= stocked
    app.config["OPTIMIZER_MAX_NEW_SKUS"] = 1  # the default when the request omits the field
    default = post(client, merchandiser, "optimize", {"device_id": OFFICE})
    assert default.status_code == 200, default.json
    assert len({v["sku"] for v in default.json["planogram"].values()} - stocked) <= 1
    unlimited = post(client, merchandiser, "optimize", {"device_id": OFFICE, "max_new_skus": None})
    assert unlimited.status_code == 200, unlimited.json
    too_many = post(client, merchandiser, "optimize", {"device_id": OFFICE, "must_stock": absent[:2]})
    assert too_many.status_code == 422
    assert "max_new_skus" in too_many.json["error"]["details"][0]["reason"]
    assert post(client, merchandiser, "optimize", {"device_id": OFFICE, "max_new_skus": -1}).status_code == 422


@pytest.mark.usefixtures("fleet")
def test_stream_job_constraints_carry_the_new_sku_limit(app: Flask) -> None:
    from services.merchandising import stream as optimization_stream
    from services.merchandising.data import load_device

    app.config["OPTIMIZER_MAX_NEW_SKUS"] = 2
    with app.app_context():
        data = load_device(OFFICE)
        assert optimization_stream._constraints(data, []).max_new_skus == 2  # request omitted it
        assert optimization_stream._constraints(data, [], 0).max_new_skus == 0
        assert optimization_stream._constraints(data, [], None).max_new_skus is None


@pytest.mark.usefixtures("fleet")
def test_an_omitted_change_budget_is_the_configured_one(app: Flask) -> None:
    from services.merchandising import stream as optimization_stream
    from services.merchandising.data import load_device

    with app.app_context():
        data = load_device(OFFICE)
        assert optimization_stream._constraints(data, []).max_changed_slots is None  # default: no limit
        app.config["OPTIMIZER_MAX_CHANGED_SLOTS"] = 6
        assert optimization_stream._constraints(data, []).max_changed_slots == 6  # request omitted it
        assert optimization_stream._constraints(data, [], extra={"max_changed_slots": 3}).max_changed_slots == 3
        assert optimization_stream._constraints(data, [], extra={"max_changed_slots": None}).max_changed_slots is None
