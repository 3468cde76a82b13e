"""An admin removes the demo fleet from the Fleet page after confirming; the import page says it is there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_fleet_pages import _sign_in

pytestmark = pytest.mark.slow


def test_admin_removes_the_demo_fleet_after_confirming(live_server: dict[str, Any], page: Any) -> None:
    _sign_in(page, live_server)
    page.goto(live_server["url"] + "/import")
    assert "Demo fleet present: 7 device(s)" in page.locator("#demo-note").inner_text()
    page.goto(live_server["url"] + "/")
    panel = page.locator("#demo-panel")
    assert "Demo fleet: 7 machine(s)" in panel.inner_text()
    page.click("#demo-remove")
    assert page.locator("#demo-confirm").is_visible()
    page.screenshot(path=str(ARTIFACTS / "demo-remove-confirm.png"), full_page=True)
    page.click("#demo-remove-no")  # cancelling changes nothing
    assert not page.locator("#demo-confirm").is_visible() and page.locator("#demo-remove").is_visible()
    page.click("#demo-remove")
    page.click("#demo-remove-yes")
    page.wait_for_selector("#demo-result.ok")
    assert "7 devices" in page.locator("#demo-result").inner_text()
    page.wait_for_selector("text=No machines yet")  # the page reloads without the demo
    assert page.locator("#demo-panel").count() == 0
    page.screenshot(path=str(ARTIFACTS / "demo-removed.png"), full_page=True)
