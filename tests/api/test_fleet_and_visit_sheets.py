"""Fleet view figures, visit sheets and pick lists, the users admin API and the HTML error pages (issue 13)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from extensions import db
from services.demo import seed_demo
from services.merchandising import fleet
from services.merchandising.visit_sheets import slot_steps
from services.planogram import Planogram
from tests.clock import DEMO_END
from tests.demo_fleet import seed_fleet
from tests.waiting import wait_for

pytestmark = pytest.mark.usefixtures("rq_worker")  # Redis mode: the fleet and batch jobs need a worker
GYM = "DEMO-GYM-01"  # refrigerated 5 x 8
OFFICE = "DEMO-OFF-01"
SEEDED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def seeded(app: Flask) -> None:
    with time_machine.travel(SEEDED, tick=False):
        seed_fleet(app, seed=4, days=30, end=SEEDED.date() - timedelta(days=1))


def sign_in(client: FlaskClient, user: dict[str, Any]) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/login", data={"email": user["email"], "password": user["password"], "csrf_token": token}
        ).status_code
        == 302
    )


def wait_for_figures(client: FlaskClient, user: dict[str, Any]) -> dict[str, Any]:
    """The fleet once the background job has computed every machine's figures."""
    seen: dict[str, Any] = {}

    def computed() -> bool:
        seen.update(client.get("/api/fleet", headers=user["headers"]).json or {})
        return seen["pending"] == 0

    wait_for(computed, "the fleet figures were computed")
    return seen


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- fleet view --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_fleet_figures_come_from_a_background_job_and_are_cached_per_data_version(
    client: FlaskClient, viewer: dict[str, Any], merchandiser: dict[str, Any]
) -> None:
    with time_machine.travel(datetime(2026, 3, 5, 12, 0, tzinfo=UTC), tick=True):
        first = client.get("/api/fleet", headers=viewer["headers"]).json
        assert first["pending"] == len(first["items"]) == 7  # nothing computed yet: the page says "computing"
        assert all(item["figures"] is None for item in first["items"])
        assert {item["days_since_change"] for item in first["items"]} == {3}
        done = wait_for_figures(client, viewer)
    gym = next(i for i in done["items"] if i["device_id"] == GYM)["figures"]
    assert gym["margin_per_day"] > 0 and gym["revenue_per_day"] > gym["margin_per_day"]
    assert isinstance(gym["stockout_slots"], list)
    opportunity = gym["opportunity"]
    assert opportunity["gain_per_day"] >= 0 and opportunity["slots_changed"] >= 0
    assert (opportunity["gain_per_day"] > 0) == (opportunity["slots_changed"] > 0)  # no gain without a change
    # a save bumps the device's data version: only its figures are computed again
    current = client.get(f"/api/devices/{GYM}/planogram", headers=viewer["headers"]).json
    slots = {s: v["sku"] for s, v in current["slots"].items()}
    slots["A1"], slots["A2"] = slots["A2"], slots["A1"]
    saved = client.post(
        f"/api/devices/{GYM}/planogram",
        headers=merchandiser["headers"],
        json={"base_version": current["version"], "slots": slots},
    )
    assert saved.status_code == 201
    again = client.get("/api/fleet", headers=viewer["headers"]).json
    assert again["pending"] == 1
    assert [i["device_id"] for i in again["items"] if i["figures"] is None] == [GYM]


def test_fleet_metrics_key_follows_the_change_budget(app: Flask) -> None:
    with app.app_context():
        seed_demo(seed=4, days=10, end=DEMO_END)
        db.session.commit()
        before = fleet.metrics_key(GYM)
        app.config["OPTIMIZER_MAX_CHANGED_SLOTS"] = 3
        assert fleet.metrics_key(GYM) != before and fleet.budget()["max_changed_slots"] == 3


# --- visit sheets ------------------------------------------------------------------------------------------


def test_slot_steps_tell_take_out_put_in_and_moves() -> None:
    before = Planogram.of({"A1": "X", "A2": "Y", "A3": "Z", "B1": "K"})
    after = Planogram.of({"A1": "Y", "A2": "W", "A4": "X", "B1": "K"})
    steps = {s["slot"]: s for s in slot_steps(before, after, ["A1", "A2", "A3", "A4", "B1"], {"Y": "Yoghurt"})}
    assert list(steps) == ["A1", "A2", "A3", "A4"]  # B1 unchanged
    assert steps["A1"]["action"] == "replace"
    assert steps["A1"]["remove"] == {"sku": "X", "name": "X", "to_slot": "A4"}
    assert steps["A1"]["add"] == {"sku": "Y", "name": "Yoghurt", "from_slot": "A2"}
    assert steps["A2"]["add"]["from_slot"] is None and steps["A2"]["remove"]["to_slot"] == "A1"
    assert steps["A3"] == {
        "slot": "A3",
        "action": "remove",
        "remove": {"sku": "Z", "name": "Z", "to_slot": None},
        "add": None,
    }
    assert steps["A4"]["action"] == "move" and steps["A4"]["add"]["from_slot"] == "A1"


