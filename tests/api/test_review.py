"""Review workflow and chat: transitions, edits, exact acceptance metrics, concurrency, roles, conversations."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from rapidfuzz.distance import Levenshtein

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import LLMRequest
from services.review.conversations import Turn, budget_history
from tests.api import content_fixtures as fx
from tests.api.content_fixtures import answer

# The shared fixtures (an app on the fake provider with prompts and a small catalogue; users).
app, marketer, agent = fx.app, fx.marketer, fx.agent


def caption_answer(text: str) -> str:
    return answer(caption=text, character_count=len(text), style="casual", alt_text="", confidence=0.9)


def make_caption(
    client: Any, user: dict[str, Any], fake: FakeLLMServer, text: str, sku: str = "COLA"
) -> dict[str, Any]:
    fake.add(text=caption_answer(text))
    res = client.post("/api/content/caption", json={"products": [sku], "style": "casual"}, headers=user["headers"])
    assert res.status_code == 201, res.json
    return res.json


def act(client: Any, user: dict[str, Any], draft_id: int, action: str, **body: Any) -> Any:
    return client.post(f"/api/drafts/{draft_id}/{action}", json=body, headers=user["headers"])


def metrics(client: Any, user: dict[str, Any], group_by: str = "prompt") -> list[dict[str, Any]]:
    res = client.get(f"/api/content/acceptance-metrics?group_by={group_by}", headers=user["headers"])
    assert res.status_code == 200, res.json
    return res.json["items"]


def ledger_cost(app: Flask, request_ids: list[str]) -> float:
    with app.app_context():
        return sum(db.session.get_one(LLMRequest, r).cost_usd for r in request_ids)


def test_approve_edit_reject_and_use_update_the_acceptance_metrics_exactly(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    one = make_caption(client, marketer, fake, "Cold cola by the lift.")
    two = make_caption(client, marketer, fake, "Crunch time: crisps are in.", "CHIPS")
    three = make_caption(client, marketer, fake, "Chocolate o'clock.", "CHOC")
    final = "Ice-cold cola, right by the lift!"
    edited = client.patch(
        f"/api/drafts/{one['draft_id']}", json={"content": final, "version": 1}, headers=marketer["headers"]
    )
    assert edited.status_code == 200, edited.json
    distance = Levenshtein.distance("Cold cola by the lift.", final)
    assert (edited.json["edit_distance"], edited.json["edited"], edited.json["version"]) == (distance, True, 2)
    assert edited.json["ai_content"] == "Cold cola by the lift." and edited.json["edited_by"] == marketer["email"]
    approved = act(client, marketer, one["draft_id"], "approve", feedback="good after a tweak", version=2).json
    assert (approved["status"], approved["reviewed_by"], approved["feedback"]) == (
        "approved",
        marketer["email"],
        "good after a tweak",
    )
    assert approved["approved_at"] and approved["edit_distance"] == distance
    assert act(client, marketer, two["draft_id"], "approve").json["edit_distance"] == 0
    rejected = act(client, marketer, three["draft_id"], "reject", feedback="off brand").json
    assert (rejected["status"], rejected["feedback"]) == ("rejected", "off brand") and rejected["rejected_at"]

    variant, version = one["variant"], one["prompt_version"]
    cost = ledger_cost(app, [one["request_id"], two["request_id"], three["request_id"]])
    expected = {
        "feature": "caption",
        "prompt_name": "caption",
        "prompt_version": version,
        "variant": variant,
        "generated": 3,
        "approved": 2,
        "used": 0,
        "rejected": 1,
        "pending": 0,
        "acceptance_pct": 66.67,
        "mean_edit_distance": round(distance / 2, 2),
        "cost_usd": round(cost, 8),
        "cost_per_accepted_usd": round(round(cost, 8) / 2, 8),
    }
    assert metrics(client, marketer) == [expected]

    used = act(client, marketer, one["draft_id"], "use").json
    assert (used["status"], used["used_by"]) == ("used", marketer["email"]) and used["used_at"]
    after = metrics(client, marketer, "feature")
    assert after == [
        {**expected, "prompt_name": None, "prompt_version": None, "variant": None, "approved": 1, "used": 1}
    ]


def test_invalid_transitions_are_409_with_a_clear_error(
    client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    draft = make_caption(client, marketer, fake, "Cola.")
    draft_id = draft["draft_id"]
    early = act(client, marketer, draft_id, "use")
    assert early.status_code == 409 and early.json["error"]["code"] == "invalid_transition"
    assert early.json["error"]["details"] == {
        "draft_id": draft_id,
        "status": "draft",
        "required_status": "approved",
        "action": "use",
    }
    assert act(client, marketer, draft_id, "approve").status_code == 200
    twice = act(client, marketer, draft_id, "approve")
    assert twice.status_code == 409 and "it is approved" in twice.json["error"]["message"]
    assert act(client, marketer, draft_id, "reject").status_code == 409
    late_edit = client.patch(f"/api/drafts/{draft_id}", json={"content": "x"}, headers=marketer["headers"])
    assert late_edit.status_code == 409
    assert act(client, marketer, 999999, "approve").status_code == 404


def test_a_stale_version_is_409(client: Any, marketer: dict[str, Any], fake: FakeLLMServer) -> None:
    draft_id = make_caption(client, marketer, fake, "Cola.")["draft_id"]
    client.patch(f"/api/drafts/{draft_id}", json={"content": "Cola!", "version": 1}, headers=marketer["headers"])
    stale = act(client, marketer, draft_id, "approve", version=1)
    assert stale.status_code == 409 and stale.json["error"]["code"] == "stale_version"


def test_concurrent_approvals_apply_once(
    app: Flask, client: Any, marketer: dict[str, Any], make_user: Any, fake: FakeLLMServer
) -> None:
    draft_id = make_caption(client, marketer, fake, "Cola.")["draft_id"]
    others = [make_user("marketer") for _ in range(3)]
    barrier = threading.Barrier(len(others))
    codes: list[int] = []

    def approve(user: dict[str, Any]) -> None:
        local = app.test_client()
        barrier.wait()
        codes.append(act(local, user, draft_id, "approve").status_code)

    threads = [threading.Thread(target=approve, args=(u,)) for u in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 409, 409]
    row = metrics(client, marketer)[0]
    assert (row["approved"], row["generated"]) == (1, 1)
    shown = client.get(f"/api/drafts/{draft_id}", headers=marketer["headers"]).json
    assert shown["version"] == 2 and shown["reviewed_by"] in {u["email"] for u in others}


def test_roles_per_draft_type(
    client: Any, marketer: dict[str, Any], agent: dict[str, Any], viewer: dict[str, Any], fake: FakeLLMServer
) -> None:
    caption = make_caption(client, marketer, fake, "Cola.")["draft_id"]
    fake.add(text=answer(subject="Re", body="Hello,\n\nThanks.\n\nThe Vending Team", confidence=0.8))
    email = client.post(
        "/api/email/draft", json={"body": "Hi", "response_type": "inquiry"}, headers=agent["headers"]
    ).json["draft_id"]
    assert act(client, agent, caption, "approve").status_code == 403
    assert act(client, marketer, email, "approve").status_code == 403
    assert act(client, viewer, caption, "approve").status_code == 403
    assert client.patch(f"/api/drafts/{caption}", json={"content": "x"}, headers=viewer["headers"]).status_code == 403
    seen = client.get(f"/api/drafts/{email}", headers=viewer["headers"])
    assert seen.status_code == 200 and seen.json["input"] is None  # the customer's email stays with agents
    assert client.get(f"/api/drafts/{email}", headers=agent["headers"]).json["input"]["params"]["response_type"] == (
        "inquiry"
    )
    assert act(client, agent, email, "approve").status_code == 200


def test_queue_filters_by_type_and_status_and_paginates(
    client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    ids = [make_caption(client, marketer, fake, f"Cola {i}.")["draft_id"] for i in range(3)]
    fake.add(text=answer(hashtags=["#Cola"], reasoning="", confidence=0.8))
    client.post("/api/content/hashtags", json={"products": ["COLA"]}, headers=marketer["headers"])
    act(client, marketer, ids[0], "reject")
    page = client.get("/api/drafts?type=caption&status=draft&per_page=1&page=2", headers=marketer["headers"]).json
    assert (page["total"], page["pages"], [d["id"] for d in page["items"]]) == (2, 2, [ids[1]])
    assert page["items"][0]["ai"]["model"] and page["items"][0]["label"] == "AI draft"
    everything = client.get("/api/drafts", headers=marketer["headers"]).json
    assert everything["total"] == 4 and everything["status_counts"] == {
        "draft": 3,
        "approved": 0,
        "used": 0,
        "rejected": 1,
    }
    bad = client.get("/api/drafts?status=maybe", headers=marketer["headers"])
    assert bad.status_code == 422


def test_chat_revises_the_draft_and_its_cost_counts(
    app: Flask, client: Any, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    first = make_caption(client, marketer, fake, "Cold cola by the lift, ready when you are.")
    draft_id = first["draft_id"]
    client.patch(f"/api/drafts/{draft_id}", json={"content": "Cold cola by the lift."}, headers=marketer["headers"])
    fake.add(text=caption_answer("Cola. Lift. Now."))
    turn = client.post(
        f"/api/drafts/{draft_id}/chat", json={"message": "Make it punchier"}, headers=marketer["headers"]
    )
    assert turn.status_code == 200, turn.json
    body = turn.json
    prompt = fake.calls[-1].prompt
    assert "Make it punchier" in prompt and "Cold cola by the lift." in prompt and "Current draft" in prompt
    assert body["revised"] is True and body["text"] == "Cola. Lift. Now."
    draft = body["draft"]
    assert (draft["ai_content"], draft["content"], draft["edit_distance"], draft["version"]) == (
        "Cola. Lift. Now.",
        "Cola. Lift. Now.",
        0,
        3,
    )
    conversation = client.get(f"/api/conversations/{draft['conversation_id']}", headers=marketer["headers"]).json
    assert [(m["role"], m["content"]) for m in conversation["messages"]] == [
        ("assistant", "Cold cola by the lift, ready when you are."),
        ("user", "Make it punchier"),
        ("assistant", "Cola. Lift. Now."),
    ]
    assert conversation["draft_id"] == draft_id and conversation["cost_usd"] == pytest.approx(body["cost_usd"])
    fake.add(text=caption_answer("Cola, now."))
    again = client.post(
        f"/api/conversations/{conversation['id']}/messages", json={"message": "Shorter"}, headers=marketer["headers"]
    ).json
    assert again["draft"]["content"] == "Cola, now." and again["history_turns_sent"] == 3
    act(client, marketer, draft_id, "approve")
    cost = ledger_cost(app, [first["request_id"], body["request_id"], again["request_id"]])
    row = metrics(client, marketer)[0]
    assert row["cost_usd"] == round(cost, 8) and row["generated"] == 1
    closed = client.post(f"/api/drafts/{draft_id}/chat", json={"message": "More"}, headers=marketer["headers"])
    assert closed.status_code == 409
    verdict = client.get(f"/api/conversations/{conversation['id']}", headers=marketer["headers"]).json
    assert verdict["accepted"] is True


def test_chat_on_an_email_draft_keeps_pii_away_from_the_provider(
    client: Any, agent: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(
        text=answer(subject="Re", body="Hello,\n\nWe will write to [EMAIL_1].\n\nThe Vending Team", confidence=0.8)
    )
    email = client.post(
        "/api/email/draft",
        headers=agent["headers"],
        json={"body": "Please write to sam@example.com or call 020 7946 0958.", "response_type": "inquiry"},
    ).json
    assert "sam@example.com" in email["text"]
    fake.add(
        text=answer(
            subject="Re", body="Hello,\n\nWe will write to [EMAIL_1] today.\n\nThe Vending Team", confidence=0.8
        )
    )
    turn = client.post(
        f"/api/drafts/{email['draft_id']}/chat", json={"message": "Say today"}, headers=agent["headers"]
    ).json
    sent = fake.calls[-1].prompt
    assert "sam@example.com" not in sent and "7946" not in sent and "[EMAIL_1]" in sent
    assert turn["draft"]["content"] == "Hello,\n\nWe will write to sam@example.com today.\n\nThe Vending Team"


def test_a_conversation_is_visible_only_to_those_who_see_the_drafts_inputs(
    client: Any, agent: dict[str, Any], marketer: dict[str, Any], make_user: Any, fake: FakeLLMServer
) -> None:
    fake.add(text=answer(subject="Re", body="Hello,\n\nThanks.\n\nThe Vending Team", confidence=0.8), times=2)
    email = client.post(
        "/api/email/draft",
        headers=agent["headers"],
        json={"body": "My card was charged twice, write to sam@example.com", "response_type": "complaint"},
    ).json
    turn = client.post(
        f"/api/drafts/{email['draft_id']}/chat", json={"message": "Warmer"}, headers=agent["headers"]
    ).json
    path = f"/api/conversations/{turn['conversation']['id']}"
    assert client.get(path, headers=agent["headers"]).status_code == 200
    assert client.get(path, headers=make_user("admin")["headers"]).status_code == 200
    for outsider in (make_user("viewer"), marketer):
        denied = client.get(path, headers=outsider["headers"])
        assert denied.status_code == 403 and b"sam@example.com" not in denied.data
        draft = client.get(f"/api/drafts/{email['draft_id']}", headers=outsider["headers"]).json
        assert draft["input"] is None  # the same rule as the draft's stored inputs


@pytest.mark.parametrize("provider", [None])
def test_chat_without_a_provider_leaves_the_draft_unchanged(client: Any, marketer: dict[str, Any]) -> None:
    draft = client.post("/api/content/caption", json={"products": ["COLA"]}, headers=marketer["headers"]).json
    turn = client.post(
        f"/api/drafts/{draft['draft_id']}/chat", json={"message": "Shorter"}, headers=marketer["headers"]
    ).json
    assert turn["revised"] is False and turn["fallback_used"] is True
    assert "no AI provider is configured" in turn["text"] and turn["draft"]["content"] == draft["text"]
    assert turn["draft"]["version"] == 1


def test_history_budget_keeps_newest_turns_and_summarises_the_oldest() -> None:
    turns = [Turn("assistant", "draft zero " * 5)]
    for i in range(1, 6):
        turns += [Turn("user", f"request {i}"), Turn("assistant", f"draft {i} " * 10)]
    text, kept, folded = budget_history(turns, 80)
    assert kept + folded == len(turns) and folded > 0 and kept >= 1
    assert text.splitlines()[-1].startswith("Assistant: draft 5")
    assert text.startswith(f"(Earlier: {folded} turns summarised; the reviewer asked:")
    assert "request 1" not in text.splitlines()[0] or "request 5" not in text.splitlines()[0]
    tiny, kept_tiny, folded_tiny = budget_history(turns, 5)
    assert kept_tiny == 0 and folded_tiny == len(turns) and tiny in ("", "(Earlier: 11 turns dropped)")
    whole, all_kept, none = budget_history(turns[:3], 10_000)
    assert (all_kept, none) == (3, 0) and whole.count("\n") == 2
