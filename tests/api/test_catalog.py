"""Read API over an imported fleet; JSON errors; request ids; health."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.csvdata import write_folder


@pytest.fixture
def fleet(app: Flask, runner: Any, tmp_path: Path) -> None:
    result = runner.invoke(args=["import-data", str(write_folder(tmp_path / "fleet")), "--quiet"])
    assert result.exit_code == 0, result.output


@pytest.mark.usefixtures("fleet")
def test_devices_list_and_detail(client: Any, viewer: dict[str, Any]) -> None:
    items = client.get("/api/devices", headers=viewer["headers"]).json["items"]
    assert [(d["device_id"], d["sales_count"], d["planogram_version"]) for d in items] == [("D1", 4, 1), ("D2", 1, 1)]
    detail = client.get("/api/devices/D1", headers=viewer["headers"]).json
    assert detail["cabinet"]["rows"] == 2 and detail["cabinet"]["columns"] == 3
    slots = {s["slot"]: s for s in detail["slots"]}
    assert len(slots) == 6
    assert (slots["A1"]["width_mm"], slots["A1"]["capacity"], slots["A1"]["zone"]) == (160, 12, "ambient")
    assert (slots["B3"]["width_mm"], slots["B3"]["zone"]) == (80, "chilled")


@pytest.mark.usefixtures("fleet")
def test_current_planogram(client: Any, viewer: dict[str, Any]) -> None:
    body = client.get("/api/devices/D1/planogram", headers=viewer["headers"]).json
    assert body["version"] == 1 and body["status"] == "active"
    assert body["slots"]["A1"] == {"sku": "CHIPS", "name": "Crisps 45g", "capacity": 12}
    assert set(body["slots"]) == {"A1", "A2", "B1", "B2"}


@pytest.mark.usefixtures("fleet")
def test_products_pagination_and_filter(client: Any, viewer: dict[str, Any]) -> None:
    page = client.get("/api/products?per_page=3&page=2", headers=viewer["headers"]).json
    assert (page["total"], page["pages"], page["page"]) == (4, 2, 2)
    assert [p["sku"] for p in page["items"]] == ["WATER"]
    filtered = client.get("/api/products?category=crisps", headers=viewer["headers"]).json
    assert [p["sku"] for p in filtered["items"]] == ["CHIPS"]
    assert filtered["items"][0]["margin"] == 1.05
    bad = client.get("/api/products?per_page=0", headers=viewer["headers"])
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "per_page"


def test_unknown_device_is_404_json(client: Any, viewer: dict[str, Any]) -> None:
    response = client.get("/api/devices/NOPE", headers=viewer["headers"])
    assert response.status_code == 404
    assert response.json["error"] == {
        "code": "not_found",
        "message": "Device 'NOPE' not found",
        "details": {"device_id": "NOPE"},
    }


def test_unknown_api_path_and_method_are_json(client: Any, viewer: dict[str, Any]) -> None:
    missing = client.get("/api/nothing-here", headers=viewer["headers"])
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = client.delete("/api/devices", headers=viewer["headers"])
    assert wrong.status_code == 405 and wrong.is_json


def test_request_id_is_echoed_and_logged(client: Any, viewer: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="planogram.http"):
        response = client.get("/api/devices", headers={**viewer["headers"], "X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    assert any(
        getattr(r, "request_id", None) == "abc-123" and getattr(r, "path", None) == "/api/devices"
        for r in caplog.records
    )
    hostile = client.get("/api/devices", headers={**viewer["headers"], "X-Request-ID": 'x" onload=1'})
    assert hostile.headers["X-Request-ID"] != 'x" onload=1'


def test_json_log_line_carries_request_id(client: Any, viewer: dict[str, Any]) -> None:
    import io

    from logs import configure_logging

    stream = io.StringIO()
    configure_logging("INFO", True, stream=stream)
    try:
        client.get("/api/devices", headers={**viewer["headers"], "X-Request-ID": "rid-42"})
    finally:
        configure_logging("WARNING", True)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_line = next(line for line in lines if line["message"] == "request")
    assert request_line["request_id"] == "rid-42" and request_line["status"] == 200
    assert request_line["level"] == "INFO" and request_line["path"] == "/api/devices"


def test_unexpected_error_is_500_json_without_trace(make_app: Any, viewer: dict[str, Any]) -> None:
    app = make_app()

    @app.get("/api/boom")  # type: ignore[untyped-decorator]
    def boom() -> None:
        raise RuntimeError("secret internals")

    from extensions import db
    from services import auth

    with app.app_context():
        token = auth.issue_token(auth.create_user("b@example.com", "long-enough-1", "viewer"), 1)
        db.session.commit()
    response = app.test_client().get("/api/boom", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert b"secret internals" not in response.data and b"Traceback" not in response.data


def test_health_and_readiness(client: Any, admin: dict[str, Any]) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz", headers=admin["headers"])
    assert ready.status_code == 200
    checks = ready.json["checks"]
    assert checks["database"]["status"] == "ok" and checks["migrations"]["status"] == "ok"
    assert checks["migrations"]["current"] == checks["migrations"]["head"]


@pytest.mark.usefixtures("fleet")
def test_pages_render_for_signed_in_user(client: Any, make_user: Any) -> None:
    import re

    user = make_user("viewer")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    client.post("/login", data={"email": user["email"], "password": user["password"], "csrf_token": token.group(1)})
    fleet = client.get("/").get_data(as_text=True)
    assert "Office lobby" in fleet and "Gym" in fleet
    device = client.get("/devices/D1").get_data(as_text=True)
    assert "Crisps 45g" in device and "zone-chilled" in device
    assert client.get("/devices/NOPE").status_code == 404
    assert "Chocolate bar" in client.get("/products?category=chocolate").get_data(as_text=True)
