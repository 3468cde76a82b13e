"""Security headers on every response (pages, API, static files, errors), set in this one place.

The Content-Security-Policy allows scripts, styles, images and connections from this origin only: no
inline scripts or event handlers, no inline styles (templates keep JSON data islands, which are not
executed, and set sizes through CSSOM in modules), no framing by anyone. Over HTTPS (directly or via a
proxy that gunicorn trusts, FORWARDED_ALLOW_IPS) responses add HSTS and every cookie is marked Secure.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure when configured so, and on every HTTPS response in any case."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """SESSION_COOKIE_SECURE, or the request came over HTTPS (the cookie is saved after after_request)."""
        return bool(super().get_cookie_secure(app) or request.is_secure)


def init_security_headers(app: Flask) -> None:
    """Register the after-request hook and the HTTPS-aware session cookie."""
    app.session_interface = HttpsAwareSessionInterface()
    hsts = f"max-age={int(app.config['HSTS_SECONDS'])}; includeSubDomains"

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", hsts)
            _secure_cookies(response)
        return response


def _secure_cookies(response: Response) -> None:
    """Mark every cookie a view set on an HTTPS response Secure (the session cookie: see above)."""
    cookies = response.headers.getlist("Set-Cookie")
    if not cookies:
        return
    response.headers.remove("Set-Cookie")
    for cookie in cookies:
        secure = any(part.strip().lower() == "secure" for part in cookie.split(";"))
        response.headers.add("Set-Cookie", cookie if secure else f"{cookie}; Secure")
