"""The planogram editor in a real browser: drag and score, keyboard moves, saves, conflicts, streamed optimisation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

DEVICE = "DEMO-GYM-01"  # refrigerated 5 x 8 cabinet: every slot chilled, 75 mm wide
GRID_JS = """() => Object.fromEntries([...document.querySelectorAll('#cabinet .cell')]
  .map((c) => [c.dataset.slot, c.querySelector('.tile')?.dataset.sku ?? null]))"""


def _open_editor(page: Any, server: dict[str, Any]) -> None:
    page.goto(server["url"] + "/login")
    page.fill("input[name=email]", server["email"])
    page.fill("input[name=password]", server["password"])
    page.click("button[type=submit]")
    page.wait_for_url(server["url"] + "/")
    page.goto(f"{server['url']}/devices/{DEVICE}")
    page.click("text=Open the planogram editor")
    page.wait_for_selector("body[data-editor-ready]")
    _settle(page)


def _grid(page: Any) -> dict[str, str | None]:
    return page.evaluate(GRID_JS)


def _cell(slot: str) -> str:
    return f'#cabinet .cell[data-slot="{slot}"]'


def _drag(page: Any, source: str, target: str) -> None:
    """Pointer-driven drag in small steps (SortableJS runs in fallback mode, so real mouse events drive it)."""
    page.locator(source).scroll_into_view_if_needed()
    a = page.locator(source).bounding_box()
    b = page.locator(target).bounding_box()
    x0, y0 = a["x"] + a["width"] / 2, a["y"] + a["height"] / 2
    x1, y1 = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(x0 + (x1 - x0) * i / 12, y0 + (y1 - y0) * i / 12)
        page.wait_for_timeout(15)
    for dx in (3, -3, 0):  # hover on the target: SortableJS checks the pointer position every 50 ms
        page.mouse.move(x1 + dx, y1)
        page.wait_for_timeout(60)
    page.mouse.up()


def _drag_from_palette(page: Any, sku: str, slot: str) -> None:
    page.fill("#palette-q", sku)  # search narrows the palette to the one product
    _drag(page, f'#palette-list .tile[data-sku="{sku}"]', _cell(slot))


def _wait_slot(page: Any, slot: str, sku: str | None) -> None:
    page.wait_for_function(f"([s, k]) => ({GRID_JS})()[s] === k", arg=[slot, sku])
    _settle(page)


def _settle(page: Any) -> None:
    """Wait until the scores, totals and rule checks the last edit asked for have arrived."""
    page.wait_for_function("document.body.dataset.busy !== 'true'")


def _fitting_product(page: Any, exclude: set[str | None]) -> str:
    """A chilled product that fits the gym cabinet's slots, not already in `exclude`."""
    state = json.loads(page.locator("#editor-state").text_content())
    slot = state["device"]["slots"][0]
    for product in state["products"]:
        fits = product["width_mm"] <= slot["width_mm"] and product["height_mm"] <= slot["height_mm"]
        if product["temperature"] == "chilled" and fits and product["sku"] not in exclude:
            return str(product["sku"])
    raise AssertionError("the demo catalogue has no fitting chilled product")


def test_drag_scores_swaps_empties_and_undoes(live_server: dict[str, Any], page: Any) -> None:
    _open_editor(page, live_server)
    start = _grid(page)
    sku = _fitting_product(page, {start["A1"], start["B2"]})  # an extra facing of a stocked product

    _drag_from_palette(page, sku, "A1")
    _wait_slot(page, "A1", sku)
    badge = page.locator(f"{_cell('A1')} .sb")
    badge.wait_for()
    assert 0 <= int(badge.inner_text()) <= 100
    assert page.locator("#inspector-score").inner_text() == badge.inner_text()
    assert "scores" in page.locator("#status").inner_text()
    assert page.locator("#dirty-label").inner_text() == "1 unsaved change"
    assert page.locator("#t-margin-delta").inner_text() != "±$0.00"  # the running total moved

    _drag(page, f"{_cell('A1')} .tile", _cell("B2"))  # slot to slot: the two products swap
    _wait_slot(page, "B2", sku)
    assert _grid(page)["A1"] == start["B2"]

    _drag(page, f"{_cell('B2')} .tile", "#palette-list")  # back to the palette: the slot empties
    _wait_slot(page, "B2", None)
    assert page.locator(f"{_cell('B2')}.empty .empty-label").inner_text() == "Empty"

    page.click("#undo")
    _wait_slot(page, "B2", sku)
    page.keyboard.press("Control+Shift+Z")
    _wait_slot(page, "B2", None)
    for _ in range(3):
        page.click("#undo")
    page.wait_for_function(f"(want) => Object.entries(({GRID_JS})()).every(([s, k]) => want[s] === k)", arg=start)
    assert page.locator("#dirty-label").inner_text() == "no unsaved changes"
    assert page.locator("#undo").is_disabled()


