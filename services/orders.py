"""Customer orders for the email assistant: lookup, create, and the facts a reply may rely on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select

from extensions import db
from models import CustomerOrder
from models._types import utcnow
from services.errors import Conflict, NotFound

REFUNDABLE = ("paid", "shipped", "delivered", "failed")
IN_TRANSIT = ("pending", "paid", "shipped")
_CANDIDATE = re.compile(r"\b[A-Za-z0-9][A-Za-z0-9_-]{3,63}\b")


@dataclass(frozen=True)
class Policy:
    """What support may promise (config: SUPPORT_*)."""

    company: str
    refunds_allowed: bool
    refund_window_days: int
    refund_days_to_process: int
    max_discount_pct: float
    notes: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None) -> Policy:
        """The policy of the current app."""
        cfg = config if config is not None else current_app.config
        return cls(
            company=str(cfg.get("COMPANY_NAME") or "The Vending Team"),
            refunds_allowed=bool(cfg.get("SUPPORT_REFUNDS_ALLOWED", True)),
            refund_window_days=int(cfg.get("SUPPORT_REFUND_WINDOW_DAYS", 30)),
            refund_days_to_process=int(cfg.get("SUPPORT_REFUND_DAYS_TO_PROCESS", 5)),
            max_discount_pct=float(cfg.get("SUPPORT_MAX_DISCOUNT_PCT", 0.0)),
            notes=str(cfg.get("SUPPORT_POLICY_NOTES") or ""),
        )

    def text(self) -> str:
        """The policy as the prompt's company context."""
        lines = [
            (
                f"Refunds: allowed for paid, shipped, delivered or failed orders within {self.refund_window_days} days "
                f"of purchase, up to the amount paid; processed within {self.refund_days_to_process} business days "
                "after approval by the team."
            )
            if self.refunds_allowed
            else "Refunds: not offered by email; the team reviews each case.",
            f"Discounts, vouchers or credit: at most {self.max_discount_pct:g}% and only when the team approves."
            if self.max_discount_pct > 0
            else "Discounts, vouchers or credit: none may be offered.",
            "Delivery or restock dates: only the expected delivery date in the order data may be quoted.",
        ]
        if self.notes:
            lines.append(self.notes)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (stored with a draft so checks can be re-run)."""
        return dict(vars(self))


@dataclass(frozen=True)
class OrderFacts:
    """The order data a reply may rely on (from the orders table or given inline)."""

    order_number: str
    status: str
    items: list[dict[str, Any]] = field(default_factory=list)
    total: float | None = None
    refunded_amount: float = 0.0
    currency: str = "USD"
    ordered_at: datetime | None = None
    expected_delivery_at: datetime | None = None
    delivered_at: datetime | None = None
    customer_name: str = ""

    @classmethod
    def from_order(cls, order: CustomerOrder) -> OrderFacts:
        """Facts of a stored order."""
        return cls(
            order.order_number,
            order.status,
            list(order.items or []),
            order.total,
            order.refunded_amount,
            order.currency,
            order.ordered_at,
            order.expected_delivery_at,
            order.delivered_at,
            order.customer_name,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderFacts:
        """Facts from JSON (stored params or the API body)."""

        def when(key: str) -> datetime | None:
            value = data.get(key)
            parsed = (
                value
                if isinstance(value, datetime)
                else (datetime.fromisoformat(value) if isinstance(value, str) and value else None)
            )
            return parsed.replace(tzinfo=UTC) if parsed is not None and parsed.tzinfo is None else parsed

        return cls(
            str(data["order_number"]),
            str(data.get("status") or "unknown"),
            list(data.get("items") or []),
            data.get("total"),
            float(data.get("refunded_amount") or 0.0),
            str(data.get("currency") or "USD"),
            when("ordered_at"),
            when("expected_delivery_at"),
            when("delivered_at"),
            str(data.get("customer_name") or ""),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = dict(vars(self))
        for key in ("ordered_at", "expected_delivery_at", "delivered_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out

    def refundable(self, policy: Policy, now: datetime | None = None) -> tuple[bool, str]:
        """Whether policy and order data support a refund, and why (not)."""
        now = now or utcnow()
        if not policy.refunds_allowed:
            return False, "the support policy does not allow refunds by email"
        if self.status not in REFUNDABLE:
            return False, f"the order is {self.status}"
        if self.total is not None and self.refunded_amount >= self.total > 0:
            return False, "the order has already been refunded in full"
        if self.ordered_at and now - self.ordered_at > timedelta(days=policy.refund_window_days):
            return False, f"the order is older than the {policy.refund_window_days}-day refund window"
        return True, "within policy"

    def remaining(self) -> float | None:
        """What is left to refund."""
        return None if self.total is None else round(self.total - self.refunded_amount, 2)

    def context(self, policy: Policy) -> str:
        """The order as the prompt's order context (no customer contact details)."""
        items = (
            "; ".join(
                f"{i.get('quantity', 1)} x {i.get('name') or i.get('sku')}"
                + (f" at {float(i['unit_price']):.2f}" if i.get("unit_price") is not None else "")
                for i in self.items
            )
            or "not recorded"
        )
        refundable, why = self.refundable(policy)
        lines = [
            f"Order {self.order_number}: status {self.status}",
            f"Items: {items}",
            f"Total: {self.total:.2f} {self.currency}" if self.total is not None else "Total: not recorded",
            f"Ordered: {self.ordered_at.date().isoformat()}" if self.ordered_at else "Ordered: not recorded",
            (
                f"Expected delivery: {self.expected_delivery_at.date().isoformat()}"
                if self.expected_delivery_at
                else "Expected delivery: no date is known (do not promise one)"
            ),
        ]
        if self.delivered_at:
            lines.append(f"Delivered: {self.delivered_at.date().isoformat()}")
        if self.refunded_amount:
            lines.append(f"Already refunded: {self.refunded_amount:.2f} {self.currency}")
        lines.append(f"Refund possible under policy: {'yes' if refundable else 'no'} ({why})")
        return "\n".join(lines)


