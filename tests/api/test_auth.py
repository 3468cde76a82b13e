"""Authentication on every /api route, role checks, tokens, browser login with CSRF, rate limits."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

PUBLIC_API = {"/api/auth/token", "/api/openapi.json", "/api/docs"}  # sign-in and the API description


def test_anonymous_api_is_401_json(client: Any) -> None:
    response = client.get("/api/devices")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["X-Request-ID"]


def test_every_api_route_requires_auth(app: Flask, client: Any) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in PUBLIC_API:
            continue
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code == 401, (method, url, response.status_code)
            checked += 1
    assert checked >= 8


def test_invalid_token_is_401(client: Any) -> None:
    response = client.get("/api/devices", headers={"Authorization": "Bearer pgw_not-a-token"})
    assert response.status_code == 401
    assert "Invalid or expired" in response.json["error"]["message"]


def test_token_flow_and_revocation(client: Any, make_user: Any) -> None:
    user = make_user("merchandiser", email="m@example.com")
    response = client.post("/api/auth/token", json={"email": "M@Example.com ", "password": user["password"]})
    assert response.status_code == 201
    token = response.json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/auth/me", headers=headers).json["role"] == "merchandiser"
    assert client.delete("/api/auth/token", headers=headers).status_code == 204
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_wrong_password_is_401_and_token_not_stored_in_clear(app: Flask, client: Any, make_user: Any) -> None:
    user = make_user("viewer")
    bad = client.post("/api/auth/token", json={"email": user["email"], "password": "nope"})
    assert bad.status_code == 401 and bad.json["error"]["code"] == "invalid_credentials"
    from sqlalchemy import select

    from extensions import db
    from models import ApiToken

    with app.app_context():
        stored = list(db.session.scalars(select(ApiToken.token_hash)))
    assert user["token"] not in stored and len(stored[0]) == 64


def test_malformed_token_request_names_fields(client: Any) -> None:
    response = client.post("/api/auth/token", data="not json", content_type="application/json")
    assert response.status_code == 422
    response = client.post("/api/auth/token", json={"email": "x@example.com"})
    assert response.status_code == 422
    assert response.json["error"]["details"] == [{"field": "password", "reason": "Field required"}]


def test_viewer_cannot_create_users_but_admin_can(client: Any, viewer: dict[str, Any], admin: dict[str, Any]) -> None:
    payload = {"email": "new@example.com", "password": "long-enough-1", "role": "agent"}
    denied = client.post("/api/users", json=payload, headers=viewer["headers"])
    assert denied.status_code == 403
    assert denied.json["error"]["code"] == "forbidden"
    created = client.post("/api/users", json=payload, headers=admin["headers"])
    assert created.status_code == 201 and created.json["role"] == "agent"
    again = client.post("/api/users", json=payload, headers=admin["headers"])
    assert again.status_code == 409


def test_user_validation_lists_each_problem(client: Any, admin: dict[str, Any]) -> None:
    response = client.post(
        "/api/users", json={"email": "bad", "password": "short", "role": "king"}, headers=admin["headers"]
    )
    assert response.status_code == 422
    assert {d["field"] for d in response.json["error"]["details"]} == {"email", "password", "role"}


def test_create_user_cli_hashes_password(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["create-user", "cli@example.com", "--password", "s3cret-pass", "--role", "marketer"])
    assert result.exit_code == 0, result.output
    from sqlalchemy import select

    from extensions import db
    from models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "cli@example.com"))
        assert user is not None and user.role == "marketer" and "s3cret-pass" not in user.password_hash
    bad = runner.invoke(args=["create-user", "x@example.com", "--password", "s3cret-pass", "--role", "root"])
    assert bad.exit_code != 0


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_browser_login_requires_csrf_and_then_reaches_fleet(client: Any, make_user: Any) -> None:
    user = make_user("viewer")
    assert client.get("/").status_code == 302
    no_token = client.post("/login", data={"email": user["email"], "password": user["password"]})
    assert no_token.status_code == 400
    token = _csrf(client.get("/login").get_data(as_text=True))
    ok = client.post("/login", data={"email": user["email"], "password": user["password"], "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/")
    page = client.get("/")
    assert page.status_code == 200 and b"Fleet" in page.data
    # Session-authenticated API calls need the CSRF header for writes, not for reads.
    assert client.get("/api/devices").status_code == 200
    assert client.post("/api/imports", data={}).status_code == 400
    assert client.post("/api/imports", data={}, headers={"X-CSRFToken": token}).status_code == 403


def test_login_attempts_are_rate_limited(make_app: Any) -> None:
    app = make_app(RATELIMIT_LOGIN="3 per minute")
    client = app.test_client()
    codes = [
        client.post("/api/auth/token", json={"email": "a@example.com", "password": "x"}).status_code for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    last = client.post("/api/auth/token", json={"email": "a@example.com", "password": "x"})
    assert last.json["error"]["code"] == "rate_limited"
    assert int(last.headers["Retry-After"]) > 0


def test_api_rate_limit_is_per_token(make_app: Any) -> None:
    app = make_app(RATELIMIT_DEFAULT="3 per minute")
    from extensions import db
    from services import auth

    with app.app_context():
        tokens = []
        for email in ("a@example.com", "b@example.com"):
            tokens.append(auth.issue_token(auth.create_user(email, "long-enough-1", "viewer"), 1))
        db.session.commit()
    client = app.test_client()
    first = [client.get("/api/devices", headers={"Authorization": f"Bearer {tokens[0]}"}).status_code for _ in range(4)]
    assert first == [200, 200, 200, 429]
    assert client.get("/api/devices", headers={"Authorization": f"Bearer {tokens[1]}"}).status_code == 200


def test_token_use_is_recorded_without_a_pending_write_in_the_request(app: Flask, viewer: dict[str, Any]) -> None:
    from sqlalchemy import select

    from extensions import db
    from models import ApiToken
    from services.auth import user_for_token

    with app.test_request_context("/api/auth/me", headers=viewer["headers"]):
        assert user_for_token(viewer["token"]) is not None
        assert not db.session.dirty and not db.session.new, "auth must not leave writes in the request session"
        db.session.rollback()  # the request ends without a commit: the touch must survive anyway
    with app.app_context():
        stamps = list(db.session.scalars(select(ApiToken.last_used_at)))
    assert len(stamps) == 1 and stamps[0] is not None


def test_one_address_spraying_many_accounts_hits_the_address_limit(make_app: Any) -> None:
    client = make_app(RATELIMIT_LOGIN="5 per minute").test_client()
    codes = [
        client.post("/api/auth/token", json={"email": f"user{n}@example.com", "password": "guess"}).status_code
        for n in range(8)
    ]
    assert codes == [401] * 5 + [429] * 3  # different accounts, one address: the hard limit applies


def test_failed_attempts_slow_an_account_down_but_never_lock_its_owner_out(make_app: Any, monkeypatch: Any) -> None:
    from extensions import db
    from services import auth, login_throttle

    app = make_app(
        LOGIN_FREE_FAILURES=2,
        LOGIN_DELAY_BASE_SECONDS=1.0,
        LOGIN_DELAY_MAX_SECONDS=8.0,
        RATELIMIT_LOGIN="1000 per minute",
    )
    with app.app_context():
        auth.create_user("owner@example.com", "correct-horse-1", "viewer")
        db.session.commit()
    waits: list[float] = []
    monkeypatch.setattr(login_throttle, "sleep", waits.append)  # observe the delay instead of sleeping it
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(6):
        wrong = attacker.post("/api/auth/token", json={"email": "Owner@Example.com", "password": "guess"})
        assert wrong.status_code == 401
    assert waits == [1.0, 2.0, 4.0, 8.0]  # free failures, then doubling up to the cap
    right = owner.post("/api/auth/token", json={"email": "owner@example.com", "password": "correct-horse-1"})
    assert right.status_code == 201  # slowed (8 s) but never refused
    assert waits[-1] == 8.0
    again = owner.post("/api/auth/token", json={"email": "owner@example.com", "password": "correct-horse-1"})
    assert again.status_code == 201 and len(waits) == 5  # a success forgot the failures: no wait now
