"""Fleet view, batch optimisation, visit sheets and pick list, and the editor's change budget, in Chromium;
screenshots at 1440 and 390 px go to tests/artifacts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_fleet_pages import _sign_in

pytestmark = pytest.mark.slow
DEVICE = "DEMO-GYM-01"
NARROW = {"width": 390, "height": 844}
GRID_JS = """() => Object.fromEntries([...document.querySelectorAll('#cabinet .cell')]
  .map((c) => [c.dataset.slot, c.querySelector('.tile')?.dataset.sku ?? null]))"""


def _column(page: Any, col: str) -> list[float]:
    """The column's figures, in row order; every one must be known."""
    values = page.eval_on_selector_all(f'#fleet-table td[data-col="{col}"]', "els => els.map(e => e.dataset.value)")
    assert all(values), values
    return [float(v) for v in values]


def _loads(page: Any, rows: str) -> dict[str, int | None]:
    """The sheet's load table: sku -> units to load (None where it says "fill": no forecast)."""
    pairs = page.eval_on_selector_all(
        rows, "rows => rows.map(r => [r.dataset.sku, r.querySelector('.load-units').textContent.trim()])"
    )
    return {sku: None if units == "fill" else int(units) for sku, units in pairs}


def _settle(page: Any) -> None:
    page.wait_for_timeout(250)  # the totals refresh is debounced (200 ms) before it counts as busy
    page.wait_for_function("document.body.dataset.busy !== 'true'")


