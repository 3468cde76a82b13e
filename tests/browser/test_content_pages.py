"""Content studio, email assistant and review in the browser, embedded mode (no AI provider)."""

from __future__ import annotations

from typing import Any

import pytest

from config import BASE_DIR
from extensions import db
from services.prompts import PromptRegistry
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.slow
FALLBACK = "Rule-based draft (no AI provider)"


def _sign_in(page: Any, server: dict[str, Any]) -> None:
    with server["app"].app_context():
        PromptRegistry(BASE_DIR / "prompts").sync()
        db.session.commit()
    page.goto(server["url"] + "/login")
    page.fill("input[name=email]", server["email"])
    page.fill("input[name=password]", server["password"])
    page.click("button[type=submit]")
    page.wait_for_url(server["url"] + "/")


def test_caption_and_email_drafts_then_approve_one(live_server: dict[str, Any], page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, live_server)
    url = live_server["url"]

    page.click("nav >> text=Content")
    form = page.locator('form[data-tool="caption"]')
    form.locator("input[name=products]").fill("DEMO-COLA-330, DEMO-CHIPS-SALT")
    form.locator("textarea[name=media_description]").fill("a can and a bag of crisps on a desk at 3pm")
    form.locator("select[name=style]").select_option("funny")
    form.locator("select[name=platform]").select_option("x")
    form.locator("button[type=submit]").click()
    result = page.locator("#result article.result")
    result.wait_for()
    assert FALLBACK in result.inner_text() and "Cola Classic 330ml can" in result.inner_text()
    assert "/ 280 characters" in result.inner_text()
    page.screenshot(path=str(ARTIFACTS / "content-caption.png"), full_page=True)

    page.click("nav >> text=Email")
    email = page.locator("#email-form")
    email.locator("input[name=subject]").fill("Machine kept my money")
    email.locator("textarea[name=body]").fill(
        "Hello, the machine at platform 2 took my card payment but nothing dropped (order DEMO-ORD-1002). "
        "Call me on +44 20 7946 0958 or write to sam.okafor@example.com. Card 4111 1111 1111 1111."
    )
    email.locator("select[name=response_type]").select_option("complaint")
    email.locator("select[name=tone]").select_option("apologetic")
    email.locator("button[type=submit]").click()
    reply = page.locator("#result article.result")
    reply.wait_for()
    text = reply.inner_text()
    assert FALLBACK in text and "Hello Sam Okafor," in text and "We are sorry for the trouble" in text
    assert "Check order DEMO-ORD-1002 in the vending portal" in text and "Needs review" in text
    page.screenshot(path=str(ARTIFACTS / "email-draft.png"), full_page=True)

    reply.locator("text=Open in the review editor").click()
    page.wait_for_url(f"{url}/review/*")
    page.wait_for_function("document.getElementById('draft-text').value.length > 0")
    edited = page.locator("#draft-text").input_value().replace("Kind regards", "Best regards")
    page.fill("#draft-text", edited)
    page.fill("#draft-feedback", "clear and promises nothing")
    page.click("#approve")
    page.wait_for_selector("#draft-status.status-approved")
    assert "approved" in page.locator("#draft-edits").inner_text()
    assert page.locator("#use").is_enabled() and page.locator("#approve").is_disabled()
    page.screenshot(path=str(ARTIFACTS / "review-editor.png"), full_page=True)

    page.goto(f"{url}/review?status=")
    page.wait_for_selector("#queue-table tbody tr a")
    queue = page.locator("#queue-table").inner_text()
    assert "approved" in queue and "caption" in queue and "email reply" in queue
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)
    assert errors == []
