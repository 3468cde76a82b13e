"""Continue a draft as a chat: each turn re-runs the draft's feature with the history and the reviewer's request.

The history sent is token-budgeted: newest turns are kept whole, older ones are folded into a one-line
summary, and dropped entirely when even that does not fit. A successful turn is a new AI revision of the
draft (same feature, same checks); without a provider the draft stays as it is and the turn says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from extensions import db
from models import GeneratedContent, LLMConversation, LLMMessage, User
from services import ai
from services.content import assistant as content
from services.email import drafts as email_drafts
from services.errors import Conflict, Forbidden, NotFound
from services.llm.fallbacks import REASONS
from services.llm.tokens import estimate_tokens
from services.review import drafts as review
from services.review import generation
from services.review.generation import Feature

FEATURES: dict[str, Feature] = {**content.FEATURES, **email_drafts.FEATURES}
SPEAKERS = {"user": "Reviewer", "assistant": "Assistant"}


@dataclass(frozen=True)
class Turn:
    """One message of the history."""

    role: str
    content: str


def budget_history(turns: Sequence[Turn], budget_tokens: int) -> tuple[str, int, int]:
    """History text within `budget_tokens`: (text, turns kept whole, turns summarised or dropped).

    When not every turn fits, a quarter of the budget (at most 60 tokens) is kept for the summary line.
    """
    kept, used = _newest(turns, budget_tokens)
    if len(kept) < len(turns):
        kept, used = _newest(turns, budget_tokens - min(60, budget_tokens // 4))
    folded = len(turns) - len(kept)
    if folded:
        summary = _summary(turns[:folded], budget_tokens - used)
        if summary:
            kept.insert(0, summary)
    return "\n".join(kept), len(turns) - folded, folded


def _newest(turns: Sequence[Turn], budget: int) -> tuple[list[str], int]:
    """The newest turns that fit whole, oldest first, and the tokens they use."""
    kept: list[str] = []
    used = 0
    for turn in reversed(turns):
        line = _line(turn)
        cost = estimate_tokens(line) + 1
        if used + cost > budget:
            break
        kept.insert(0, line)
        used += cost
    return kept, used


def _line(turn: Turn) -> str:
    return f"{SPEAKERS.get(turn.role, turn.role)}: {turn.content.strip()}"


def _summary(turns: Sequence[Turn], budget: int) -> str:
    """ "Earlier: N turns; the reviewer asked: …" cut to fit, or "" when not even the head fits."""
    asks = [t.content.strip().replace("\n", " ")[:80] for t in turns if t.role == "user"]
    text = f"(Earlier: {len(turns)} turns summarised; the reviewer asked: " + "; ".join(asks) + ")"
    while asks and estimate_tokens(text) > budget:
        asks.pop(0)  # the oldest request goes first
        text = f"(Earlier: {len(turns)} turns summarised; the reviewer asked: " + "; ".join(asks) + ")"
    if estimate_tokens(text) <= budget:
        return text
    head = f"(Earlier: {len(turns)} turns dropped)"
    return head if estimate_tokens(head) <= budget else ""


@generation.reads_before_call
def continue_draft(draft_id: int, message: str, user: User) -> dict[str, Any]:
    """One chat turn on a draft: the AI revises it (or, without a provider, says it cannot)."""
    draft = review.get_draft(draft_id)
    review.require_writer(user, draft.content_type)
    if draft.status != "draft":
        raise Conflict(
            f"Draft {draft.id} is {draft.status}; only drafts can be revised in a chat",
            code="invalid_transition",
            details={"draft_id": draft.id, "status": draft.status},
        )
    feature = FEATURES.get(draft.content_type)
    stored = (draft.structured_content or {}).get("input")
    if feature is None or not stored:
        raise Conflict(f"Draft {draft.id} cannot be continued as a chat", details={"draft_id": draft.id})
    params, variables = stored["params"], stored["variables"]
    history = _history(draft)
    budget = int(current_app.config.get("CONVERSATION_HISTORY_TOKENS", 1200))
    text, kept, folded = budget_history(history, budget)
    turn_vars = {
        **variables,
        "conversation": f"{text}\n\nCurrent draft (including the reviewer's edits):\n{draft.content}".strip(),
        "instruction": message,
    }
    # The provider call comes before any write (see docs/ARCHITECTURE.md: SQLite ledger writes).
    result = ai.pipeline().run(
        draft.content_type,
        feature.prompt(params),
        turn_vars,
        schema=feature.schema(params),
        user_id=str(user.id),
        pii=feature.pii,
    )
    conversation = _conversation(draft, user)
    db.session.add(LLMMessage(conversation=conversation, role="user", content=message, tokens=estimate_tokens(message)))
    revised = result.data is not None and not result.fallback_used
    if revised:
        finished = feature.finish(result.data, params)
        confidence = round(min(result.confidence, finished.confidence_cap), 3)
        structured = {
            **(draft.structured_content or {}),
            "output": finished.output,
            "flags": finished.flags,
            "needs_review": finished.needs_review,
        }
        review.revise(draft, finished.text, structured, confidence)
        reply = finished.text
    else:
        reply = (
            f"No AI revision is available right now ({REASONS.get(result.error_kind or '', 'no answer')}). "
            "The draft is unchanged; edit it by hand."
        )
    db.session.add(
        LLMMessage(
            conversation=conversation,
            role="assistant",
            content=reply,
            tokens=result.tokens_out,
            request_id=result.request_id,
        )
    )
    conversation.tokens_in += result.tokens_in
    conversation.tokens_out += result.tokens_out
    conversation.cost_usd = round((conversation.cost_usd or 0.0) + result.cost_usd, 8)
    conversation.model = result.model or conversation.model
    db.session.flush()
    out = result.to_dict()
    out.update(
        raw_text=result.text,
        text=reply,
        revised=revised,
        history_turns_sent=kept,
        history_turns_summarised=folded,
        draft=review.show_draft(draft.id),
        conversation=conversation_dict(conversation),
    )
    return out


def _history(draft: GeneratedContent) -> list[Turn]:
    if draft.conversation_id is None:
        return [Turn("assistant", draft.ai_content)]
    return [
        Turn(m.role, m.content)
        for m in db.session.scalars(
            select(LLMMessage).where(LLMMessage.conversation_id == draft.conversation_id).order_by(LLMMessage.id)
        )
    ]


def _conversation(draft: GeneratedContent, user: User) -> LLMConversation:
    """The draft's conversation, started with the original generation as its first turn."""
    if draft.conversation_id is not None:
        found = db.session.get(LLMConversation, draft.conversation_id)
        if found is not None:
            return found
    conversation = LLMConversation(
        user_id=user.id,
        feature=draft.content_type,
        title=f"{draft.content_type} draft {draft.id}",
        tokens_in=0,
        tokens_out=0,
        cost_usd=0.0,
    )
    db.session.add(conversation)
    db.session.add(
        LLMMessage(
            conversation=conversation,
            role="assistant",
            content=draft.ai_content,
            tokens=estimate_tokens(draft.ai_content),
            request_id=draft.request_id,
        )
    )
    db.session.flush()
    draft.conversation_id = conversation.id
    db.session.flush()  # before any refresh of the draft would discard the link
    return conversation


