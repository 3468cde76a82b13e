"""Prompt templates, conversations, generated content and the LLM request ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models._types import UsdCost, UTCDateTime, utcnow

CONTENT_STATUSES = ("draft", "approved", "used", "rejected")


class PromptTemplate(db.Model):  # type: ignore[name-defined,misc]
    """One version of one variant of a prompt, loaded from prompts/*.yaml."""

    __tablename__ = "prompt_templates"
    __table_args__ = (UniqueConstraint("name", "variant", "version", name="uq_prompt_name_variant_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    category: Mapped[str] = mapped_column(String(50))
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    user_template: Mapped[str] = mapped_column(Text)
    required_variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    tier: Mapped[str] = mapped_column(String(20), default="balanced")
    temperature: Mapped[float] = mapped_column(Float, default=0.7)
    max_tokens: Mapped[int] = mapped_column(Integer, default=1000)
    version: Mapped[int] = mapped_column(Integer, default=1)
    parent_version_id: Mapped[int | None] = mapped_column(ForeignKey("prompt_templates.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    variant: Mapped[str] = mapped_column(String(50), default="control")
    traffic_percent: Mapped[int] = mapped_column(Integer, default=100)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LLMConversation(db.Model):  # type: ignore[name-defined,misc]
    """A chat thread that continues a generation, with its running totals."""

    __tablename__ = "llm_conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    feature: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str | None] = mapped_column(String(100))
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(UsdCost, default=0.0)
    accepted: Mapped[bool | None] = mapped_column(Boolean)
    feedback: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    messages: Mapped[list[LLMMessage]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="LLMMessage.id"
    )


class LLMMessage(db.Model):  # type: ignore[name-defined,misc]
    """One turn of a conversation."""

    __tablename__ = "llm_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("llm_conversations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conversation: Mapped[LLMConversation] = relationship(back_populates="messages")


class GeneratedContent(db.Model):  # type: ignore[name-defined,misc]
    """An AI (or fallback) draft and its human review: draft -> approved -> used, or rejected."""

    __tablename__ = "generated_content"
    __table_args__ = (
        Index("ix_generated_content_type_status", "content_type", "status"),
        Index("ix_generated_content_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    content_type: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    ai_content: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    structured_content: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    edit_distance: Mapped[int | None] = mapped_column(Integer)
    fallback_used: Mapped[bool] = mapped_column(Boolean, default=False)
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    prompt_name: Mapped[str | None] = mapped_column(String(100))
    prompt_version: Mapped[int | None] = mapped_column(Integer)
    prompt_variant: Mapped[str | None] = mapped_column(String(50))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("llm_conversations.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    feedback: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Review trail (migration 0003): last human edit, who marked it used, the AI's confidence, row version.
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confidence: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class LLMRequest(db.Model):  # type: ignore[name-defined,misc]
    """The ledger: one row per pipeline call, cached and fallback calls included."""

    __tablename__ = "llm_requests"
    __table_args__ = (Index("ix_llm_requests_created_feature", "created_at", "feature"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    feature: Mapped[str] = mapped_column(String(50))
    provider: Mapped[str | None] = mapped_column(String(30))
    model: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str | None] = mapped_column(String(20))
    prompt_name: Mapped[str | None] = mapped_column(String(100))
    prompt_version: Mapped[int | None] = mapped_column(Integer)
    prompt_variant: Mapped[str | None] = mapped_column(String(50))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)  # of input_tokens: provider cache reads
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A cache hit sent nothing to the provider (input/output 0); these say what the original call cost.
    saved_input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    saved_output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    saved_usd: Mapped[float] = mapped_column(UsdCost, default=0.0, server_default="0")
    cost_usd: Mapped[float] = mapped_column(UsdCost, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(30))
    error_kind: Mapped[str | None] = mapped_column(String(50))
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_used: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Through a provider batch API (migration 0006): billed at the batch price, answered by a job.
    batch: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LLMBatch(db.Model):  # type: ignore[name-defined,misc]
    """A non-interactive AI job sent through the providers' batch APIs: its items, ticket and outcome."""

    __tablename__ = "llm_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))  # which feature builds and stores its items
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|submitted|finished|failed
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the feature's inputs, per item
    ticket: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # services.llm.BatchTicket.to_json()
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # per item: draft id, status, reason
    error: Mapped[str | None] = mapped_column(String(200))
    cost_usd: Mapped[float] = mapped_column(UsdCost, default=0.0)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
