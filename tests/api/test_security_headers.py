"""Security headers on every kind of response; HSTS and Secure cookies over HTTPS; no inline script in pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from config import BASE_DIR

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_headers(response: Any) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/static/css/app.css",
        "/static/js/api.js",
        "/healthz",
        "/readyz",
        "/api/auth/me",
        "/no-such-page",
        "/api/no-such-endpoint",
    ],
)
def test_every_response_carries_the_security_headers(client: Any, path: str) -> None:
    response = client.get(path)
    response.close()  # static files answer with an open file (unclosed: a ResourceWarning, an error here)
    assert_headers(response)
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS


def test_signed_in_pages_and_api_errors_carry_them_too(client: Any, admin: dict[str, Any]) -> None:
    assert_headers(client.get("/", headers=admin["headers"]))
    assert_headers(client.post("/api/auth/token", data=b"[[[", content_type="application/json"))


def test_https_adds_hsts_and_secure_cookies(app: Flask, make_user: Any) -> None:
    user = make_user("viewer")
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    signed_in = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
        data={"email": user["email"], "password": user["password"], "csrf_token": token.group(1)},
    )
    assert signed_in.status_code == 302
    cookies = signed_in.headers.getlist("Set-Cookie")
    assert cookies and all("; Secure" in c for c in cookies)


def test_templates_have_no_inline_scripts_handlers_or_styles() -> None:
    for template in (BASE_DIR / "templates").glob("*.html"):
        text = template.read_text()
        scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text)
        assert scripts == [], template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert not re.search(r"\sstyle\s*=", text) and "<style" not in text, template.name