@pytest.mark.usefixtures("seeded")
def test_visit_sheet_of_a_saved_change_lists_exactly_the_slot_differences(
    client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    current = client.get(f"/api/devices/{OFFICE}/planogram", headers=merchandiser["headers"]).json
    slots: dict[str, str | None] = {s: v["sku"] for s, v in current["slots"].items()}
    a, b = next((f"D{i}", f"D{i + 1}") for i in range(1, 8) if slots[f"D{i}"] != slots[f"D{i + 1}"])
    moved = slots[a]
    slots[a], slots[b] = slots[b], slots[a]  # a swap: two moves
    slots["E8"] = None  # a removal
    saved = client.post(
        f"/api/devices/{OFFICE}/planogram",
        headers=merchandiser["headers"],
        json={"base_version": current["version"], "slots": slots},
    ).json
    sign_in(client, merchandiser)
    page = client.get(f"/devices/{OFFICE}/visit-sheet?version={saved['version']}")
    assert page.status_code == 200 and b"Print or save as PDF" in page.data
    sheet = rows(client.get(f"/devices/{OFFICE}/visit-sheet.csv?version={saved['version']}").get_data(as_text=True))
    changes = {r["slot"]: r for r in sheet if r["section"] == "change"}
    assert set(changes) == {a, b, "E8"}
    assert changes[b]["add_sku"] == moved and changes[b]["add_from_slot"] == a
    assert changes["E8"]["action"] == "remove" and changes["E8"]["remove_to_slot"] == ""
    load = [r for r in sheet if r["section"] == "load"]
    assert {r["add_sku"] for r in load} == {sku for sku in slots.values() if sku}
    for r in load:  # what lasts to the next service, never more than the facings hold
        assert 0 <= int(r["load_units"]) <= int(r["capacity"])
        assert abs(int(r["load_units"]) - min(int(r["capacity"]), float(r["forecast_units"]))) <= 1


@pytest.mark.usefixtures("seeded")
def test_pick_list_sums_the_units_of_a_route_days_machines(client: FlaskClient, merchandiser: dict[str, Any]) -> None:
    sign_in(client, merchandiser)
    route = f"devices={GYM},{OFFICE}"
    assert client.get(f"/route?{route}").status_code == 200
    picks = {r["sku"]: r for r in rows(client.get(f"/route/pick-list.csv?{route}").get_data(as_text=True))}
    expected: dict[str, int] = {}
    for device in (GYM, OFFICE):
        for r in rows(client.get(f"/devices/{device}/visit-sheet.csv").get_data(as_text=True)):
            if r["section"] == "load" and int(r["load_units"]) > 0:
                expected[r["add_sku"]] = expected.get(r["add_sku"], 0) + int(r["load_units"])
    assert {sku: int(r["units"]) for sku, r in picks.items()} == expected
    assert client.get("/route?devices=").status_code == 422


@pytest.mark.usefixtures("seeded")
def test_visit_sheet_of_a_batch_proposal_and_of_the_editors_proposal(
    client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    job = client.post("/api/planogram/batch-optimize", headers=merchandiser["headers"], json={"device_ids": [GYM]}).json
    status: dict[str, Any] = {}

    def finished() -> bool:
        status.update(client.get(f"/api/jobs/{job['job_id']}", headers=merchandiser["headers"]).json or {})
        return bool(status["status"] == "finished")

    wait_for(finished, "the batch job finished")
    proposal = status["results"][0]["result"]
    sign_in(client, merchandiser)
    sheet = rows(client.get(f"/devices/{GYM}/visit-sheet.csv?job={job['job_id']}").get_data(as_text=True))
    assert len([r for r in sheet if r["section"] == "change"]) == proposal["slots_changed"]
    assert client.get(f"/devices/{GYM}/visit-sheet?job=not-a-job").status_code == 404
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    mapping = {s: v["sku"] for s, v in proposal["planogram"].items()}
    preview = client.post(
        f"/devices/{GYM}/visit-sheet", data={"proposal": __import__("json").dumps(mapping), "csrf_token": token}
    )
    assert preview.status_code == 200 and b"Proposed change (not saved yet)" in preview.data
    assert client.post(f"/devices/{GYM}/visit-sheet", data={"proposal": "[", "csrf_token": token}).status_code == 422


# --- users admin -------------------------------------------------------------------------------------------


def test_admin_changes_roles_and_deactivates_but_never_themselves(
    client: FlaskClient, admin: dict[str, Any], make_user: Any
) -> None:
    other = make_user("viewer")
    users = client.get("/api/users", headers=admin["headers"]).json["items"]
    me = next(u for u in users if u["email"] == admin["email"])
    them = next(u for u in users if u["email"] == other["email"])
    changed = client.patch(f"/api/users/{them['id']}", headers=admin["headers"], json={"role": "marketer"})
    assert changed.status_code == 200 and changed.json["role"] == "marketer"
    off = client.patch(f"/api/users/{them['id']}", headers=admin["headers"], json={"active": False})
    assert off.json["active"] is False
    assert client.get("/api/auth/me", headers=other["headers"]).status_code == 401  # tokens stop working
    assert client.patch(f"/api/users/{me['id']}", headers=admin["headers"], json={"active": False}).status_code == 409
    assert client.patch(f"/api/users/{me['id']}", headers=admin["headers"], json={"role": "viewer"}).status_code == 409
    assert client.patch("/api/users/99999", headers=admin["headers"], json={"active": True}).status_code == 404
    assert client.patch(f"/api/users/{them['id']}", headers=other["headers"], json={"active": True}).status_code == 401


def test_users_page_is_for_admins_and_menus_follow_the_role(client: FlaskClient, make_user: Any) -> None:
    agent = make_user("agent")
    sign_in(client, agent)
    home = client.get("/").get_data(as_text=True)
    menu = re.search(r'<nav aria-label="Main".*?</nav>', home, re.S).group(0)
    assert ">Email<" in menu and ">Review<" in menu and ">Content<" not in menu and ">Users<" not in menu
    denied = client.get("/users")
    assert denied.status_code == 403 and b"Not for your role" in denied.data


# --- error pages -------------------------------------------------------------------------------------------


def test_html_errors_are_styled_pages_that_quote_the_request_id(make_app: Any) -> None:
    app: Flask = make_app()

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    client = app.test_client()
    crashed = client.get("/boom", headers={"X-Request-ID": "req-123"})
    assert crashed.status_code == 500 and crashed.mimetype == "text/html"
    text = crashed.get_data(as_text=True)
    assert "Server error" in text and '<code class="rid">req-123</code>' in text and "kaboom" not in text
    missing = client.get("/nowhere", headers={"X-Request-ID": "req-404"})
    assert missing.status_code == 404 and "req-404" in missing.get_data(as_text=True)
    api = client.get("/api/nowhere")
    assert api.status_code in (401, 404) and api.is_json


@pytest.mark.usefixtures("seeded")
def test_visit_sheet_and_route_as_json_match_the_csv(client: FlaskClient, viewer: dict[str, Any]) -> None:
    sheet = client.get(f"/api/devices/{GYM}/visit-sheet", headers=viewer["headers"]).json
    route = client.get(f"/api/route?devices={GYM},{OFFICE}", headers=viewer["headers"]).json
    sign_in(client, viewer)
    csv_rows = rows(client.get(f"/devices/{GYM}/visit-sheet.csv").get_data(as_text=True))
    assert [s["slot"] for s in sheet["steps"]] == [r["slot"] for r in csv_rows if r["section"] == "change"]
    assert {r["sku"]: r["load_units"] for r in sheet["load"]} == {
        r["add_sku"]: int(r["load_units"]) for r in csv_rows if r["section"] == "load"
    }
    picks = rows(client.get(f"/route/pick-list.csv?devices={GYM},{OFFICE}").get_data(as_text=True))
    assert {p["sku"]: p["units"] for p in route["pick_list"]} == {r["sku"]: int(r["units"]) for r in picks}
    assert [s["device_id"] for s in route["sheets"]] == [GYM, OFFICE]
    assert client.get("/api/devices/NOPE/visit-sheet", headers=viewer["headers"]).status_code == 404
    assert client.get("/api/route?devices=", headers=viewer["headers"]).status_code == 422
    assert client.application.test_client().get(f"/api/devices/{GYM}/visit-sheet").status_code == 401