def test_keyboard_moves_save_and_stale_save_conflict(live_server: dict[str, Any], page: Any) -> None:
    _open_editor(page, live_server)
    start = _grid(page)

    page.focus(_cell("A1"))
    page.keyboard.press("Enter")  # pick up A1's product
    assert "Picked up" in page.locator("#status").inner_text()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")  # drop on A2: swap
    _wait_slot(page, "A2", start["A1"])
    assert _grid(page)["A1"] == start["A2"]
    assert page.evaluate("document.activeElement.dataset.slot") == "A2"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"  # visible focus
    page.locator(f"{_cell('A2')} .sb").wait_for()

    sku = _fitting_product(page, {start["B2"]})
    page.fill("#palette-q", sku)
    page.focus(f'#palette-list .tile[data-sku="{sku}"]')
    page.keyboard.press("Enter")  # pick from the palette: focus goes to the selected slot (A2)
    assert page.evaluate("document.activeElement.dataset.slot") == "A2"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    _wait_slot(page, "B2", sku)
    page.locator(f"{_cell('B2')} .sb").wait_for()

    page.fill("#save-note", "keyboard edits")
    page.click("#save")
    page.wait_for_function("document.querySelector('#status').textContent.includes('Saved as version 2')")
    assert page.locator("#version-label").inner_text() == "saved version v2"
    page.click("#tab-history")
    page.wait_for_selector("#history-table >> text=keyboard edits")
    assert page.locator("#history-table tbody tr").first.locator("td").first.inner_text() == "v2"

    # Someone else saves version 3 in between (a second request with the same base version) ...
    status = page.evaluate(
        """async (device) => {
      const token = document.querySelector('meta[name="csrf-token"]').content;
      const current = await (await fetch(`/api/devices/${device}/planogram`)).json();
      const slots = Object.fromEntries(Object.entries(current.slots).map(([slot, item]) => [slot, item.sku]));
      slots.A1 = null;
      const response = await fetch(`/api/devices/${device}/planogram`, {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
        body: JSON.stringify({base_version: 2, slots, note: 'someone else'})});
      return response.status; }""",
        DEVICE,
    )
    assert status == 201
    # ... so saving this tab's next edit is stale: a clear 409 message, and the edit stays on the grid.
    page.focus(_cell("C3"))
    page.keyboard.press("Delete")
    _wait_slot(page, "C3", None)
    page.click("#save")
    alert = page.locator("#alert")
    alert.wait_for()
    assert "someone else saved this planogram while you were editing" in alert.inner_text()
    assert "the latest is version 3" in alert.inner_text()
    assert _grid(page)["C3"] is None
    page.click("text=Load version 3 (drop my changes)")
    page.wait_for_function("document.querySelector('#version-label').textContent === 'saved version v3'")
    assert _grid(page)["A1"] is None and _grid(page)["C3"] == start["C3"]


def _wait_step(page: Any, step: int) -> None:
    """Wait for an optimisation step (or its end), failing with the page's own message if the run stopped."""
    page.wait_for_function(
        """(n) => Number(document.querySelector('#opt-step').textContent) >= n
      || document.querySelector('#opt-run').dataset.phase !== 'running'""",
        arg=step,
        timeout=30_000,
    )
    assert int(page.locator("#opt-step").inner_text()) >= step, page.locator("#opt-state").inner_text()


def _wait_review(page: Any) -> None:
    page.wait_for_function("document.querySelector('#opt-run').dataset.phase !== 'running'", timeout=30_000)
    assert page.locator("#opt-run").get_attribute("data-phase") == "review", page.locator("#opt-state").inner_text()


def _watch_steps(page: Any) -> None:
    page.evaluate("""() => { window.__steps = []; window.__states = [];
      const node = document.querySelector('#opt-step');
      new MutationObserver(() => window.__steps.push(node.textContent))
        .observe(node, {childList: true, characterData: true, subtree: true});
      const state = document.querySelector('#opt-state');
      new MutationObserver(() => window.__states.push(state.textContent))
        .observe(state, {childList: true, characterData: true, subtree: true}); }""")


