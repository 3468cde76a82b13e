"""Bulk captions through the providers' batch APIs (real SDKs against the fake provider), run by the job runner."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import GeneratedContent, LLMBatch, LLMRequest
from services.llm.pricing import PriceTable
from services.llm.types import Usage
from tests.api import content_fixtures as fx

marketer, agent = fx.marketer, fx.agent
ITEMS = [
    {"products": ["COLA"], "media_description": "a can on a desk at sunrise"},
    {"products": ["WATER"], "media_description": "a bottle by the gym door"},
    {"products": ["CHIPS", "CHOC"], "notes": "Friday treat"},
]


@pytest.fixture
def overrides() -> dict[str, Any]:
    """App settings a test changes (budget, provider URL)."""
    return {}


@pytest.fixture
def app(make_llm_app: Callable[..., Flask], overrides: dict[str, Any]) -> Flask:
    app = make_llm_app(**overrides)
    with app.app_context():
        fx.seed_catalog()
        db.session.commit()
    return app


def start(client: Any, user: dict[str, Any], items: list[dict[str, Any]] = ITEMS) -> Any:
    return client.post(
        "/api/content/batch-captions",
        json={"items": items, "style": "casual", "platform": "instagram"},
        headers=user["headers"],
    )


def finished(client: Any, user: dict[str, Any], batch_id: int) -> dict[str, Any]:
    """Follow the batch until the job has finished (the fake's batches end after one poll)."""
    for _ in range(400):
        body = client.get(f"/api/content/batches/{batch_id}", headers=user["headers"]).json
        if body["status"] in ("finished", "failed"):
            return body
        time.sleep(0.025)
    raise AssertionError(f"batch {batch_id} did not finish: {body}")


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_batch_captions_are_drafts_billed_at_the_batch_price(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer, rq_worker: None
) -> None:
    first = ITEMS[0]
    warm = client.post(
        "/api/content/caption", json={**first, "style": "casual", "platform": "instagram"}, headers=marketer["headers"]
    )
    assert warm.status_code == 201 and not warm.json["fallback_used"]
    res = start(client, marketer)
    assert res.status_code == 202, res.json
    assert (res.json["status"], res.json["items"]) == ("queued", 3)
    body = finished(client, marketer, res.json["id"])

    results = body["results"]
    assert body["status"] == "finished" and len(results) == 3
    assert results[0]["status"] == "cached" and not results[0]["batch"]  # the interactive answer, reused
    batched = [c for c in fake.calls if c.api.endswith("-batch")]
    assert len(batched) == 2
    with app.app_context():
        for item, call in zip(results[1:], batched, strict=True):
            assert (item["status"], item["batch"], item["fallback_used"]) == ("ok", True, False)
            row = db.session.get(LLMRequest, item["request_id"])
            draft = db.session.get(GeneratedContent, item["draft_id"])
            assert row is not None and row.batch and draft is not None and draft.request_id == row.id
            usage = Usage(call.usage["prompt"], call.usage["completion"], call.usage["cached"])
            assert row.cost_usd == pytest.approx(PriceTable().cost(call.model, usage) * 0.5)
            assert draft.content == item["text"] and draft.status == "draft"
        assert body["cost_usd"] == pytest.approx(sum(i["cost_usd"] for i in results), abs=1e-8)
    # The batch filled the same cache the interactive endpoint reads.
    again = client.post(
        "/api/content/caption",
        json={**ITEMS[1], "style": "casual", "platform": "instagram"},
        headers=marketer["headers"],
    )
    assert again.json["cached"] and again.json["text"] == results[1]["text"]


def test_errored_and_expired_items_get_the_labelled_rule_based_caption(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer, rq_worker: None
) -> None:
    fake.add(error="500", contains="Water")
    fake.script.batch_expire_after = 2  # the third request is never processed
    body = finished(client, marketer, start(client, marketer).json["id"])
    ok, errored, expired = body["results"]
    assert ok["status"] == "ok" and not ok["fallback_used"]
    assert (errored["fallback_used"], errored["fallback_reason"], errored["error_kind"]) == (
        True,
        "provider_error",
        "batch_errored",
    )
    assert (expired["fallback_used"], expired["fallback_reason"], expired["error_kind"]) == (
        True,
        "provider_error",
        "batch_expired",
    )
    with app.app_context():
        draft = db.session.get(GeneratedContent, expired["draft_id"])
        assert draft is not None and draft.fallback_used
        assert draft.structured_content["needs_review"] and draft.structured_content["fallback_reason"]
        assert "Crisps 45g" in draft.content  # the rule-based caption names the products


@pytest.mark.parametrize("overrides", [{"LLM_DAILY_BUDGET_USD": 0.0000001}])
def test_exhausted_budget_sends_nothing_and_falls_back(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer, rq_worker: None
) -> None:
    body = finished(client, marketer, start(client, marketer).json["id"])
    assert {(r["fallback_reason"], r["error_kind"]) for r in body["results"]} == {("budget", "budget_exceeded")}
    assert not fake.calls and body["cost_usd"] == 0.0


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("overrides", [{"ANTHROPIC_BASE_URL": _closed_port_url()}])
def test_provider_down_falls_back_for_every_item(
    app: Flask, client: Any, marketer: dict[str, Any], rq_worker: None
) -> None:
    body = finished(client, marketer, start(client, marketer).json["id"])
    assert body["status"] == "finished"
    assert {(r["fallback_reason"], r["error_kind"]) for r in body["results"]} == {("provider_error", "connection")}
    with app.app_context():
        assert all(db.session.get(GeneratedContent, r["draft_id"]) is not None for r in body["results"])


def test_roles_unknown_products_and_unknown_batches(
    app: Flask, client: Any, marketer: dict[str, Any], agent: dict[str, Any]
) -> None:
    assert start(client, agent).status_code == 403
    res = start(client, marketer, [{"products": ["NOPE"]}])
    assert res.status_code == 422 and res.json["error"]["details"][0]["field"] == "products"
    assert start(client, marketer, []).status_code in (400, 422)
    with app.app_context():
        assert db.session.scalars(select(LLMBatch)).first() is None  # rejected input queues nothing
    assert client.get("/api/content/batches/999", headers=marketer["headers"]).status_code == 404
    assert client.get("/api/content/batches/1", headers=agent["headers"]).status_code == 403


def test_a_job_that_cannot_build_its_calls_marks_the_batch_failed(
    app: Flask, client: Any, marketer: dict[str, Any]
) -> None:
    from services.content import assistant as content
    from services.errors import ValidationFailed

    with app.app_context():
        row = LLMBatch(
            kind="captions",
            status="queued",
            cost_usd=0.0,
            params={"style": "casual", "platform": "x", "items": [{"products": ["GONE"]}]},
        )
        db.session.add(row)
        db.session.commit()
        with pytest.raises(ValidationFailed):
            content.run_caption_batch(row.id)
        batch_id = row.id
    body = client.get(f"/api/content/batches/{batch_id}", headers=marketer["headers"]).json
    assert (body["status"], body["error"], body["results"]) == ("failed", "ValidationFailed: Unknown products", [None])
