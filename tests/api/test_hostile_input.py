"""Hostile input never reaches a 500: sizes, nesting, non-objects, huge numbers, odd dates, control characters."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

DEEP = b"[" * 100_000
HOSTILE_BODIES: list[bytes] = [
    DEEP,
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b'"x"',
    b"1e309",
    b"NaN",
    b"[]",
    b"1",
    b"null",
    b"{",
    b'{"x": Infinity}',
    b"\xff\xfe",
    b'{"email": 1e999}',
]


def error_shape(response: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.data[:300])
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    return error


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=lambda b: repr(b[:12]))
def test_public_token_endpoint_rejects_any_malformed_body_with_422(client: Any, body: bytes) -> None:
    response = client.post("/api/auth/token", data=body, content_type="application/json")
    error = error_shape(response, 422)
    assert error["code"] == "validation_error" and error["details"][0]["field"] is None


def test_a_body_over_the_limit_is_413(make_app: Callable[..., Flask]) -> None:
    client = make_app(JSON_MAX_BYTES=1024).test_client()
    body = b'{"email": "' + b"a" * 2000 + b'", "password": "x"}'
    error = error_shape(client.post("/api/auth/token", data=body, content_type="application/json"), 413)
    assert error["code"] == "payload_too_large" and error["details"]["max_bytes"] == 1024


def test_every_json_endpoint_answers_hostile_bodies_without_a_server_error(app: Flask, admin: dict[str, Any]) -> None:
    client = app.test_client()
    seen = 0
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & {"POST", "PATCH", "PUT"}
        if not rule.rule.startswith("/api/") or not methods:
            continue
        path = re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?:string:)?[^>:]+>", "x", rule.rule))
        for method in methods:
            for body in (DEEP, b'"x"', b"1e309", b"NaN"):
                response = client.open(
                    path, method=method, data=body, content_type="application/json", headers=admin["headers"]
                )
                assert response.status_code < 500, (method, path, body[:10], response.data[:200])
                seen += 1
    assert seen >= 4 * 25  # the API has dozens of JSON writes: all of them were tried


def test_integers_beyond_64_bits_are_422_or_404(app: Flask, admin: dict[str, Any]) -> None:
    client, headers = app.test_client(), admin["headers"]
    assert client.get("/api/drafts/9223372036854775808", headers=headers).status_code == 404
    assert client.get("/api/drafts/9223372036854775807", headers=headers).status_code == 404  # largest valid id
    error = error_shape(client.get("/api/drafts?page=99999999999999999999", headers=headers), 422)
    assert error["details"][0]["field"] == "page"
    post = {"platform": "x", "text": "hello", "posted_at": "2025-03-01T10:00:00Z", "impressions": 10**30}
    error = error_shape(client.post("/api/content/posts", json=post, headers=headers), 422)
    assert error["details"] == [{"field": "impressions", "reason": "integer out of range (must fit in 64 bits)"}]
    body = {"device_id": "D1", "min_facings": {"COLA": 10**30}}
    error = error_shape(client.post("/api/planogram/optimize", json=body, headers=headers), (404, 422))
    assert error["code"] == "validation_error" and error["details"][0]["field"] == "min_facings.COLA"


def test_dates_out_of_range_are_422(app: Flask, admin: dict[str, Any]) -> None:
    client = app.test_client()
    error = error_shape(
        client.post("/api/content/suggestion", json={"date": "0001-01-01"}, headers=admin["headers"]), 422
    )
    assert error["details"][0]["field"] == "day" and "date out of range" in error["details"][0]["reason"]


def test_control_characters_are_rejected_in_strings(app: Flask, admin: dict[str, Any]) -> None:
    body = {"email": "nul@example.com", "password": "correct-horse-1", "role": "viewer", "name": "Ann\u0000ie"}
    error = error_shape(app.test_client().post("/api/users", json=body, headers=admin["headers"]), 422)
    assert error["details"] == [{"field": "name", "reason": "contains control characters"}]
    body["name"] = "Line one\nline two\ttabbed"  # ordinary whitespace is fine
    assert app.test_client().post("/api/users", json=body, headers=admin["headers"]).status_code == 201


def test_sign_in_limiter_key_survives_non_object_bodies(client: Any) -> None:
    for body in (b'"x"', b"1e309", b"NaN", b'{"email": 5}', b'{"email": ["a"]}'):
        response = client.post("/api/auth/token", data=body, content_type="application/json")
        assert response.status_code == 422, response.data[:200]