def get_conversation(conversation_id: int, user: User) -> dict[str, Any]:
    """A conversation with its messages and the draft it continues - for people who work on that kind of draft
    only: the chat carries what the draft's stored inputs carry (a customer's email, say), which
    `review.show_draft` hides from everyone else."""
    conversation = db.session.get(LLMConversation, conversation_id)
    if conversation is None:
        raise NotFound(f"No conversation {conversation_id}", details={"conversation_id": conversation_id})
    content_type = (
        db.session.scalar(
            select(GeneratedContent.content_type).where(GeneratedContent.conversation_id == conversation.id)
        )
        or conversation.feature
    )
    if not review.can_write(user, content_type):
        raise Forbidden(
            f"Your role '{user.role}' cannot read {content_type} conversations",
            details={"required_roles": sorted({review.FEATURE_ROLES.get(content_type, "admin"), "admin"})},
        )
    return conversation_dict(conversation)


def draft_of(conversation_id: int) -> int:
    """The id of the draft a conversation continues."""
    draft_id = db.session.scalar(select(GeneratedContent.id).where(GeneratedContent.conversation_id == conversation_id))
    if draft_id is None:
        raise NotFound(
            f"No draft continues conversation {conversation_id}", details={"conversation_id": conversation_id}
        )
    return int(draft_id)


def conversation_dict(conversation: LLMConversation) -> dict[str, Any]:
    """The JSON form of a conversation."""
    draft_id = db.session.scalar(select(GeneratedContent.id).where(GeneratedContent.conversation_id == conversation.id))
    return {
        "id": conversation.id,
        "feature": conversation.feature,
        "title": conversation.title,
        "draft_id": draft_id,
        "model": conversation.model,
        "tokens_in": conversation.tokens_in,
        "tokens_out": conversation.tokens_out,
        "cost_usd": conversation.cost_usd,
        "accepted": conversation.accepted,
        "feedback": conversation.feedback,
        "created_at": conversation.created_at.isoformat() if conversation.created_at else None,
        "messages": [
            {
                "id": m.id,
                "role": m.role,
                "content": m.content,
                "tokens": m.tokens,
                "request_id": m.request_id,
                "created_at": m.created_at.isoformat() if m.created_at else None,
            }
            for m in conversation.messages
        ],
    }
