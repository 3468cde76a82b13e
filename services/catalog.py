"""Read side of devices, slots, products and planograms, shaped for the JSON API and pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from extensions import db
from models import Device, PlanogramItem, PlanogramVersion, Product, Sale
from services.errors import NotFound


def get_device(device_id: str) -> Device:
    """Return a device by its natural id or raise NotFound."""
    device: Device | None = db.session.scalar(
        select(Device).where(Device.device_id == device_id).options(selectinload(Device.slots))
    )
    if device is None:
        raise NotFound(f"Device '{device_id}' not found", details={"device_id": device_id})
    return device


def list_devices() -> list[dict[str, Any]]:
    """All devices with their sizes, active planogram version and sales count."""
    sales = dict(db.session.execute(select(Sale.device_pk, func.count(Sale.id)).group_by(Sale.device_pk)).all())
    devices = db.session.scalars(select(Device).order_by(Device.device_id))
    return [{**device_summary(d), "sales_count": int(sales.get(d.id, 0))} for d in devices]


def device_summary(device: Device) -> dict[str, Any]:
    """The fields of a device shown in lists."""
    return {
        "device_id": device.device_id,
        "name": device.name,
        "venue_type": device.venue_type,
        "cabinet_type": device.cabinet_type,
        "rows": device.rows,
        "columns": device.columns,
        "service_interval_days": device.service_interval_days,
        "planogram_version": device.planogram_version,
        "is_demo": device.is_demo,
    }


def device_detail(device: Device) -> dict[str, Any]:
    """A device with its cabinet geometry and every slot."""
    return {
        **device_summary(device),
        "cabinet": {
            "rows": device.rows,
            "columns": device.columns,
            "default_slot": {
                "width_mm": device.slot_width_mm,
                "height_mm": device.slot_height_mm,
                "depth_mm": device.slot_depth_mm,
                "capacity": device.capacity,
            },
        },
        "slots": [
            {
                "slot": s.code,
                "row": s.row_index,
                "column": s.col_index,
                "width_mm": s.width_mm,
                "height_mm": s.height_mm,
                "depth_mm": s.depth_mm,
                "capacity": s.capacity,
                "zone": s.zone,
            }
            for s in device.slots
        ],
    }


def active_version(device: Device) -> PlanogramVersion | None:
    """The device's active planogram version, if any."""
    return db.session.scalar(
        select(PlanogramVersion)
        .where(PlanogramVersion.device_pk == device.id, PlanogramVersion.status == "active")
        .options(selectinload(PlanogramVersion.items).selectinload(PlanogramItem.product))
    )


def planogram_detail(device: Device) -> dict[str, Any]:
    """The current planogram: slot -> sku and capacity, with version metadata."""
    version = active_version(device)
    if version is None:
        return {"device_id": device.device_id, "version": 0, "status": None, "slots": {}}
    return {
        "device_id": device.device_id,
        "version": version.version_number,
        "status": version.status,
        "source": version.source,
        "created_at": version.created_at.isoformat(),
        "slots": {
            item.slot_code: {"sku": item.product.sku, "name": item.product.name, "capacity": item.capacity}
            for item in version.items
        },
    }


def product_dict(product: Product) -> dict[str, Any]:
    """The JSON form of a product."""
    margin = product.price - product.unit_cost
    return {
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price": round(product.price, 2),
        "unit_cost": round(product.unit_cost, 2),
        "margin": round(margin, 2),
        "width_mm": product.width_mm,
        "height_mm": product.height_mm,
        "depth_mm": product.depth_mm,
        "temperature": product.temperature,
        "is_demo": product.is_demo,
    }


def list_products(page: int, per_page: int, category: str | None, search: str | None) -> dict[str, Any]:
    """A page of products, optionally filtered by category and a name/sku search."""
    query = select(Product)
    if category:
        query = query.where(Product.category == category)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(func.lower(Product.name).like(like) | func.lower(Product.sku).like(like))
    total = int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = db.session.scalars(query.order_by(Product.sku).limit(per_page).offset((page - 1) * per_page))
    return {
        "items": [product_dict(p) for p in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": (total + per_page - 1) // per_page,
    }


def categories() -> list[str]:
    """Distinct product categories, sorted."""
    return list(db.session.scalars(select(Product.category).distinct().order_by(Product.category)))
