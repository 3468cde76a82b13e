"""CSV import: per-row errors, all-or-nothing, idempotency, defaults, CLI and HTTP."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from extensions import db
from models import Device, PlanogramVersion, Product, Sale, Slot
from tests.csvdata import GOOD, write_folder

TABLES = (Product, Device, Slot, PlanogramVersion, Sale)


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {t.__tablename__: db.session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


def test_cli_import_good_folder_twice_leaves_identical_counts(app: Flask, runner: Any, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "good")
    first = runner.invoke(args=["import-data", str(folder), "--quiet"])
    assert first.exit_code == 0, first.output
    after_first = counts(app)
    assert after_first == {"products": 4, "devices": 2, "slots": 10, "planogram_versions": 2, "sales": 5}
    second = runner.invoke(args=["import-data", str(folder), "--quiet"])
    assert second.exit_code == 0, second.output
    assert counts(app) == after_first
    assert "sales.csv: rows 5, inserted 0" in second.output and "duplicates 5" in second.output


def test_bad_price_names_file_line_column_and_changes_nothing(app: Flask, runner: Any, tmp_path: Path) -> None:
    runner.invoke(args=["import-data", str(write_folder(tmp_path / "base", only=("products.csv",))), "--quiet"])
    before = counts(app)
    bad_products = GOOD["products.csv"].replace("CHIPS,Crisps 45g,crisps,1.50", "CHIPS,Crisps 45g,crisps,abc")
    bad_products = bad_products.replace("Cola 330ml", "Cola 330ml NEW NAME")
    result = runner.invoke(args=["import-data", str(write_folder(tmp_path / "bad", {"products.csv": bad_products}))])
    assert result.exit_code != 0
    assert "products.csv:4: column price:" in result.output
    assert "'abc' is not a number" in result.output
    assert counts(app) == before
    with app.app_context():  # the good row of the same file was not applied either
        assert db.session.scalar(select(Product.name).where(Product.sku == "COLA")) == "Cola 330ml"


def test_error_in_sales_rolls_back_products_and_earlier_sales(app: Flask, runner: Any, tmp_path: Path) -> None:
    sales = GOOD["sales.csv"] + "D1,2026-11-03T10:00:00Z,Z9,COLA,1.80,\nD9,2026-11-03,A1,COLA,1.80,\n"
    result = runner.invoke(args=["import-data", str(write_folder(tmp_path / "bad", {"sales.csv": sales}))])
    assert result.exit_code == 1
    assert "sales.csv:7: column slot" in result.output
    assert "sales.csv:8: column device_id: unknown device" in result.output
    assert all(v == 0 for v in counts(app).values())


def test_optional_columns_default_and_are_reported(client: Any, merchandiser: dict[str, Any]) -> None:
    products = "sku,name,category,price\nA,Apple,fruit,1.00\nB,Banana,fruit,0.80\n"
    response = client.post(
        "/api/imports", headers=merchandiser["headers"], data={"f": (io.BytesIO(products.encode()), "products.csv")}
    )
    assert response.status_code == 200, response.json
    defaults = {d["column"]: d for d in response.json["defaults"]}
    assert defaults["unit_cost"]["rows"] == 2 and "60% of price" in defaults["unit_cost"]["reason"]
    assert defaults["temperature"]["default"] == "ambient"
    page = client.get("/api/products?category=fruit", headers=merchandiser["headers"]).json
    assert {p["sku"]: p["unit_cost"] for p in page["items"]} == {"A": 0.6, "B": 0.48}


def test_http_import_rejects_with_row_errors_as_json(client: Any, merchandiser: dict[str, Any]) -> None:
    devices = GOOD["devices.csv"] + "D3,Broken,office,freezer,0,3,,,,,\n"
    response = client.post(
        "/api/imports", headers=merchandiser["headers"], data={"f": (io.BytesIO(devices.encode()), "devices.csv")}
    )
    assert response.status_code == 422
    body = response.json["error"]
    assert body["code"] == "import_rejected"
    errors = {(e["file"], e["line"], e["column"]) for e in body["details"]["errors"]}
    assert ("devices.csv", 4, "cabinet_type") in errors and ("devices.csv", 4, "rows") in errors


def test_missing_required_column_is_an_error(client: Any, merchandiser: dict[str, Any]) -> None:
    files = {"a": (io.BytesIO(b"sku,name,price\nX,Thing,1\n"), "products.csv")}
    response = client.post("/api/imports", headers=merchandiser["headers"], data=files)
    assert response.status_code == 422
    errors = response.json["error"]["details"]["errors"]
    assert errors == [
        {
            "file": "products.csv",
            "line": 1,
            "column": "category",
            "reason": "required column is missing from the header",
        }
    ]


def test_two_skus_in_one_slot_is_an_error(client: Any, merchandiser: dict[str, Any]) -> None:
    files = {
        "a": (io.BytesIO(GOOD["products.csv"].encode()), "products.csv"),
        "b": (io.BytesIO(GOOD["devices.csv"].encode()), "devices.csv"),
        "c": (io.BytesIO(GOOD["planograms.csv"].encode() + b"D1,A1,COLA,8\n"), "planograms.csv"),
    }
    response = client.post("/api/imports", headers=merchandiser["headers"], data=files)
    assert response.status_code == 422
    errors = response.json["error"]["details"]["errors"]
    assert [(e["file"], e["line"], e["column"]) for e in errors] == [("planograms.csv", 8, "slot")]
    assert "assigned twice" in errors[0]["reason"]


def test_viewer_cannot_import(client: Any, viewer: dict[str, Any]) -> None:
    response = client.post(
        "/api/imports",
        headers=viewer["headers"],
        data={"f": (io.BytesIO(GOOD["products.csv"].encode()), "products.csv")},
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_no_files_is_a_clear_422(client: Any, merchandiser: dict[str, Any]) -> None:
    response = client.post("/api/imports", headers=merchandiser["headers"], data={})
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "files"


def test_changed_planogram_creates_new_version_and_archives_old(app: Flask, runner: Any, tmp_path: Path) -> None:
    runner.invoke(args=["import-data", str(write_folder(tmp_path / "v1")), "--quiet"])
    changed = GOOD["planograms.csv"].replace("D1,A2,CHOC,8", "D1,A2,CHIPS,8")
    result = runner.invoke(
        args=["import-data", str(write_folder(tmp_path / "v2", {"planograms.csv": changed})), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        device = db.session.scalar(select(Device).where(Device.device_id == "D1"))
        assert device is not None and device.planogram_version == 2
        statuses = db.session.execute(
            select(PlanogramVersion.version_number, PlanogramVersion.status)
            .where(PlanogramVersion.device_pk == device.id)
            .order_by(PlanogramVersion.version_number)
        ).all()
        assert [tuple(s) for s in statuses] == [(1, "archived"), (2, "active")]


def test_slot_overrides_survive_a_devices_only_reimport(app: Flask, runner: Any, tmp_path: Path) -> None:
    runner.invoke(args=["import-data", str(write_folder(tmp_path / "all")), "--quiet"])
    runner.invoke(args=["import-data", str(write_folder(tmp_path / "dev", only=("devices.csv",))), "--quiet"])
    with app.app_context():
        slot = db.session.scalar(select(Slot).join(Device).where(Device.device_id == "D1", Slot.code == "A1"))
        assert slot is not None and (slot.width_mm, slot.capacity, slot.zone) == (160, 12, "ambient")
        b1 = db.session.scalar(select(Slot).join(Device).where(Device.device_id == "D1", Slot.code == "B1"))
        assert b1 is not None and b1.zone == "chilled"  # combo: lower half chilled by default


def test_repeat_vends_in_one_file_are_kept_but_not_duplicated_on_reimport(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "all")
    runner.invoke(args=["import-data", str(folder), "--quiet"])
    runner.invoke(args=["import-data", str(folder), "--quiet"])
    with app.app_context():  # two identical CHOC rows on one day are two real vends
        assert db.session.scalar(select(func.count()).select_from(Sale).where(Sale.slot_code == "A2")) == 2


def test_validate_data_reports_like_an_import_and_changes_nothing(
    app: Flask, client: Any, merchandiser: dict[str, Any], viewer: dict[str, Any]
) -> None:
    def upload(texts: dict[str, str]) -> dict[str, Any]:
        return {name: (io.BytesIO(text.encode()), name) for name, text in texts.items()}

    good = client.post("/api/planogram/validate-data", headers=merchandiser["headers"], data=upload(GOOD))
    assert good.status_code == 200, good.json
    assert good.json["valid"] is True and good.json["files"]["sales.csv"]["inserted"] == 5
    assert counts(app) == dict.fromkeys(counts(app), 0), "a dry run keeps nothing"
    bad = dict(GOOD, **{"sales.csv": GOOD["sales.csv"].replace("B1,COLA,1.80", "Z9,COLA,1.80")})
    rejected = client.post("/api/planogram/validate-data", headers=merchandiser["headers"], data=upload(bad))
    assert rejected.status_code == 200 and rejected.json["valid"] is False
    assert [(e["file"], e["line"], e["column"]) for e in rejected.json["errors"]] == [("sales.csv", 2, "slot")]
    assert counts(app) == dict.fromkeys(counts(app), 0)
    denied = client.post("/api/planogram/validate-data", headers=viewer["headers"], data=upload(GOOD))
    assert denied.status_code == 403


def import_errors(client: Any, user: dict[str, Any], name: str, data: bytes) -> list[dict[str, Any]]:
    response = client.post("/api/imports", headers=user["headers"], data={"f": (io.BytesIO(data), name)})
    assert response.status_code == 422, response.json
    return response.json["error"]["details"]["errors"]


def test_duplicate_header_columns_are_rejected(app: Flask, client: Any, merchandiser: dict[str, Any]) -> None:
    data = b"sku,name,category,price,Price\nX,Thing,snacks,1,2\n"
    assert import_errors(client, merchandiser, "products.csv", data) == [
        {
            "file": "products.csv",
            "line": 1,
            "column": "price",
            "reason": "column appears twice in the header (columns 4 and 5)",
        }
    ]
    assert counts(app)["products"] == 0


def test_an_encoding_error_is_reported_on_its_own_line(client: Any, merchandiser: dict[str, Any]) -> None:
    data = GOOD["products.csv"].encode() + "LATIN,Caf\u00e9 latte,coffee,2.00\n".encode("latin-1")
    errors = import_errors(client, merchandiser, "products.csv", data)
    assert [(e["line"], e["column"]) for e in errors] == [(6, None)]
    assert "not valid UTF-8" in errors[0]["reason"] and "0xe9" in errors[0]["reason"]
    second = import_errors(client, merchandiser, "products.csv", b"sku,name,category,price\nA,Caf\xe9,x,1\n")
    assert [e["line"] for e in second] == [2]


def test_control_characters_in_names_are_rejected(client: Any, merchandiser: dict[str, Any]) -> None:
    data = b"sku,name,category,price\nNUL,Bad\x00name,snacks,1.00\n"
    errors = import_errors(client, merchandiser, "products.csv", data)
    assert [(e["line"], e["column"], e["reason"]) for e in errors] == [
        (2, "name", "contains control characters (e.g. NUL)")
    ]
