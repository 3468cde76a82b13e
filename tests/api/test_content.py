"""Content assistant API against the fake provider (real SDK over HTTP) and in embedded mode."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import GeneratedContent, LLMRequest, SocialPost
from tests.api import content_fixtures as fx
from tests.api.content_fixtures import CAPTION_OK, answer
from tests.clock import DEMO_END, FIXED_TODAY, days_ago

# The shared fixtures (an app on the fake provider with prompts and a small catalogue; users).
app, marketer, agent = fx.app, fx.marketer, fx.agent

RESULT_KEYS = {
    "text",
    "data",
    "model",
    "tier",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "cached",
    "fallback_used",
    "confidence",
    "latency_ms",
    "request_id",
    "draft_id",
    "draft",
    "label",
    "flags",
}


def post(client: Any, user: dict[str, Any], path: str, **body: Any) -> Any:
    return client.post(f"/api/content/{path}", json=body, headers=user["headers"])


def ledger_and_draft_agree(app: Flask, body: dict[str, Any]) -> None:
    """The stored draft points at the ledger row of the call that produced it, with the same figures."""
    with app.app_context():
        draft = db.session.get(GeneratedContent, body["draft_id"])
        row = db.session.get(LLMRequest, body["request_id"])
        assert draft is not None and row is not None
        assert draft.request_id == row.id
        assert (draft.fallback_used, row.fallback_used) == (body["fallback_used"], body["fallback_used"])
        assert (draft.prompt_name, draft.prompt_version, draft.prompt_variant) == (
            row.prompt_name,
            row.prompt_version,
            row.prompt_variant,
        )
        assert row.cost_usd == pytest.approx(body["cost_usd"]) and row.model == body["model"]
        assert draft.status == "draft" and draft.content == body["text"]


def test_caption_is_structured_stored_as_a_draft_and_on_the_ledger(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(text=CAPTION_OK)
    res = post(
        client,
        marketer,
        "caption",
        products=["COLA"],
        media_description="a can on a desk at sunrise",
        style="casual",
        platform="instagram",
    )
    assert res.status_code == 201, res.json
    body = res.json
    assert set(body) >= RESULT_KEYS
    assert (body["fallback_used"], body["cached"], body["label"]) == (False, False, "AI draft")
    assert body["data"]["caption"] == "Ice-cold cola, right by the lift."
    assert body["data"]["character_count"] == len(body["data"]["caption"]) and body["data"]["max_chars"] == 2200
    assert body["tokens_in"] > 0 and body["cost_usd"] > 0 and body["model"] == fake.calls[-1].model
    prompt = fake.calls[-1].prompt
    assert "Cola 330ml" in prompt and "a can on a desk at sunrise" in prompt and "casual" in prompt
    assert '"maxLength":2200' in prompt  # the schema carries the platform limit
    ledger_and_draft_agree(app, body)


def test_an_over_long_caption_is_repaired_by_the_model(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    long = "Cold cola. " * 40  # 440 characters: over X's 280
    fake.add(text=answer(caption=long, character_count=440, style="funny", confidence=0.9))
    fake.add(
        text=answer(
            caption="Cold cola, hot take: the lift is faster with one.",
            character_count=50,
            style="funny",
            confidence=0.9,
        )
    )
    body = post(client, marketer, "caption", products=["COLA"], style="funny", platform="x").json
    assert len(fake.calls) == 2 and "could not be used" in fake.calls[1].prompt
    assert body["fallback_used"] is False and body["confidence"] <= 0.7  # a repaired answer is trusted less
    assert body["data"]["caption"].startswith("Cold cola, hot take") and body["data"]["max_chars"] == 280
    ledger_and_draft_agree(app, body)


def test_a_caption_still_too_long_or_malformed_falls_back_flagged(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(text=answer(caption="x" * 300, style="casual"), times=2)
    body = post(client, marketer, "caption", products=["COLA", "CHIPS"], style="casual", platform="x").json
    assert (body["fallback_used"], body["error_kind"], body["fallback_reason"], body["label"]) == (
        True,
        "bad_output",
        "output_failed_checks",
        "Rule-based draft (AI output failed the checks)",
    )
    assert body["draft"]["label"] == body["label"] and body["draft"]["fallback_reason"] == "output_failed_checks"
    # The provider answered twice (answer + repair): its tokens and cost are reported, under its model.
    assert body["tokens_in"] > 0 and body["tokens_out"] > 0 and body["cost_usd"] > 0
    assert body["model"] == fake.calls[-1].model and body["provider"] == "anthropic"
    assert 0 < len(body["data"]["caption"]) <= 280 and "Cola 330ml" in body["data"]["caption"]
    ledger_and_draft_agree(app, body)
    fake.add(text="Sure! Here is a caption: cola is great", times=2)  # no JSON at all, even after repair
    again = post(client, marketer, "caption", products=["WATER"], style="professional", platform="linkedin").json
    assert again["fallback_used"] is True and again["error_kind"] == "bad_output"
    assert "Water 500ml" in again["text"]


def test_trim_at_a_sentence_boundary() -> None:
    from services.content.rules import trim_to_limit

    text = "First sentence here. Second one is longer than the rest! Third?"
    assert trim_to_limit(text, 60) == ("First sentence here. Second one is longer than the rest!", True)
    assert trim_to_limit(text, 25) == ("First sentence here.", True)
    assert trim_to_limit("One very long sentence without any stop at all", 20) == ("One very long…", True)
    assert trim_to_limit("Short.", 280) == ("Short.", False)


def test_hashtags_are_valid_distinct_capped_and_on_topic(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    tags = [
        "#ColaTime",
        "#colatime",
        "cold drinks",
        "#Soft-Drinks",
        "#123",
        "#",
        "#Fizz!",
        *[f"#Tag{i}" for i in range(40)],
    ]
    fake.add(text=answer(hashtags=tags[:60], reasoning="mix", confidence=0.8))
    body = post(client, marketer, "hashtags", products=["COLA"], platform="instagram", max_hashtags=5).json
    assert body["fallback_used"] is False
    assert body["data"]["hashtags"] == ["#ColaTime", "#ColdDrinks", "#SoftDrinks", "#Fizz", "#Tag0"]
    assert "#colatime" in body["data"]["dropped"] and "#123" in body["data"]["dropped"]
    assert body["text"] == "#ColaTime #ColdDrinks #SoftDrinks #Fizz #Tag0"
    ledger_and_draft_agree(app, body)


def test_off_topic_hashtags_get_the_product_and_category_tags_first(
    client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(text=answer(hashtags=["#Monday", "#Mood", "#Vibes"], reasoning="", confidence=0.9))
    body = post(client, marketer, "hashtags", products=["COLA"], max_hashtags=4).json
    assert body["data"]["hashtags"][:2] == ["#SoftDrinks", "#SoftDrinksTime"]
    assert len(body["data"]["hashtags"]) == 4 and body["flags"][0]["kind"] == "off_topic"
    assert body["confidence"] <= 0.6 and body["needs_review"] is True


def test_max_hashtags_is_at_most_30(client: Any, marketer: dict[str, Any]) -> None:
    res = post(client, marketer, "hashtags", products=["COLA"], max_hashtags=31)
    assert res.status_code == 422 and res.json["error"]["details"][0]["field"] == "max_hashtags"
    unknown = post(client, marketer, "caption", products=["NOPE"])
    assert unknown.status_code == 422 and "NOPE" in unknown.json["error"]["details"][0]["reason"]


def test_suggestion_uses_recent_posts_sales_trends_queue_and_today(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    created = client.post(
        "/api/content/posts",
        headers=marketer["headers"],
        json={
            "platform": "instagram",
            "text": "Stay hydrated with our still water!",
            "posted_at": _days_ago(2),
            "products": ["WATER"],
            "impressions": 800,
            "likes": 40,
            "comments": 3,
            "shares": 2,
        },
    )
    assert created.status_code == 201, created.json
    fake.add(
        text=answer(
            post_type="product_spotlight",
            suggestion="Cola is having a moment: grab one today.",
            reasoning="COLA units rose the most.",
            recommended_time="Tuesday 12:00-13:00",
            recommended_products=["COLA", "GHOST"],
            hashtags=["#Cola", "#cola", "#SnackTime"],
            confidence=0.8,
        )
    )
    body = post(client, marketer, "suggestion", platform="instagram", date=_today()).json
    prompt = fake.calls[-1].prompt
    assert "Stay hydrated with our still water!" in prompt and "COLA | Cola 330ml" in prompt
    assert "+150.0%" in prompt  # COLA: 70 units against 28 the fortnight before
    assert _today() in prompt and "drafts waiting" not in prompt  # volatile: moved out of the cached prompt
    data = body["data"]
    assert data["recommended_products"] == ["COLA"] and data["hashtags"] == ["#Cola", "#SnackTime"]
    assert body["flags"][0]["kind"] == "unknown_product" and body["confidence"] <= 0.6
    assert body["text"] == "Cola is having a moment: grab one today.\n\n#Cola #SnackTime"
    ledger_and_draft_agree(app, body)
    calls = len(fake.calls)
    again = post(client, marketer, "suggestion", platform="instagram", date=_today()).json  # one more draft now
    assert again["cached"] and len(fake.calls) == calls and again["text"] == body["text"]


def test_performance_numbers_are_computed_here_and_checked(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    start, end = _days_ago(14)[:10], _days_ago(1)[:10]
    fake.add(
        text=answer(
            headline="Revenue reached 204.4 from 126 units (+14.1%).",
            wins=["COLA sold 70 units."],
            concerns=["WATER fell, and sales per machine hit 94.5."],
            actions=[{"action": "Feature COLA", "why": "best seller", "priority": "high"}],
            confidence=0.9,
        )
    )
    body = post(client, marketer, "performance", **{"from": start, "to": end}).json
    figures = body["data"]["figures"]
    assert figures["sales"] == {"units": 126, "revenue": 204.4, "average_price": 1.62}
    assert figures["sales_previous"]["revenue"] == 179.2 and figures["revenue_change_pct"] == 14.1
    assert body["data"]["unverified_numbers"] == ["94.5"]
    assert body["flags"] == [
        {"kind": "unverified_number", "text": "94.5", "reason": "this number is not one of the computed figures"}
    ]
    assert body["confidence"] <= 0.5 and body["needs_review"] is True
    assert '"units":126' in fake.calls[-1].prompt
    assert body["text"].startswith("Revenue reached 204.4 from 126 units (+14.1%).\n\nWhat went well:\n- COLA")


@pytest.mark.parametrize("provider", [None])
def test_embedded_mode_every_feature_is_a_labelled_rule_based_draft(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    results = [
        post(client, marketer, "suggestion", platform="x"),
        post(client, marketer, "caption", products=["CHOC"], style="funny", platform="x"),
        post(client, marketer, "hashtags", products=["CHOC", "CHIPS"], max_hashtags=8),
        post(client, marketer, "performance", **{"from": _days_ago(7)[:10], "to": _days_ago(1)[:10]}),
    ]
    assert [r.status_code for r in results] == [201] * 4
    for res in results:
        body = res.json
        assert (body["fallback_used"], body["error_kind"], body["label"], body["cost_usd"]) == (
            True,
            "no_provider",
            "Rule-based draft (no AI provider)",
            0.0,
        )
        assert body["text"] and body["draft"]["status"] == "draft" and body["draft"]["label"] == body["label"]
        assert body["confidence"] <= 0.3 and body["flags"] == []
        ledger_and_draft_agree(app, body)
    suggestion, caption, hashtags, performance = (r.json["data"] for r in results)
    assert suggestion["recommended_products"] == ["COLA"]  # the fastest riser, not featured lately
    assert len(caption["caption"]) <= 280
    assert 1 <= len(hashtags["hashtags"]) <= 8 and "#Chocolate" in hashtags["hashtags"]
    assert performance["unverified_numbers"] == []
    assert fake.calls == []


def test_roles_marketers_generate_viewers_and_agents_cannot(
    client: Any, viewer: dict[str, Any], agent: dict[str, Any], admin: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(text=CAPTION_OK, times=None)
    assert post(client, viewer, "caption", products=["COLA"]).status_code == 403
    assert post(client, agent, "caption", products=["COLA"]).status_code == 403
    assert post(client, admin, "caption", products=["COLA"]).status_code == 201
    assert client.get("/api/content/posts", headers=viewer["headers"]).status_code == 200
    assert client.post("/api/content/caption", json={"products": ["COLA"]}).status_code == 401


def test_posts_api_and_csv_import_are_idempotent_and_all_or_nothing(
    app: Flask, client: Any, marketer: dict[str, Any]
) -> None:
    csv_text = (
        "platform,text,posted_at,products,impressions,likes\n"
        "instagram,Cold brew season,2026-11-20T09:00:00Z,COLA;WATER,100,5\n"
        'x,"Crisps, anyone?",2026-11-21,CHIPS,50,\n'
    )
    first = _upload(client, marketer, csv_text)
    assert first.status_code == 200 and first.json["files"]["posts.csv"]["inserted"] == 2
    assert any(d["column"] == "likes" for d in first.json["defaults"])
    again = _upload(client, marketer, csv_text.replace("100,5", "150,9"))
    assert again.json["files"]["posts.csv"] == {"rows": 2, "inserted": 0, "updated": 1, "unchanged": 1, "duplicates": 0}
    bad = _upload(
        client,
        marketer,
        "platform,text,posted_at\ntiktok,Hi,2026-11-22\ninstagram,Hi,notadate\ninstagram,New,2026-11-23\n",
    )
    assert bad.status_code == 422
    errors = bad.json["error"]["details"]["errors"]
    assert [(e["line"], e["column"]) for e in errors] == [(2, "platform"), (3, "posted_at")]
    listing = client.get("/api/content/posts?from=2026-11-20&to=2026-11-21", headers=marketer["headers"]).json
    assert listing["total"] == 2 and listing["items"][1]["impressions"] == 150
    with app.app_context():
        assert db.session.scalar(select(SocialPost.id).where(SocialPost.text == "New")) is None
    dup = client.post(
        "/api/content/posts",
        headers=marketer["headers"],
        json={"platform": "instagram", "text": "Cold brew season", "posted_at": "2026-11-20T09:00:00Z"},
    )
    assert dup.status_code == 409


def _upload(client: Any, user: dict[str, Any], text: str) -> Any:
    return client.post(
        "/api/content/posts/import",
        headers=user["headers"],
        data={"file": (io.BytesIO(text.encode()), "posts.csv")},
        content_type="multipart/form-data",
    )


def _today() -> str:
    return FIXED_TODAY.isoformat()


def _days_ago(days: int) -> str:
    return days_ago(days).replace(microsecond=0).isoformat()


def test_result_json_is_serialisable(client: Any, marketer: dict[str, Any], fake: FakeLLMServer) -> None:
    fake.add(text=CAPTION_OK)
    body = post(client, marketer, "caption", products=["COLA"]).json
    assert json.loads(json.dumps(body))["draft"]["id"] == body["draft_id"]


def test_demo_seed_adds_labelled_posts_and_orders_idempotently(app: Flask) -> None:
    from models import CustomerOrder
    from services.demo import generate_content, seed_demo

    assert generate_content(4) == generate_content(4)
    with app.app_context():
        seed_demo(seed=4, days=2, end=DEMO_END)  # the fleet first (orders name demo skus), then posts and orders
        db.session.commit()
        seed_demo(seed=4, days=2, end=DEMO_END)
        db.session.commit()
        posts = db.session.scalars(select(SocialPost)).all()
        orders = db.session.scalars(select(CustomerOrder)).all()
        assert len(posts) == 7 and all(p.is_demo for p in posts)
        assert len(orders) == 8 and all(o.is_demo and o.order_number.startswith("DEMO-ORD-") for o in orders)
        assert all(o.customer_email.endswith("@example.com") for o in orders)
