"""Customer email reply drafts under /api/email (drafts only: nothing is ever sent), and the orders behind them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from blueprints._openapi import api_doc
from blueprints._web import api_user, parse_json, parse_query, roles_required
from extensions import db
from services import orders
from services.email import drafts as email_drafts
from services.errors import ValidationFailed
from services.imports.orders_file import import_orders

bp = Blueprint("email", __name__, url_prefix="/api/email")

OrderStatus = Literal["pending", "paid", "shipped", "delivered", "failed", "cancelled", "refunded"]  # ORDER_STATUSES


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Body):
    sku: str = Field(default="", max_length=64)
    name: str = Field(default="", max_length=200)
    quantity: int = Field(default=1, ge=1, le=1000)
    unit_price: float | None = Field(default=None, ge=0, le=100_000)


class OrderIn(Body):
    order_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    status: OrderStatus
    items: list[ItemIn] = Field(default_factory=list, max_length=100)
    total: float | None = Field(default=None, ge=0, le=1_000_000)
    refunded_amount: float = Field(default=0.0, ge=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    ordered_at: datetime | None = None
    expected_delivery_at: datetime | None = None
    delivered_at: datetime | None = None
    customer_name: str = Field(default="", max_length=200)


class OrderBody(OrderIn):
    customer_email: str = Field(default="", max_length=255)
    device_id: str | None = Field(default=None, max_length=64)
    notes: str = Field(default="", max_length=2000)
    ordered_at: datetime


class OrderQuery(Body):
    q: str | None = Field(default=None, max_length=100)
    status: OrderStatus | None = None
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=200)


class DraftBody(Body):
    subject: str = Field(default="", max_length=300)
    body: str = Field(min_length=1, max_length=20_000)
    response_type: Literal["inquiry", "complaint", "return"]
    tone: Literal["friendly", "professional", "apologetic", "empathetic"] = "professional"
    order_number: str | None = Field(default=None, max_length=64)
    order: OrderIn | None = Field(default=None, description="order context given inline instead of looked up")
    customer_name: str | None = Field(default=None, max_length=200)


@bp.get("/orders")
@api_doc(query=OrderQuery)
@roles_required("agent")
def list_orders() -> Response:
    query = parse_query(OrderQuery)
    return jsonify(orders.list_orders(query.q, query.status, query.page, query.per_page))


@bp.get("/orders/<order_number>")
@api_doc()
@roles_required("agent")
def get_order(order_number: str) -> Response:
    return jsonify(orders.order_dict(orders.get_order(order_number)))


@bp.post("/orders")
@api_doc(body=OrderBody, status=201)
@roles_required("agent")
def create_order() -> tuple[Response, int]:
    body = parse_json(OrderBody)
    values = body.model_dump()
    values["items"] = [_item(i) for i in values["items"]]
    order = orders.create_order(values)
    db.session.commit()
    return jsonify(orders.order_dict(order)), 201


def _item(item: dict[str, object]) -> dict[str, object]:
    if item.get("unit_price") is None:
        raise ValidationFailed("Every item needs a unit_price", details=[{"field": "items", "reason": "unit_price"}])
    return {**item, "name": item.get("name") or item.get("sku")}


@bp.post("/orders/import")
@api_doc(upload=True)
@roles_required("agent")
def import_orders_file() -> Response:
    upload = next((f for f in request.files.values() if f.filename), None)
    if upload is None:
        raise ValidationFailed(
            "Send orders.csv as multipart/form-data", details=[{"field": "file", "reason": "no file uploaded"}]
        )
    report = import_orders(upload.stream)
    db.session.commit()
    return jsonify(report.as_dict())


@bp.post("/draft")
@api_doc(body=DraftBody, status=201)
@roles_required("agent")
def draft() -> tuple[Response, int]:
    body = parse_json(DraftBody)
    order = body.order.model_dump(mode="json") if body.order else None
    result = email_drafts.draft_reply(
        body.subject,
        body.body,
        body.response_type,
        body.tone,
        api_user(),
        order_number=body.order_number,
        order=order,
        customer_name=body.customer_name,
    )
    db.session.commit()
    return jsonify(result), 201
