"""The API contract: /api/openapi.json describes every /api route from its pydantic models, and schemathesis
fuzzes every operation against the app (bounded, derandomized examples): no 5xx, answers match the document."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import schemathesis
import time_machine
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from blueprints._openapi import build_spec, contract_of
from config import BASE_DIR, TestConfig
from extensions import db
from services import auth
from services.ai import EXTENSION_KEY
from services.demo import seed_demo
from services.prompts import PromptRegistry
from tests.clock import DEMO_END, FIXED_NOW
from tests.conftest import REDIS_MODE
from tests.demo_fleet import clear_device_caches

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Cut-offs of one generated call: a stream is read for two events (or a second), then closed.
FUZZ_CONFIG = {"max-stream-events": 2, "request-timeout": 5}


def test_document_is_public_openapi_31_and_covers_every_api_route(client: Any, app: Flask) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    undeclared = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and contract_of(app.view_functions[rule.endpoint]) is None
    )
    assert not undeclared, f"views without @api_doc: {undeclared}"
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule), m.lower())
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/")
        for m in r.methods or ()
        if m not in {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert documented == routes - {("/api/docs", "get")}  # every operation but the HTML page


def test_operations_carry_models_roles_and_the_error_shape(client: Any) -> None:
    doc = client.get("/api/openapi.json").get_json()
    score = doc["paths"]["/api/planogram/realtime-score"]["post"]
    assert score["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ScoreBody"}
    assert doc["components"]["schemas"]["ScoreBody"]["additionalProperties"] is False
    assert score["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    optimise = doc["paths"]["/api/planogram/optimize"]["post"]
    assert optimise["x-required-roles"] == ["admin", "merchandiser"]
    token = doc["paths"]["/api/auth/token"]["post"]
    assert token["security"] == [] and "201" in token["responses"]
    products = {p["name"]: p for p in doc["paths"]["/api/products"]["get"]["parameters"]}
    assert products["per_page"]["schema"]["maximum"] == 500 and products["per_page"]["in"] == "query"
    draft = doc["paths"]["/api/drafts/{draft_id}"]["get"]["parameters"][0]
    assert draft["in"] == "path" and draft["schema"]["maximum"] == 2**63 - 1
    assert (
        "text/event-stream" in doc["paths"]["/api/planogram/stream-optimization"]["post"]["responses"]["200"]["content"]
    )


def test_docs_page_lists_the_operations_without_inline_script(client: Any) -> None:
    response = client.get("/api/docs")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "POST /api/planogram/realtime-score" in html and 'id="schema-ScoreBody"' in html
    assert "<script>" not in html and "style=" not in html


def test_a_view_parsing_an_undeclared_model_fails_under_test(app: Flask, admin: dict[str, Any]) -> None:
    from blueprints._openapi import check_parsed
    from blueprints.planogram import HeatBody, ScoreBody, realtime_score

    check_parsed(realtime_score, "body", ScoreBody)
    with pytest.raises(AssertionError, match="declares"):
        check_parsed(realtime_score, "body", HeatBody)


# --- schemathesis ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_app(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    """One app with the demo fleet for every fuzzed operation (state carries over, as on a real server)."""
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(template_db, folder / "app.db")
    settings_: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'app.db'}",
        "INSTANCE_PATH": str(folder / "instance"),
        "LOG_LEVEL": "ERROR",
        "SSE_HEARTBEAT_SECONDS": 0.5,
        "STREAM_ABANDON_SECONDS": 1,
        "RATELIMIT_ENABLED": False,
    }
    if REDIS_MODE:
        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
        settings_ |= {"REDIS_URL": url, "RATELIMIT_STORAGE_URI": url}
    app = create_app(TestConfig(**settings_))
    clear_device_caches()
    with time_machine.travel(FIXED_NOW, tick=False), app.app_context():
        seed_demo(seed=4, days=14, end=DEMO_END)
        PromptRegistry(BASE_DIR / "prompts").sync()
        db.session.commit()
    yield app
    app.extensions[EXTENSION_KEY].close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def admin_headers(fuzz_app: Flask) -> dict[str, str]:
    """An admin passes every role check, so each operation is reached (role refusals are tested elsewhere)."""
    with fuzz_app.app_context():
        user = auth.create_user("fuzz-admin@example.com", "correct-horse-1", "admin")
        token = auth.issue_token(user, 1)
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def _document() -> dict[str, Any]:
    """The OpenAPI document of a throwaway app (the document needs no database: built at collection)."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_PATH=folder, LOG_LEVEL="ERROR"))
        document = build_spec(app)
        app.extensions[EXTENSION_KEY].close()
    return document


# Revoking the fuzzer's own token would turn every later call into a 401.
schema = schemathesis.openapi.from_dict(_document(), config=schemathesis.Config.from_dict(FUZZ_CONFIG)).exclude(
    path="/api/auth/token", method="DELETE"
)


@schema.parametrize()
@settings(
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_contract(case: schemathesis.Case[Any], fuzz_app: Flask, admin_headers: dict[str, str]) -> None:
    case.call_and_validate(app=fuzz_app, headers=admin_headers, checks=CHECKS)
