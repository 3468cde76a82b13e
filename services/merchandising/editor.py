"""Initial state of the planogram editor page: device geometry, saved planogram and the whole catalogue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from extensions import db
from models import Product
from services import catalog
from services.merchandising import warmup as model_warmup
from services.merchandising.analysis import default_max_changed_slots, default_max_new_skus

EDIT_ROLES = frozenset({"merchandiser", "admin"})
MAX_PALETTE_PRODUCTS = 5000  # the palette filters client-side; a larger catalogue would need server search


def editor_state(device_id: str, role: str, provider_configured: bool, currency: str) -> dict[str, Any]:
    """Everything the editor needs on load, as one JSON-able dict (404 for an unknown device)."""
    device = catalog.get_device(device_id)
    planogram = catalog.planogram_detail(device)
    # The palette offers this device's side of the demo/real divide (as the engine does), plus what it holds.
    held = {item["sku"] for item in planogram["slots"].values()}
    products = db.session.scalars(
        select(Product)
        .where(or_(Product.is_demo == device.is_demo, Product.sku.in_(held)))
        .order_by(Product.category, Product.name)
        .limit(MAX_PALETTE_PRODUCTS)
    )
    return {
        "device": catalog.device_detail(device),
        "planogram": planogram,
        "products": [catalog.product_dict(p) for p in products],
        "can_edit": role in EDIT_ROLES,
        "ai_provider_configured": provider_configured,
        "currency": currency,
        "model_ready": model_warmup.status(device_id)["ready"],  # else the page says "fitting…" until it is
        "budget": {"max_changed_slots": default_max_changed_slots(), "max_new_skus": default_max_new_skus()},
    }
