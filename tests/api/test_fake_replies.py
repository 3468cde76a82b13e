"""The fake provider's scripted replies pass every feature's own checks (both wire formats, streaming too),
and its configurable invalid replies take the labelled fallback path with the provider's real usage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from devtools.fake_llm import FakeLLMServer, family_of, reply_for
from extensions import db
from models import LLMRequest
from services.optimization_explain import ExplanationInput, stream_explanation
from services.planogram import Move
from tests.api import content_fixtures as fx
from tests.clock import days_ago

app, marketer, agent = fx.app, fx.marketer, fx.agent


@pytest.fixture
def prefixed(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    """The fake as `flask fake-llm` runs it: models reported as fake-<model>."""
    monkeypatch.setattr(fake, "model_prefix", "fake-")
    return fake


def post(client: Any, user: dict[str, Any], path: str, **body: Any) -> dict[str, Any]:
    res = client.post(f"/api/{path}", json=body, headers=user["headers"])
    assert res.status_code == 201, res.json
    return dict(res.json)


def assert_clean_ai(body: dict[str, Any]) -> None:
    """An AI answer that passed the schema and the feature's checks, reported under the fake's model."""
    assert (body["fallback_used"], body["fallback_reason"], body["label"]) == (False, None, "AI draft")
    assert body["flags"] == [] and body["needs_review"] is False
    assert body["model"].startswith("fake-") and body["tokens_in"] > 0 and body["cost_usd"] > 0


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_every_content_feature_gets_a_valid_scripted_reply(
    client: Any, marketer: dict[str, Any], prefixed: FakeLLMServer, provider: str
) -> None:
    caption = post(
        client,
        marketer,
        "content/caption",
        products=["COLA", "CHIPS"],
        style="funny",
        platform="x",
        media_description="a can and crisps on a desk",
    )
    tags = post(client, marketer, "content/hashtags", products=["COLA"], platform="instagram", max_hashtags=6)
    suggestion = post(client, marketer, "content/suggestion", platform="instagram")
    period = {"from": days_ago(14).date().isoformat(), "to": days_ago(1).date().isoformat()}
    summary = post(client, marketer, "content/performance", **period)
    for body in (caption, tags, suggestion):
        assert_clean_ai(body)
    assert summary["fallback_used"] is False and summary["data"]["unverified_numbers"] == []  # figures quoted only
    assert {c.family for c in prefixed.calls} == {"caption", "hashtags", "post_suggestion", "performance"}
    assert {c.api for c in prefixed.calls} == {provider}
    assert "Cola 330ml" in caption["data"]["caption"] and len(caption["data"]["caption"]) <= 280
    assert tags["data"]["hashtags"][0] == "#Cola330ml" and len(tags["data"]["hashtags"]) == 6
    assert suggestion["data"]["recommended_products"] == ["COLA"]  # the top seller of the fortnight
    assert summary["data"]["headline"].startswith("Revenue was ")


@pytest.mark.parametrize("kind", ["complaint", "inquiry", "return"])
def test_email_replies_promise_nothing_and_greet_by_name(
    client: Any, agent: dict[str, Any], prefixed: FakeLLMServer, kind: str
) -> None:
    body = post(
        client,
        agent,
        "email/draft",
        subject="Machine 12",
        body="Hi, the machine ate my coins. Sam Okafor",
        response_type=kind,
        tone="empathetic",
        customer_name="Sam Okafor",
    )
    assert_clean_ai(body)
    assert body["text"].startswith("Hello Sam Okafor,") and "[CUSTOMER_NAME]" not in body["text"]
    assert "Sam" not in prefixed.calls[-1].prompt  # the name was redacted before the provider saw it


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_optimisation_explanation_streams_a_valid_scripted_reply(app: Flask, fake: FakeLLMServer) -> None:
    inp = ExplanationInput(
        device_id="D1",
        device_name="Lobby",
        objective="margin",
        total_slots=4,
        current_objective=10.0,
        objective_value=12.5,
        revenue_before=20.0,
        revenue_after=22.0,
        margin_before=10.0,
        margin_after=12.5,
        optimal=True,
        changes=((Move("B1", "WATER", "COLA"), 1.75), (Move("A2", None, "CHOC"), 0.5)),
        names={"COLA": "Cola 330ml", "WATER": "Water 500ml", "CHOC": "Chocolate"},
    )
    pieces: list[tuple[str, bool]] = []
    with app.app_context():
        done = stream_explanation(inp, lambda delta, fb: pieces.append((delta, fb)), lambda: False, "1")
    assert done is not None and done.fallback_used is False and done.fallback_reason is None
    text = "".join(d for d, _ in pieces)
    assert all(not fb for _, fb in pieces) and fake.calls[-1].stream and fake.calls[-1].family == "optimization"
    assert "- B1: Water 500ml (WATER) → Cola 330ml (COLA) — worth +1.75 per day on its own" in text
    assert text.startswith("The optimiser changes 2 of 4 slots of Lobby (D1) to raise its margin.")
    assert "- revenue: 20.0 → 22.0" in text and "- margin: 10.0 → 12.5" in text


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
@pytest.mark.parametrize("invalid", ["malformed", "schema", "prose"])
def test_invalid_replies_fall_back_with_the_providers_usage_and_model(
    app: Flask, client: Any, marketer: dict[str, Any], admin: dict[str, Any], prefixed: FakeLLMServer, invalid: str
) -> None:
    prefixed.add(invalid=invalid, times=2)  # the answer and the repair turn
    body = post(client, marketer, "content/hashtags", products=["CHOC"], platform="x", max_hashtags=4)
    assert (body["fallback_used"], body["error_kind"], body["fallback_reason"]) == (
        True,
        "bad_output",
        "output_failed_checks",
    )
    assert body["label"] == "Rule-based draft (AI output failed the checks)"
    sent = prefixed.calls[-2:]
    assert body["tokens_in"] == sum(c.usage["prompt"] for c in sent)
    assert body["tokens_out"] == sum(c.usage["completion"] for c in sent) and body["cost_usd"] > 0
    assert body["model"] == f"fake-{sent[-1].model}"
    with app.app_context():
        row = db.session.scalars(select(LLMRequest).where(LLMRequest.id == body["request_id"])).one()
        assert (row.model, row.input_tokens, row.output_tokens) == (
            body["model"],
            body["tokens_in"],
            body["tokens_out"],
        )
    usage = client.get("/api/planogram/ai-usage", headers=admin["headers"])
    assert usage.status_code == 200 and "(none)" not in json.dumps(usage.json)  # filed under the provider's model
    assert body["model"] in json.dumps(usage.json)


def test_unknown_prompts_still_get_the_echo_and_every_family_is_recognised() -> None:
    assert reply_for("You are a helpful assistant.", "Hi") is None and family_of("no JSON here") is None
    import yaml

    from config import BASE_DIR

    for path in sorted((BASE_DIR / "prompts").glob("*.yaml")):
        system = yaml.safe_load(path.read_text())["system_prompt"]
        assert family_of(system) is not None, path.name
        assert json.loads(reply_for(system, "") or "")["confidence"] > 0
