"""Marketing posts and customer orders: the data the content and email assistants draw on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models._types import BigId, Money, UTCDateTime, utcnow

PLATFORMS = ("instagram", "x", "linkedin", "facebook")
ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "failed", "cancelled", "refunded")


class SocialPost(db.Model):  # type: ignore[name-defined,misc]
    """A post the team published, with its engagement; re-imports match on `content_key`."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    media_description: Mapped[str] = mapped_column(Text, default="")
    products: Mapped[list[str]] = mapped_column(JSON, default=list)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Counts the API takes up to 2**63 - 1: BIGINT on PostgreSQL too.
    impressions: Mapped[int] = mapped_column(BigId, default=0)
    likes: Mapped[int] = mapped_column(BigId, default=0)
    comments: Mapped[int] = mapped_column(BigId, default=0)
    shares: Mapped[int] = mapped_column(BigId, default=0)
    clicks: Mapped[int] = mapped_column(BigId, default=0)
    content_key: Mapped[str] = mapped_column(String(32), unique=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("generated_content.id", ondelete="SET NULL"))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerOrder(db.Model):  # type: ignore[name-defined,misc]
    """A customer's order as the support team sees it (status, items, totals, delivery)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_number: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_email: Mapped[str] = mapped_column(String(255), default="")
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    total: Mapped[float] = mapped_column(Money, default=0.0)
    refunded_amount: Mapped[float] = mapped_column(Money, default=0.0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    device_id: Mapped[str | None] = mapped_column(String(64))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expected_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
