"""Browser fixtures: the app served on a free localhost port, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from config import BASE_DIR
from extensions import db
from tests.clock import DEMO_END, FIXED_NOW

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_vendor_files() -> list[str]:
    """Front-end library files the templates and modules load from static/vendor that are not there."""
    referenced: set[str] = set()
    for folder, pattern in ((BASE_DIR / "templates", "*.html"), (BASE_DIR / "static" / "js", "*.js")):
        for path in folder.rglob(pattern):
            referenced.update(re.findall(r"vendor/([\w.-]+\.js)", path.read_text(encoding="utf-8")))
    vendor = BASE_DIR / "static" / "vendor"
    return sorted(name for name in referenced if not (vendor / name).is_file())


@pytest.fixture(scope="session", autouse=True)
def front_end_built() -> None:
    """Fail every browser test at once, with the fix, when the vendored front-end libraries are missing
    (the pages would otherwise wait for scripts that never load until each test times out)."""
    missing = missing_vendor_files()
    if missing:
        pytest.fail(
            f"static/vendor is missing {', '.join(missing)}: run `make frontend` "
            "(npm ci && npm run vendor) before the browser tests",
            pytrace=False,
        )


@pytest.fixture
def live_server(make_app: Any) -> Iterator[dict[str, Any]]:
    """A seeded app (demo fleet + a known admin) served in a background thread."""
    from services import auth
    from services.demo import seed_demo

    app = make_app()
    with app.app_context():
        seed_demo(seed=5, days=21, end=DEMO_END)
        auth.create_user("admin@example.com", "browser-pass-1", "admin")
        db.session.commit()
    with serve(app) as url:
        yield {"url": url, "email": "admin@example.com", "password": "browser-pass-1", "app": app}


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` from a background thread on a free localhost port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
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
        context.clock.install(time=FIXED_NOW)  # the page's Date agrees with the server's fixed clock
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