def test_optimisation_streams_progress_then_accept(live_server: dict[str, Any], page: Any) -> None:
    live_server["app"].config["OPTIMIZATION_STEP_DELAY_MS"] = 120
    _open_editor(page, live_server)

    page.click("#opt-start")  # Cancel stops a run; Discard puts the grid back
    _wait_step(page, 1)
    page.click("#opt-cancel")
    page.wait_for_selector('#opt-run[data-phase="review"]')
    assert "Cancelled at step" in page.locator("#opt-state").inner_text()
    page.click("#opt-discard")
    page.wait_for_selector("#opt-start:visible")

    saved = _grid(page)
    _watch_steps(page)
    page.click("#opt-start")
    _wait_review(page)
    steps = page.evaluate("window.__steps")
    assert len(set(steps)) >= 3, steps  # the grid updated step by step, not once at the end
    states = page.evaluate("window.__states")  # step 1: the quick plan, painted before the exact optimum
    assert any(s.startswith("Quick plan:") for s in states), states
    assert int(page.locator("#opt-run").get_attribute("data-progress-count")) >= 3
    assert "Done:" in page.locator("#opt-state").inner_text()
    assert page.locator("#opt-expl-label").inner_text().startswith("rule-based")  # no provider configured
    assert page.locator("#opt-explanation").inner_text().strip()
    optimised = _grid(page)
    assert optimised != saved
    page.wait_for_timeout(400)  # let the totals and the objective counter settle for the screenshot
    page.screenshot(path=str(ARTIFACTS / "editor-optimised.png"), full_page=True)

    page.click("#opt-accept")
    page.wait_for_function("document.querySelector('#version-label').textContent === 'saved version v2'")
    assert _grid(page) == optimised
    page.click("#tab-history")
    row = page.locator("#history-table tbody tr").first
    row.wait_for()
    assert "optimizer" in row.inner_text() and "Optimised for margin" in row.inner_text()


def test_reload_mid_stream_resumes_to_the_same_result(live_server: dict[str, Any], page: Any) -> None:
    live_server["app"].config["OPTIMIZATION_STEP_DELAY_MS"] = 150
    _open_editor(page, live_server)
    saved = _grid(page)
    page.click("#opt-start")
    _wait_step(page, 2)
    page.reload()
    page.wait_for_selector("body[data-editor-ready]")
    _wait_review(page)

    # Replay the whole job from the server and compare its final planogram with the grid.
    final = page.evaluate(f"""async () => {{
      const run = JSON.parse(sessionStorage.getItem('planogram-editor:{DEVICE}:optimisation'));
      const text = await (await fetch(`/api/planogram/optimizations/${{run.job_id}}/events`)).text();
      const done = text.split(/\\n\\n/).find((block) => block.includes('event: done'));
      return JSON.parse(done.split('\\n').find((line) => line.startsWith('data:')).slice(5)).planogram; }}""")
    assert _grid(page) == final
    assert int(page.locator("#opt-step").inner_text()) >= 3
    assert page.locator("#opt-explanation").inner_text().strip()

    page.click("#opt-discard")
    page.wait_for_selector("#opt-start:visible")
    assert _grid(page) == saved
    _assert_sse_parser(page)


def _assert_sse_parser(page: Any) -> None:
    """The page's own SSE parser: chunk edges inside CRLF, comments, multi-line data, ids, an unterminated tail."""
    events = page.evaluate(r"""async () => {
      const { SSEParser } = await import('/static/js/editor/sse.js');
      const out = [];
      const parser = new SSEParser((e) => out.push(e), (c) => out.push({ comment: c }));
      const wire = ': ping\r\nid: 1-0\r\nevent: progress\r\ndata: {"step":\r\ndata: 1}\r\n\r\n'
        + 'data: no type\n\nid: 2-0\nevent: done\ndata:{"ok":true}\n\nevent: lost\ndata: unterminated';
      for (let i = 0; i < wire.length; i += 7) parser.feed(wire.slice(i, i + 7));  // chunk edges split CRLF
      return out; }""")
    assert events == [
        {"comment": "ping"},
        {"id": "1-0", "event": "progress", "data": '{"step":\n1}'},
        {"id": "1-0", "event": "message", "data": "no type"},
        {"id": "2-0", "event": "done", "data": '{"ok":true}'},
    ]


def test_backtest_panel_shows_how_far_to_trust_the_numbers(live_server: dict[str, Any], page: Any) -> None:
    _open_editor(page, live_server)
    page.click("#tab-backtest")
    assert page.locator("#bt-result").inner_text() == ""  # nothing runs until asked
    page.select_option("#bt-holdout", "7")  # the browser fleet has 21 days of sales: 14 fitted, 7 held out
    page.click("#bt-run")
    page.wait_for_selector("#bt-figures")
    verdict = page.locator("#bt-verdict").inner_text()
    assert "over the last 7 days" in verdict and "90 % day range" in verdict
    figures = page.locator("#bt-figures").inner_text()
    assert "Revenue over 7 days" in figures and "same weekday last week" in figures
    assert "Days inside the 90 % day range" in figures
    assert page.locator("#bt-chart").count() == 1
    page.wait_for_timeout(300)
    page.locator("#panel-backtest").screenshot(path=str(ARTIFACTS / "editor-backtest.png"))
    page.select_option("#bt-holdout", "28")  # more than the data holds: said plainly, no error
    page.click("#bt-run")
    page.wait_for_selector("#bt-verdict >> text=backtest needs at least")
    assert page.locator("#bt-figures").count() == 0
