"""Human review of generated content: draft → approved → used, or draft → rejected; edits and who/when.

Every transition is one conditional UPDATE (`WHERE status = <from> AND version = <read>`), so two people
approving the same draft at once cannot both succeed: the second gets a 409. Services flush; views commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rapidfuzz.distance import Levenshtein
from sqlalchemy import func, select, update

from extensions import db
from models import CONTENT_STATUSES, GeneratedContent, LLMConversation, LLMRequest, User
from models._types import utcnow
from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.llm import LLMResult, fallback_reason

# Which role reviews which kind of draft (admins review everything; viewers only read).
FEATURE_ROLES: dict[str, str] = {
    "post_suggestion": "marketer",
    "caption": "marketer",
    "hashtags": "marketer",
    "performance_analysis": "marketer",
    "email_reply": "agent",
}
CONTENT_TYPES = tuple(FEATURE_ROLES)
FALLBACK_LABEL = "Rule-based draft (no AI provider)"
# The badge of a rule-based draft names why no AI text is shown (LLMResult.fallback_reason).
FALLBACK_LABELS: dict[str, str] = {
    "no_provider": FALLBACK_LABEL,
    "budget": "Rule-based draft (daily AI budget used up)",
    "provider_error": "Rule-based draft (AI provider error)",
    "output_failed_checks": "Rule-based draft (AI output failed the checks)",
}
MAX_CONTENT = 20_000
# action → (status it needs, status it sets, timestamp column, user column)
TRANSITIONS: dict[str, tuple[str, str, str, str]] = {
    "approve": ("draft", "approved", "approved_at", "reviewed_by_id"),
    "reject": ("draft", "rejected", "rejected_at", "reviewed_by_id"),
    "use": ("approved", "used", "used_at", "used_by_id"),
}


def source_label(fallback_used: bool, reason: str | None) -> str:
    """'AI draft', or the rule-based badge naming the real reason (a generic one for old drafts)."""
    if not fallback_used:
        return "AI draft"
    return FALLBACK_LABELS.get(reason or "", "Rule-based draft")


def edit_distance(ai_text: str, final_text: str) -> int:
    """Characters inserted, deleted or substituted to turn the AI text into the final text (Levenshtein)."""
    return int(Levenshtein.distance(ai_text, final_text))


def can_write(user: User, content_type: str) -> bool:
    """Whether `user` may generate, edit and review drafts of this type."""
    return user.role == "admin" or FEATURE_ROLES.get(content_type) == user.role


def require_writer(user: User, content_type: str) -> None:
    """Forbidden unless the user's role works on this kind of draft."""
    if not can_write(user, content_type):
        role = FEATURE_ROLES.get(content_type, "admin")
        raise Forbidden(
            f"Your role '{user.role}' cannot change {content_type} drafts",
            details={"required_roles": sorted({role, "admin"})},
        )


def create_draft(
    content_type: str,
    result: LLMResult,
    text: str,
    structured: Mapping[str, Any],
    user_id: int | None,
    confidence: float | None = None,
) -> GeneratedContent:
    """Store an AI (or fallback) result as a draft awaiting review. Flushes only."""
    draft = GeneratedContent(
        content_type=content_type,
        status="draft",
        ai_content=text,
        content=text,
        structured_content=dict(structured),
        edit_distance=0,
        fallback_used=result.fallback_used,
        request_id=result.request_id or None,
        prompt_name=result.prompt_name or None,
        prompt_version=result.prompt_version,
        prompt_variant=result.variant,
        created_by_id=user_id,
        confidence=result.confidence if confidence is None else confidence,
        version=1,
    )
    db.session.add(draft)
    db.session.flush()
    return draft


def get_draft(draft_id: int) -> GeneratedContent:
    """The draft, or a 404."""
    draft = db.session.get(GeneratedContent, draft_id)
    if draft is None:
        raise NotFound(f"No draft {draft_id}", details={"draft_id": draft_id})
    return draft


