"""Review workflow API: /api/drafts (queue, edit, approve / reject / use) and /api/conversations (chat)."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from blueprints._openapi import api_doc
from blueprints._web import api_user, parse_json, parse_query
from extensions import db
from services import conversations, review

bp = Blueprint("drafts", __name__, url_prefix="/api")

ContentType = Literal["post_suggestion", "caption", "hashtags", "performance_analysis", "email_reply"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftQuery(Body):
    type: ContentType | None = None
    status: Literal["draft", "approved", "used", "rejected"] | None = None
    mine: bool = False
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=100)


class EditBody(Body):
    content: str = Field(min_length=1, max_length=review.MAX_CONTENT)
    version: int | None = Field(default=None, description="the version you edited; a newer one is a 409")


class ReviewBody(Body):
    feedback: str | None = Field(default=None, max_length=2000)
    version: int | None = None


class ChatBody(Body):
    message: str = Field(min_length=1, max_length=2000)


@bp.get("/drafts")
@api_doc(query=DraftQuery)
def list_drafts() -> Response:
    query = parse_query(DraftQuery)
    mine = api_user().id if query.mine else None
    return jsonify(review.list_drafts(query.type, query.status, query.page, query.per_page, mine))


@bp.get("/drafts/<int:draft_id>")
@api_doc()
def get_draft(draft_id: int) -> Response:
    return jsonify(review.show_draft(draft_id, api_user()))


@bp.patch("/drafts/<int:draft_id>")
@api_doc(body=EditBody)
def edit_draft(draft_id: int) -> Response:
    body = parse_json(EditBody)
    review.edit(draft_id, body.content, api_user(), body.version)
    db.session.commit()
    return jsonify(review.show_draft(draft_id, api_user()))


def _transition(draft_id: int, action: str) -> Response:
    body = parse_json(ReviewBody)
    review.transition(draft_id, action, api_user(), body.feedback, body.version)
    db.session.commit()
    return jsonify(review.show_draft(draft_id, api_user()))


@bp.post("/drafts/<int:draft_id>/approve")
@api_doc(body=ReviewBody)
def approve(draft_id: int) -> Response:
    return _transition(draft_id, "approve")


@bp.post("/drafts/<int:draft_id>/reject")
@api_doc(body=ReviewBody)
def reject(draft_id: int) -> Response:
    return _transition(draft_id, "reject")


@bp.post("/drafts/<int:draft_id>/use")
@api_doc(body=ReviewBody)
def mark_used(draft_id: int) -> Response:
    return _transition(draft_id, "use")


@bp.post("/drafts/<int:draft_id>/chat")
@api_doc(body=ChatBody)
def chat(draft_id: int) -> Response:
    body = parse_json(ChatBody)
    result = conversations.continue_draft(draft_id, body.message, api_user())
    db.session.commit()
    return jsonify(result)


@bp.get("/conversations/<int:conversation_id>")
@api_doc()
def get_conversation(conversation_id: int) -> Response:
    return jsonify(conversations.get_conversation(conversation_id, api_user()))


@bp.post("/conversations/<int:conversation_id>/messages")
@api_doc(body=ChatBody)
def continue_conversation(conversation_id: int) -> Response:
    body = parse_json(ChatBody)
    result = conversations.continue_draft(conversations.draft_of(conversation_id), body.message, api_user())
    db.session.commit()
    return jsonify(result)
