"""acceptance_metrics: exact counts, percentages, edit distances and costs per feature and per prompt variant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from extensions import db
from models import GeneratedContent, LLMConversation, LLMMessage, LLMRequest
from services.review.acceptance import acceptance_metrics

T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def ledger(request_id: str, cost: float) -> LLMRequest:
    return LLMRequest(id=request_id, feature="x", status="ok", cost_usd=cost, created_at=T0)


def draft(
    kind: str,
    status: str,
    prompt: tuple[str, int, str] | None,
    request_id: str | None,
    distance: int | None = None,
    at: datetime = T0,
    **fields: Any,
) -> GeneratedContent:
    name, version, variant = prompt or (None, None, None)
    return GeneratedContent(
        content_type=kind,
        status=status,
        ai_content="a",
        content="b",
        edit_distance=distance,
        request_id=request_id,
        prompt_name=name,
        prompt_version=version,
        prompt_variant=variant,
        created_at=at,
        **fields,
    )


@pytest.fixture
def seeded(app: Flask) -> Flask:
    with app.app_context():
        db.session.add_all(
            [
                ledger(f"r{i}", cost)
                for i, cost in enumerate([0.001, 0.002, 0.003, 0.004, 0.0005, 0.0, 0.01, 0.02], start=1)
            ]
        )
        conversation = LLMConversation(feature="caption", title="t", cost_usd=0.0)
        db.session.add(conversation)
        db.session.flush()
        db.session.add_all(
            [
                LLMMessage(
                    conversation_id=conversation.id, role="assistant", content="a", request_id="r1"
                ),  # dup of own
                LLMMessage(conversation_id=conversation.id, role="user", content="b"),
                LLMMessage(conversation_id=conversation.id, role="assistant", content="c", request_id="r7"),
            ]
        )
        db.session.add_all(
            [
                draft("caption", "approved", ("caption", 1, "A"), "r1", 4, conversation_id=conversation.id),
                draft("caption", "used", ("caption", 1, "A"), "r2", 10),
                draft("caption", "rejected", ("caption", 1, "A"), "r3", 7),
                draft("caption", "draft", ("caption", 1, "B"), "r4", 0),
                draft("caption", "rejected", ("caption", 1, "B"), "r5"),
                draft("email_reply", "draft", ("email_response_inquiry", 2, "A"), "r6"),
                draft("email_reply", "approved", ("email_response_inquiry", 2, "A"), None, None),
                draft("hashtags", "approved", ("hashtags", 1, "A"), "r8", 3, at=T0 - timedelta(days=30)),
            ]
        )
        db.session.commit()
    return app


def test_grouped_by_prompt_variant(seeded: Flask) -> None:
    with seeded.app_context():
        rows = acceptance_metrics(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert rows == [
        {
            "feature": "caption",
            "prompt_name": "caption",
            "prompt_version": 1,
            "variant": "A",
            "generated": 3,
            "approved": 1,
            "used": 1,
            "rejected": 1,
            "pending": 0,
            "acceptance_pct": 66.67,
            "mean_edit_distance": 7.0,
            "cost_usd": 0.016,
            "cost_per_accepted_usd": 0.008,
        },
        {
            "feature": "caption",
            "prompt_name": "caption",
            "prompt_version": 1,
            "variant": "B",
            "generated": 2,
            "approved": 0,
            "used": 0,
            "rejected": 1,
            "pending": 1,
            "acceptance_pct": 0.0,
            "mean_edit_distance": None,
            "cost_usd": 0.0045,
            "cost_per_accepted_usd": None,
        },
        {
            "feature": "email_reply",
            "prompt_name": "email_response_inquiry",
            "prompt_version": 2,
            "variant": "A",
            "generated": 2,
            "approved": 1,
            "used": 0,
            "rejected": 0,
            "pending": 1,
            "acceptance_pct": 100.0,
            "mean_edit_distance": None,
            "cost_usd": 0.0,
            "cost_per_accepted_usd": 0.0,
        },
    ]


def test_grouped_by_feature_and_whole_history(seeded: Flask) -> None:
    with seeded.app_context():
        rows = acceptance_metrics(group_by="feature")
    assert [(r["feature"], r["generated"], r["acceptance_pct"], r["cost_usd"], r["variant"]) for r in rows] == [
        ("caption", 5, 50.0, 0.0205, None),
        ("email_reply", 2, 100.0, 0.0, None),
        ("hashtags", 1, 100.0, 0.02, None),
    ]
    assert rows[2]["mean_edit_distance"] == 3.0 and rows[2]["cost_per_accepted_usd"] == 0.02


def test_window_excludes_and_nothing_reviewed_is_none(app: Flask) -> None:
    with app.app_context():
        db.session.add(draft("caption", "draft", ("caption", 1, "A"), None))
        db.session.commit()
        assert acceptance_metrics(T0 + timedelta(seconds=1)) == []
        assert acceptance_metrics(end=T0) == []  # end is exclusive
        [row] = acceptance_metrics(T0, T0 + timedelta(seconds=1))
    assert (row["acceptance_pct"], row["pending"], row["cost_usd"], row["cost_per_accepted_usd"]) == (
        None,
        1,
        0.0,
        None,
    )


def test_unknown_group_by_is_an_error(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError, match="group_by"):
        acceptance_metrics(group_by="user")
