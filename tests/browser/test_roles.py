"""Every menu page (and the machine pages) as every role: no 5xx, no console error, menus fit the role."""

from __future__ import annotations

from typing import Any

import pytest

from extensions import db
from models import ROLES
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.slow
PASSWORD = "role-pass-123"
DEVICE = "DEMO-GYM-01"
EXTRA_PAGES = (f"/devices/{DEVICE}", f"/devices/{DEVICE}/editor", f"/devices/{DEVICE}/visit-sheet")
HIDDEN = {  # menu entries a role must not see
    "viewer": {"Import", "Monitoring", "Users"},
    "merchandiser": {"Content", "Email", "Review", "Monitoring", "Users"},
    "marketer": {"Import", "Email", "Monitoring", "Users"},
    "agent": {"Import", "Content", "Monitoring", "Users"},
    "admin": set(),
}


def _users(server: dict[str, Any]) -> dict[str, str]:
    from services import auth

    emails = {}
    with server["app"].app_context():
        for role in ROLES:
            if role == "admin":
                emails[role] = server["email"]
                continue
            emails[role] = f"{role}@example.com"
            auth.create_user(emails[role], PASSWORD, role)
        db.session.commit()
    return emails


def _visit_all(browser: Any, server: dict[str, Any], role: str, email: str) -> list[str]:
    """Sign in as `role`, open every menu page and the machine pages; return the problems seen."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{role} {page.url}: console {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"{role} {page.url}: {exc}"))
    page.on("response", lambda r: problems.append(f"{role}: {r.status} {r.url}") if r.status >= 500 else None)
    page.goto(server["url"] + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", server["password"] if role == "admin" else PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server["url"] + "/")
    menu = page.eval_on_selector_all(
        "nav[aria-label=Main] a", "els => els.map(a => [a.textContent.trim(), a.pathname])"
    )
    labels = {label for label, _ in menu}
    assert not labels & HIDDEN[role], f"{role} sees {labels & HIDDEN[role]}"
    for _label, path in [*menu, *((p, p) for p in EXTRA_PAGES)]:
        response = page.goto(server["url"] + path)
        page.wait_for_load_state("networkidle")
        status = response.status if response else 0
        assert status < 400, f"{role} {path}: {status}"
    context.close()
    return problems


def test_every_menu_page_as_every_role(live_server: dict[str, Any], page: Any) -> None:
    emails = _users(live_server)
    browser = page.context.browser
    problems = [p for role in ROLES for p in _visit_all(browser, live_server, role, emails[role])]
    assert not problems, "\n".join(problems)


def test_styled_error_pages_quote_the_request_id(live_server: dict[str, Any], page: Any) -> None:
    emails = _users(live_server)
    page.goto(live_server["url"] + "/login")
    page.fill("input[name=email]", emails["viewer"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server["url"] + "/")
    response = page.goto(live_server["url"] + "/monitoring/")
    assert response.status == 403
    rid = page.locator(".error-page code.rid").inner_text()
    assert rid == response.headers["x-request-id"]
    assert "Not for your role" in page.locator("h1").inner_text()
    response = page.goto(live_server["url"] + "/devices/NO-SUCH-DEVICE")
    assert response.status == 404 and page.locator(".error-page h1").inner_text() == "Page not found"
    page.screenshot(path=str(ARTIFACTS / "error-404.png"), full_page=True)