def list_drafts(
    content_type: str | None, status: str | None, page: int, per_page: int, created_by_id: int | None = None
) -> dict[str, Any]:
    """Newest first, filtered by type and status, paginated."""
    query = select(GeneratedContent)
    if content_type:
        query = query.where(GeneratedContent.content_type == content_type)
    if status:
        query = query.where(GeneratedContent.status == status)
    if created_by_id is not None:
        query = query.where(GeneratedContent.created_by_id == created_by_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    drafts = list(
        db.session.scalars(
            query.order_by(GeneratedContent.created_at.desc(), GeneratedContent.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    ledger = _ledger_rows([d.request_id for d in drafts if d.request_id])
    counted = select(GeneratedContent.status, func.count()).group_by(GeneratedContent.status)
    if content_type:
        counted = counted.where(GeneratedContent.content_type == content_type)
    counts = dict(db.session.execute(counted).all())
    return {
        "items": [draft_dict(d, ledger.get(d.request_id or ""), full=False) for d in drafts],
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": (total + per_page - 1) // per_page,
        "status_counts": {s: int(counts.get(s, 0)) for s in CONTENT_STATUSES},
    }


def show_draft(draft_id: int, user: User | None = None) -> dict[str, Any]:
    """One draft with its AI call's ledger figures; the stored inputs (a customer's email, say) only for
    people who work on this kind of draft."""
    draft = get_draft(draft_id)
    ledger = _ledger_rows([draft.request_id] if draft.request_id else []).get(draft.request_id or "")
    out = draft_dict(draft, ledger)
    if user is not None and not can_write(user, draft.content_type):
        out["input"] = None
    return out


def edit(draft_id: int, text: str, user: User, version: int | None = None) -> GeneratedContent:
    """Replace the draft's text (only while it is a draft); the AI text is kept for the edit distance."""
    if not text.strip():
        raise ValidationFailed("The draft text cannot be empty", details=[{"field": "content", "reason": "empty"}])
    draft = get_draft(draft_id)
    require_writer(user, draft.content_type)
    read_version = _check_state(draft, "draft", "edit", version)
    distance = edit_distance(draft.ai_content, text)
    values = {"content": text, "edit_distance": distance, "edited_by_id": user.id, "edited_at": utcnow()}
    _conditional_update(draft, "draft", read_version, values, "edit")
    return draft


def transition(
    draft_id: int, action: str, user: User, feedback: str | None = None, version: int | None = None
) -> GeneratedContent:
    """approve / reject / use, exactly once: a concurrent or repeated call gets a 409."""
    needs, sets, at_column, by_column = TRANSITIONS[action]
    draft = get_draft(draft_id)
    require_writer(user, draft.content_type)
    read_version = _check_state(draft, needs, action, version)
    values: dict[str, Any] = {"status": sets, at_column: utcnow(), by_column: user.id}
    if action != "use":
        values["edit_distance"] = edit_distance(draft.ai_content, draft.content)
    if feedback is not None and feedback.strip():
        values["feedback"] = feedback.strip()
    _conditional_update(draft, needs, read_version, values, action)
    if draft.conversation_id is not None and action in ("approve", "reject"):
        conversation = db.session.get(LLMConversation, draft.conversation_id)
        if conversation is not None:  # the chat that led here shares the verdict
            conversation.accepted = action == "approve"
            conversation.feedback = values.get("feedback", conversation.feedback)
    return draft


def revise(draft: GeneratedContent, text: str, structured: Mapping[str, Any], confidence: float) -> None:
    """A new AI revision (from a chat turn) replaces the AI text and the text; human edits start again."""
    read_version = _check_state(draft, "draft", "revise", None)
    values = {
        "ai_content": text,
        "content": text,
        "structured_content": dict(structured),
        "edit_distance": 0,
        "confidence": confidence,
    }
    _conditional_update(draft, "draft", read_version, values, "revise")


def _check_state(draft: GeneratedContent, needs: str, action: str, version: int | None) -> int:
    if draft.status != needs:
        raise Conflict(
            f"Cannot {action} draft {draft.id}: it is {draft.status}, and only {needs} items can be {_past(action)}",
            code="invalid_transition",
            details={"draft_id": draft.id, "status": draft.status, "required_status": needs, "action": action},
        )
    if version is not None and version != draft.version:
        raise Conflict(
            f"Draft {draft.id} changed since you loaded it (version {version}, now {draft.version}); reload it",
            code="stale_version",
            details={"draft_id": draft.id, "version": draft.version, "your_version": version},
        )
    return draft.version


def _conditional_update(
    draft: GeneratedContent, needs: str, read_version: int, values: Mapping[str, Any], action: str
) -> None:
    """UPDATE … WHERE status = needs AND version = read: zero rows means someone else got there first."""
    result = db.session.execute(
        update(GeneratedContent)
        .where(
            GeneratedContent.id == draft.id, GeneratedContent.status == needs, GeneratedContent.version == read_version
        )
        .values(**values, version=GeneratedContent.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(draft)
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise Conflict(
            f"Cannot {action} draft {draft.id}: it was changed by someone else meanwhile (now {draft.status})",
            code="invalid_transition" if draft.status != needs else "stale_version",
            details={"draft_id": draft.id, "status": draft.status, "version": draft.version, "action": action},
        )


def _past(action: str) -> str:
    return {
        "approve": "approved",
        "reject": "rejected",
        "use": "marked used",
        "edit": "edited",
        "revise": "revised",
    }.get(action, action)


def _ledger_rows(request_ids: list[str]) -> dict[str, LLMRequest]:
    if not request_ids:
        return {}
    return {r.id: r for r in db.session.scalars(select(LLMRequest).where(LLMRequest.id.in_(request_ids)))}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _users(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def draft_dict(draft: GeneratedContent, ledger: LLMRequest | None = None, full: bool = True) -> dict[str, Any]:
    """The JSON form of a draft: text, review trail, and the AI call's figures from the ledger."""
    people = {draft.created_by_id, draft.reviewed_by_id, draft.edited_by_id, draft.used_by_id}
    emails = _users({p for p in people if p is not None})
    structured = dict(draft.structured_content or {})
    reason = structured.get("fallback_reason") if draft.fallback_used else None
    if draft.fallback_used and reason is None and ledger is not None:
        reason = fallback_reason(ledger.error_kind)
    out: dict[str, Any] = {
        "id": draft.id,
        "content_type": draft.content_type,
        "status": draft.status,
        "version": draft.version,
        "content": draft.content,
        "ai_content": draft.ai_content,
        "edited": draft.content != draft.ai_content,
        "edit_distance": draft.edit_distance,
        "fallback_used": draft.fallback_used,
        "fallback_reason": reason,
        "label": source_label(draft.fallback_used, reason),
        "confidence": draft.confidence,
        "flags": structured.get("flags", []),
        "needs_review": structured.get("needs_review"),
        "request_id": draft.request_id,
        "prompt_name": draft.prompt_name,
        "prompt_version": draft.prompt_version,
        "variant": draft.prompt_variant,
        "conversation_id": draft.conversation_id,
        "feedback": draft.feedback,
        "created_by": emails.get(draft.created_by_id or 0),
        "reviewed_by": emails.get(draft.reviewed_by_id or 0),
        "edited_by": emails.get(draft.edited_by_id or 0),
        "used_by": emails.get(draft.used_by_id or 0),
        "created_at": _iso(draft.created_at),
        "updated_at": _iso(draft.updated_at),
        "edited_at": _iso(draft.edited_at),
        "approved_at": _iso(draft.approved_at),
        "rejected_at": _iso(draft.rejected_at),
        "used_at": _iso(draft.used_at),
        "ai": _ledger_dict(ledger),
    }
    if full:
        out["structured"] = structured.get("output")
        out["input"] = structured.get("input")
        out["checks"] = structured.get("checks")
    return out


def _ledger_dict(row: LLMRequest | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "model": row.model,
        "provider": row.provider,
        "tier": row.tier,
        "tokens_in": row.input_tokens,
        "tokens_out": row.output_tokens,
        "cost_usd": row.cost_usd,
        "cached": row.cached,
        "latency_ms": row.latency_ms,
        "status": row.status,
        "error_kind": row.error_kind,
    }
