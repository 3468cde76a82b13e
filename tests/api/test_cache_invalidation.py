"""Cached AI answers about a device are forgotten when its planogram is saved or its sales are imported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from services.ai import EXTENSION_KEY
from services.llm.cache import CachedAnswer
from tests.csvdata import write_folder


def remember(app: Flask, key: str, device_id: str) -> None:
    answer = CachedAnswer(
        text="text",
        data=None,
        model="m",
        provider="p",
        tier="fast",
        tokens_in=1,
        tokens_out=1,
        tokens_cached=0,
        cost_usd=0.001,
        confidence=0.8,
        prompt_version=1,
        variant="control",
    )
    app.extensions[EXTENSION_KEY].cache.put(key, answer, "placement_feedback", [f"device:{device_id}"])


def cached(app: Flask, key: str) -> bool:
    return app.extensions[EXTENSION_KEY].cache.get(key) is not None


def imported(runner: Any, folder: Path) -> int:
    return int(runner.invoke(args=["import-data", str(folder), "--quiet"]).exit_code)


def test_saving_a_planogram_forgets_only_that_devices_answers(
    app: Flask, client: Any, runner: Any, tmp_path: Path, merchandiser: dict[str, Any]
) -> None:
    assert imported(runner, write_folder(tmp_path / "f")) == 0
    remember(app, "k-d1", "D1")
    remember(app, "k-d2", "D2")
    plano = client.get("/api/devices/D1/planogram", headers=merchandiser["headers"]).json
    slots = {s: v["sku"] for s, v in plano["slots"].items()}
    stale = client.post(
        "/api/devices/D1/planogram",
        headers=merchandiser["headers"],
        json={"base_version": plano["version"] + 5, "slots": slots},
    )
    assert stale.status_code == 409
    assert cached(app, "k-d1"), "a rejected save must not invalidate anything"
    saved = client.post(
        "/api/devices/D1/planogram",
        headers=merchandiser["headers"],
        json={"base_version": plano["version"], "slots": slots},
    )
    assert saved.status_code == 201, saved.json
    assert not cached(app, "k-d1")
    assert cached(app, "k-d2")


def test_sales_import_forgets_touched_devices_and_a_rejected_import_forgets_nothing(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    assert imported(runner, write_folder(tmp_path / "f")) == 0
    remember(app, "k-d1", "D1")
    remember(app, "k-d2", "D2")
    bad_sales = "device_id,timestamp,slot,sku,price\nD2,2026-11-03,A1,COLA,not-a-price\n"
    assert imported(runner, write_folder(tmp_path / "bad", {"sales.csv": bad_sales}, only=("sales.csv",))) != 0
    assert cached(app, "k-d1") and cached(app, "k-d2")
    good_sales = "device_id,timestamp,slot,sku,price\nD2,2026-11-03T09:00:00Z,A1,COLA,1.80\n"
    assert imported(runner, write_folder(tmp_path / "good", {"sales.csv": good_sales}, only=("sales.csv",))) == 0
    assert cached(app, "k-d1")
    assert not cached(app, "k-d2")