def order_dict(order: CustomerOrder) -> dict[str, Any]:
    """The JSON form of an order."""
    return {
        "id": order.id,
        "order_number": order.order_number,
        "status": order.status,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "items": order.items,
        "total": order.total,
        "refunded_amount": order.refunded_amount,
        "currency": order.currency,
        "device_id": order.device_id,
        "ordered_at": order.ordered_at.isoformat(),
        "expected_delivery_at": order.expected_delivery_at.isoformat() if order.expected_delivery_at else None,
        "delivered_at": order.delivered_at.isoformat() if order.delivered_at else None,
        "notes": order.notes,
        "is_demo": order.is_demo,
    }


def find_order(order_number: str) -> CustomerOrder | None:
    """An order by its number (case-insensitive)."""
    return db.session.scalar(
        select(CustomerOrder).where(func.lower(CustomerOrder.order_number) == order_number.strip().lower())
    )


def get_order(order_number: str) -> CustomerOrder:
    """An order by number, or a 404."""
    order = find_order(order_number)
    if order is None:
        raise NotFound(f"No order '{order_number}'", details={"order_number": order_number})
    return order


def order_in_text(text: str) -> CustomerOrder | None:
    """The first known order whose number appears in a customer's email."""
    candidates = list(dict.fromkeys(t.lower() for t in _CANDIDATE.findall(text) if any(c.isdigit() for c in t)))[:50]
    if not candidates:
        return None
    found = {
        o.order_number.lower(): o
        for o in db.session.scalars(select(CustomerOrder).where(func.lower(CustomerOrder.order_number).in_(candidates)))
    }
    return next((found[c] for c in candidates if c in found), None)


def list_orders(query: str | None, status: str | None, page: int, per_page: int) -> dict[str, Any]:
    """Orders newest first; `query` matches the order number or the customer's name or email."""
    stmt = select(CustomerOrder)
    if query:
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(CustomerOrder.order_number).like(like),
                func.lower(CustomerOrder.customer_name).like(like),
                func.lower(CustomerOrder.customer_email).like(like),
            )
        )
    if status:
        stmt = stmt.where(CustomerOrder.status == status)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(CustomerOrder.ordered_at.desc(), CustomerOrder.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return {"items": [order_dict(o) for o in rows], "total": total, "page": page, "per_page": per_page}


def create_order(values: Mapping[str, Any]) -> CustomerOrder:
    """Record an order (an existing number is a 409). Flushes only."""
    if find_order(values["order_number"]) is not None:
        raise Conflict(f"Order '{values['order_number']}' already exists", code="duplicate")
    data = dict(values)
    if data.get("total") is None:
        data["total"] = round(sum(i["quantity"] * i["unit_price"] for i in data.get("items") or []), 4)
    order = CustomerOrder(**data)
    db.session.add(order)
    db.session.flush()
    return order
