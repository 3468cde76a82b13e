"""Browser fixtures: the app served on a free localhost port, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from extensions import db

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def live_server(make_app: Any) -> Iterator[dict[str, Any]]:
    """A seeded app (demo fleet + a known admin) served in a background thread."""
    from services import auth
    from services.demo import seed_demo

    app = make_app()
    with app.app_context():
        seed_demo(seed=5, days=21)
        auth.create_user("admin@example.com", "browser-pass-1", "admin")
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}", "email": "admin@example.com",
               "password": "browser-pass-1", "app": app}
    finally:
        server.shutdown()
        thread.join(5)


def _chromium_page(bypass_csp: bool) -> Iterator[Any]:
    """A fresh Chromium page (Playwright never downloads a browser here: it drives /usr/bin/chromium)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make test` installs it with apt-get")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


@pytest.fixture
def page() -> Iterator[Any]:
    """A page for behaviour tests: Playwright's polling predicates (wait_for_function) are evaluated with
    eval, which the app's CSP forbids, so the CSP is bypassed here; `strict_page` keeps it (test_csp.py)."""
    yield from _chromium_page(bypass_csp=True)


@pytest.fixture
def strict_page() -> Iterator[Any]:
    """A page that enforces the app's Content-Security-Policy as a real browser does."""
    yield from _chromium_page(bypass_csp=False)
