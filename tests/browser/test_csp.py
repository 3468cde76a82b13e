"""Every page works under the Content-Security-Policy: no violation, no script error, the page's script ran."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_fleet_pages import _sign_in

pytestmark = pytest.mark.slow

# (path, a selector the page's module script fills in or that only exists once the page rendered)
PAGES = [
    ("/", "#fleet-table tbody tr"),
    ("/products", "table"),
    ("/import", "form"),
    ("/content", "main"),
    ("/email", "main"),
    ("/review", "main"),
    ("/monitoring/", "main"),
    ("/monitoring/prompts", "main"),
    ("/users", "#users-table td select"),
    ("/devices/DEMO-GYM-01/visit-sheet", "main"),
    ("/route?devices=DEMO-GYM-01,DEMO-OFF-01", "main"),
]


def test_pages_raise_no_csp_violation(live_server: dict[str, Any], strict_page: Any) -> None:
    page = strict_page
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    _sign_in(page, live_server)
    page.click("text=Demo: Harbour Tower lobby")
    page.wait_for_selector(".cabinet")
    grow = page.locator(".slot").first.evaluate("el => el.style.flexGrow")
    assert grow and float(grow) > 0  # widths set by the module, not an inline style attribute
    page.click("text=Open the planogram editor")
    page.wait_for_selector("body[data-editor-ready]")  # the editor's modules ran
    page.screenshot(path=str(ARTIFACTS / "csp-editor.png"), full_page=True)
    for path, ready in PAGES:
        page.goto(live_server["url"] + path)
        page.wait_for_selector(ready)
        page.wait_for_load_state("networkidle")
    assert problems == []