def _watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def test_fleet_ranked_by_opportunity_then_batch_accept_and_visit_sheet(live_server: dict[str, Any], page: Any) -> None:
    problems = _watch(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    _sign_in(page, live_server)
    assert page.locator("#fleet-table td[data-col=opportunity] .computing").count() > 0  # not faked meanwhile
    page.wait_for_selector('#fleet-table[data-pending="0"]', timeout=45_000)
    gains = _column(page, "opportunity")
    assert gains == sorted(gains, reverse=True)
    page.screenshot(path=str(ARTIFACTS / "fleet-1440.png"), full_page=True)
    page.click('#fleet-table th[data-key="margin"] button')
    margins = _column(page, "margin")
    assert margins == sorted(margins, reverse=True)  # first click on a figure: biggest first
    top_two = page.eval_on_selector_all("#fleet-table tbody tr", "rows => rows.slice(0, 2).map(r => r.dataset.device)")
    for device in top_two:
        page.check(f'#fleet-table tr[data-device="{device}"] input[type=checkbox]')
    page.click("#optimise-selected")
    page.wait_for_selector('#batch[data-status="finished"]', timeout=45_000)
    assert page.eval_on_selector("#batch-progress", "p => [p.value, p.max]") == [2, 2]
    assert page.locator("#batch-table tbody tr").count() == 2
    accept = page.locator("#batch-table button", has_text="Accept").first
    device = accept.evaluate("b => b.closest('tr').dataset.device")
    accept.click()
    page.wait_for_selector(f'#batch-table tr[data-device="{device}"] .ok')
    page.screenshot(path=str(ARTIFACTS / "fleet-batch-1440.png"), full_page=True)
    page.click(f'#batch-table tr[data-device="{device}"] a:has-text("Visit sheet")')
    page.wait_for_selector(".sheet")
    version = int(page.url.split("version=")[1])
    url = f"/api/devices/{device}/planogram/diff?from={version - 1}&to={version}"
    diff = page.evaluate(f"fetch('{url}').then(r => r.json())")
    listed = page.eval_on_selector_all(".sheet .steps tbody tr td.slot-code", "els => els.map(e => e.textContent)")
    assert listed == [c["slot"] for c in diff["changes"]]  # exactly the slot differences, in cabinet order
    assert page.locator(".sheet .load tbody tr").count() > 0
    page.screenshot(path=str(ARTIFACTS / "visit-sheet-1440.png"), full_page=True)
    page.goto(f"{live_server['url']}/route?devices={','.join(top_two)}")
    assert page.locator(".sheet").count() == 2 and page.locator("#pick-table tbody tr").count() > 0
    page.screenshot(path=str(ARTIFACTS / "pick-list-1440.png"), full_page=True)
    assert not problems, problems


def test_editor_budget_drop_a_change_accept_then_visit_sheet(live_server: dict[str, Any], page: Any) -> None:
    problems = _watch(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    _sign_in(page, live_server)
    page.goto(f"{live_server['url']}/devices/{DEVICE}/editor")
    page.wait_for_selector("body[data-editor-ready]")
    saved = page.evaluate(GRID_JS)
    page.click("#opt-budget summary")
    page.fill("#budget-slots", "8")
    sent: list[dict[str, Any]] = []
    page.on(
        "request", lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/stream-optimization") else None
    )
    page.click("#opt-start")
    page.wait_for_selector('#opt-run[data-phase="review"]', timeout=45_000)
    assert sent and sent[0]["max_changed_slots"] == 8
    proposed = page.evaluate(GRID_JS)
    differ = sorted(s for s in saved if saved[s] != proposed[s])
    assert 2 <= len(differ) <= 8, differ  # the result grid itself changes at most 8 slots
    changes = page.locator("#opt-change-list li")
    n = changes.count()
    assert sorted(changes.nth(i).get_attribute("data-slot") for i in range(n)) == differ
    page.screenshot(path=str(ARTIFACTS / "editor-review-1440.png"), full_page=True)
    dropped = None
    for i in reversed(range(n)):  # drop a change whose undoing keeps every hard rule (the rule check says)
        changes.nth(i).locator("button").click()
        _settle(page)
        if "broken" not in page.inner_text("#t-rules"):
            dropped = changes.nth(i).get_attribute("data-slot")
            assert "dropped" in (changes.nth(i).get_attribute("class") or "")
            break
        changes.nth(i).locator("button").click()  # restore it
        _settle(page)
    assert dropped is not None
    page.click("#opt-accept")
    page.wait_for_selector("#opt-sheet-link")
    page.click("#opt-sheet-link")
    page.wait_for_selector(".sheet")
    listed = page.eval_on_selector_all(".sheet .steps tbody tr td.slot-code", "els => els.map(e => e.textContent)")
    assert sorted(listed) == sorted(set(differ) - {dropped})  # exactly the slot differences that were accepted
    version = page.evaluate("fetch('/api/devices/DEMO-GYM-01/planogram').then(r => r.json()).then(p => p.version)")
    api = page.evaluate(f"fetch('/api/devices/{DEVICE}/visit-sheet?version={version}').then(r => r.json())")
    assert listed == [s["slot"] for s in api["steps"]]
    assert _loads(page, ".sheet .load tbody tr") == {r["sku"]: r["load_units"] for r in api["load"]}
    page.screenshot(path=str(ARTIFACTS / "visit-sheet-editor-1440.png"), full_page=True)
    page.goto(f"{live_server['url']}/route?devices={DEVICE},DEMO-OFF-01")
    route = page.evaluate(f"fetch('/api/route?devices={DEVICE},DEMO-OFF-01').then(r => r.json())")
    shown = page.eval_on_selector_all(
        "#pick-table tbody tr[data-sku]", "rows => rows.map(r => [r.dataset.sku, r.children[1].textContent.trim()])"
    )
    assert {sku: int(units.split()[0]) for sku, units in shown} == {p["sku"]: p["units"] for p in route["pick_list"]}
    expected: dict[str, int] = {}
    for sheet in route["sheets"]:  # the pick list is the machines' loads summed
        for row in sheet["load"]:
            if row["load_units"]:
                expected[row["sku"]] = expected.get(row["sku"], 0) + row["load_units"]
    assert {p["sku"]: p["units"] for p in route["pick_list"]} == expected
    assert not problems, problems


def test_screens_at_390_px_show_the_cabinet_first(live_server: dict[str, Any], page: Any) -> None:
    page.set_viewport_size(NARROW)
    _sign_in(page, live_server)
    page.wait_for_selector("#fleet-table tbody tr")
    page.screenshot(path=str(ARTIFACTS / "fleet-390.png"), full_page=True)
    page.goto(f"{live_server['url']}/devices/{DEVICE}/editor")
    page.wait_for_selector("body[data-editor-ready]")
    top = page.eval_on_selector("#cabinet", "e => e.getBoundingClientRect().top")
    assert top < NARROW["height"] - 200, f"cabinet starts {top}px down"  # in the first screen, with room to see it
    page.screenshot(path=str(ARTIFACTS / "editor-390.png"))
    page.screenshot(path=str(ARTIFACTS / "editor-390-full.png"), full_page=True)
    page.click(".menu-toggle")
    assert page.locator("#main-nav").is_visible()
    page.goto(f"{live_server['url']}/devices/{DEVICE}/visit-sheet")
    page.screenshot(path=str(ARTIFACTS / "visit-sheet-390.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server['url']}/devices/{DEVICE}/editor")
    page.wait_for_selector("body[data-editor-ready]")
    page.screenshot(path=str(ARTIFACTS / "editor-1440.png"))
