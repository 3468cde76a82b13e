"""Import modes (issue 13): "import the valid rows, report the rest", check only, and the CSV templates."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from extensions import db
from models import Device, PlanogramItem, PlanogramVersion, Product, Sale
from services.imports import SPECS, run_import
from services.imports.templates import template_csv
from tests.api.test_imports import counts
from tests.csvdata import GOOD


def upload(files: dict[str, str]) -> dict[str, Any]:
    return {name: (io.BytesIO(text.encode()), name) for name, text in files.items()}


def post(
    client: FlaskClient,
    user: dict[str, Any],
    files: dict[str, str],
    path: str = "/api/imports",
    mode: str | None = None,
) -> Any:
    query = f"?mode={mode}" if mode else ""
    return client.post(path + query, data=upload(files), headers=user["headers"], content_type="multipart/form-data")


BAD = {
    # line 4: a bad price -> CHIPS rejected; its planogram row (D1 A1) and its vend are rejected with it
    "products.csv": GOOD["products.csv"].replace("CHIPS,Crisps 45g,crisps,1.50", "CHIPS,Crisps 45g,crisps,abc"),
    "sales.csv": GOOD["sales.csv"] + "D1,2026-11-03T10:00:00Z,Z9,COLA,1.80,\n",  # line 7: slot outside the cabinet
}


def test_all_or_nothing_stays_the_default(client: FlaskClient, merchandiser: dict[str, Any], app: Flask) -> None:
    response = post(client, merchandiser, {**GOOD, **BAD})
    assert response.status_code == 422
    assert response.json["error"]["details"]["status"] == "rejected"
    assert all(v == 0 for v in counts(app).values())


def test_valid_rows_mode_keeps_the_valid_rows_and_reports_every_rejected_one(
    client: FlaskClient, merchandiser: dict[str, Any], app: Flask
) -> None:
    response = post(client, merchandiser, {**GOOD, **BAD}, mode="valid_rows")
    assert response.status_code == 200, response.json
    report = response.json
    assert report["status"] == "partial" and report["mode"] == "valid_rows"
    rejected = {(e["file"], e["line"], e["column"]) for e in report["errors"]}
    assert ("products.csv", 4, "price") in rejected
    assert ("sales.csv", 7, "slot") in rejected
    assert ("sales.csv", 3, "sku") in rejected  # the vend of the rejected product
    # D1's planogram names CHIPS on line 2: D1 keeps no planogram from this file, every row of it is reported
    assert ("planograms.csv", 2, "sku") in rejected
    assert {("planograms.csv", line) for line in (3, 4, 5)} <= {(f, ln) for f, ln, _ in rejected}
    assert all(e["reason"] for e in report["errors"])
    assert report["files"]["products.csv"]["rejected"] == 1 and report["files"]["sales.csv"]["rejected"] == 2
    assert report["files"]["planograms.csv"]["rejected"] == 4
    with app.app_context():
        assert set(db.session.scalars(select(Product.sku))) == {"COLA", "WATER", "CHOC"}
        assert set(db.session.scalars(select(Device.device_id))) == {"D1", "D2"}
        versions = dict(
            db.session.execute(
                select(Device.device_id, func.count(PlanogramVersion.id))
                .outerjoin(PlanogramVersion, PlanogramVersion.device_pk == Device.id)
                .group_by(Device.device_id)
            ).all()
        )
        assert versions == {"D1": 0, "D2": 1}  # a planogram is imported whole or not at all
        assert db.session.scalar(select(func.count(PlanogramItem.id))) == 2
        assert db.session.scalar(select(func.count(Sale.id))) == 4  # 6 vends, 2 rejected
    again = post(client, merchandiser, {**GOOD, **BAD}, mode="valid_rows")  # importing again changes nothing
    assert again.status_code == 200 and again.json["files"]["sales.csv"]["inserted"] == 0
    assert counts(app) == {"products": 3, "devices": 2, "slots": 10, "planogram_versions": 1, "sales": 4}


def test_valid_rows_mode_is_one_transaction_for_the_rows_it_keeps(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.imports import importer

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away mid-import")

    monkeypatch.setattr(importer, "apply_planograms", broken)
    with app.app_context(), pytest.raises(RuntimeError):
        run_import({n: io.BytesIO(t.encode()) for n, t in {**GOOD, **BAD}.items()}, mode="valid_rows")
    assert all(v == 0 for v in counts(app).values())  # products written before the failure were rolled back


def test_check_only_reports_without_changing_anything(
    client: FlaskClient, merchandiser: dict[str, Any], app: Flask
) -> None:
    checked = post(client, merchandiser, {**GOOD, **BAD}, path="/api/planogram/validate-data", mode="valid_rows")
    assert checked.status_code == 200
    assert checked.json["valid"] is False and checked.json["status"] == "partial"
    assert checked.json["files"]["sales.csv"]["inserted"] == 4  # what an import of the valid rows would insert
    assert all(v == 0 for v in counts(app).values())
    assert post(client, merchandiser, GOOD, path="/api/planogram/validate-data").json["valid"] is True
    assert post(client, merchandiser, GOOD, mode="everything").status_code == 422


def test_templates_list_every_column_and_their_examples_import_cleanly(
    client: FlaskClient, viewer: dict[str, Any], merchandiser: dict[str, Any], app: Flask
) -> None:
    files = {}
    for name, spec in SPECS.items():
        response = client.get(f"/api/imports/templates/{name}", headers=viewer["headers"])
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert f'filename="{name}"' in response.headers["Content-Disposition"]
        text = response.get_data(as_text=True)
        header = next(csv.reader(io.StringIO(text)))
        assert header == [*spec.required, *spec.optional]
        assert len(text.strip().splitlines()) >= 2  # example rows
        files[name] = text
    assert files["sales.csv"] == template_csv("sales.csv")
    report = post(client, merchandiser, files).json
    assert report["status"] == "ok" and report["error_count"] == 0, report
    assert client.get("/api/imports/templates/nope.csv", headers=viewer["headers"]).status_code == 404
    assert client.get("/api/imports/templates/sales.csv").status_code == 401
