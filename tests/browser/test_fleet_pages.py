"""A person signs in and sees the demo fleet, a machine's cabinet and the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.csvdata import GOOD

pytestmark = pytest.mark.slow


def _sign_in(page: Any, server: dict[str, Any]) -> None:
    page.goto(server["url"] + "/")
    assert "/login" in page.url  # pages require a session
    page.fill("input[name=email]", server["email"])
    page.fill("input[name=password]", server["password"])
    page.click("button[type=submit]")
    page.wait_for_url(server["url"] + "/")


def test_sign_in_and_see_demo_fleet_and_cabinet(live_server: dict[str, Any], page: Any) -> None:
    _sign_in(page, live_server)
    rows = page.locator("table.grid-table tbody tr")
    assert rows.count() >= 6
    assert page.locator("text=demo data").count() >= 6
    page.screenshot(path=str(ARTIFACTS / "fleet.png"), full_page=True)
    page.click("text=Demo: Harbour Tower lobby")
    page.wait_for_selector(".cabinet")
    assert page.locator(".slot").count() == 48
    assert page.locator(".slot.zone-chilled").count() == 24  # combo cabinet: lower half chilled
    page.screenshot(path=str(ARTIFACTS / "device.png"), full_page=True)


def test_wrong_password_stays_on_login_with_message(live_server: dict[str, Any], page: Any) -> None:
    page.goto(live_server["url"] + "/login")
    page.fill("input[name=email]", live_server["email"])
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator(".flash.error").inner_text() == "Email or password is wrong."


def test_import_page_reports_row_errors(live_server: dict[str, Any], page: Any, tmp_path: Any) -> None:
    _sign_in(page, live_server)
    bad = tmp_path / "products.csv"
    bad.write_text("sku,name,category,price\nX1,Thing,misc,-2\n")
    page.goto(live_server["url"] + "/import")
    page.set_input_files("input[type=file]", str(bad))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-result h2")
    assert "nothing changed" in page.locator("#import-result h2").inner_text()
    assert "products.csv line 2, column price" in page.locator("#import-result").inner_text()
    page.screenshot(path=str(ARTIFACTS / "import-errors.png"), full_page=True)


def test_import_page_checks_offers_templates_and_imports_the_valid_rows(
    live_server: dict[str, Any], page: Any, tmp_path: Any
) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    _sign_in(page, live_server)
    page.goto(live_server["url"] + "/import")
    with page.expect_download() as download:
        page.click('#templates a:has-text("sales.csv")')
    header = Path(download.value.path()).read_text().splitlines()[0]
    assert header == "device_id,timestamp,slot,sku,price,transaction_id"
    paths = []
    for name, text in GOOD.items():
        if name == "products.csv":
            text = text.replace("CHIPS,Crisps 45g,crisps,1.50", "CHIPS,Crisps 45g,crisps,abc")
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    page.set_input_files("input[type=file]", paths)
    page.check('input[name="mode"][value="valid_rows"]')
    page.click("#check-only")
    page.wait_for_selector("#import-headline")
    assert "Nothing was changed" in page.inner_text("#import-headline")
    devices = page.evaluate("fetch('/api/devices').then(r => r.json()).then(d => d.items.map(x => x.device_id))")
    assert "D1" not in devices
    page.click("#import-form button[type=submit]")
    page.wait_for_selector('#import-result[data-status="partial"]')
    assert "Imported the valid rows" in page.inner_text("#import-headline")
    listed = page.eval_on_selector_all(
        "#import-errors li[data-file]", "els => els.map(e => [e.dataset.file, +e.dataset.line, e.dataset.column])"
    )
    assert ["products.csv", 4, "price"] in listed and ["sales.csv", 3, "sku"] in listed
    assert page.inner_text('#import-result tr[data-file="sales.csv"] td:nth-child(3)') == "4"  # 5 vends, 1 rejected
    page.screenshot(path=str(ARTIFACTS / "import-valid-rows.png"), full_page=True)
    assert not problems, problems
