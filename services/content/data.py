"""The numbers behind the content assistant: posts, recent sales per product and category, period figures.

Everything here is computed from the operator's own data; the LLM only ever receives these figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select

from extensions import db
from models import Device, GeneratedContent, PlanogramItem, PlanogramVersion, Product, Sale, SocialPost
from services.errors import Conflict, NotFound, ValidationFailed
from services.imports.posts_file import post_key

RECENT_DAYS = 7
SALES_WINDOW_DAYS = 14


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def engagement(post: SocialPost) -> int:
    """Interactions on a post (likes + comments + shares)."""
    return post.likes + post.comments + post.shares


def post_dict(post: SocialPost) -> dict[str, Any]:
    """The JSON form of a post."""
    rate = round(100.0 * engagement(post) / post.impressions, 2) if post.impressions else None
    return {
        "id": post.id,
        "platform": post.platform,
        "text": post.text,
        "media_description": post.media_description,
        "products": list(post.products or []),
        "posted_at": post.posted_at.isoformat(),
        "impressions": post.impressions,
        "likes": post.likes,
        "comments": post.comments,
        "shares": post.shares,
        "clicks": post.clicks,
        "engagement_rate_pct": rate,
        "draft_id": post.draft_id,
        "is_demo": post.is_demo,
    }


def create_post(values: dict[str, Any], user_id: int | None) -> SocialPost:
    """Record a published post (the same platform, time and text twice is a 409). Flushes only."""
    draft_id = values.get("draft_id")
    if draft_id is not None and db.session.get(GeneratedContent, draft_id) is None:
        raise ValidationFailed("Unknown draft", details=[{"field": "draft_id", "reason": f"no draft {draft_id}"}])
    key = post_key(values["platform"], values["posted_at"], values["text"])
    if db.session.scalar(select(SocialPost.id).where(SocialPost.content_key == key)) is not None:
        raise Conflict("This post is already recorded (same platform, time and text)", code="duplicate")
    post = SocialPost(content_key=key, created_by_id=user_id, **values)
    db.session.add(post)
    db.session.flush()
    return post


def list_posts(start: date | None, end: date | None, platform: str | None, page: int, per_page: int) -> dict[str, Any]:
    """Posts newest first, filtered by day range (inclusive) and platform."""
    query = select(SocialPost)
    if start is not None:
        query = query.where(SocialPost.posted_at >= day_start(start))
    if end is not None:
        query = query.where(SocialPost.posted_at < day_start(end + timedelta(days=1)))
    if platform:
        query = query.where(SocialPost.platform == platform)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    posts = db.session.scalars(
        query.order_by(SocialPost.posted_at.desc(), SocialPost.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return {"items": [post_dict(p) for p in posts], "total": total, "page": page, "per_page": per_page}


def recent_posts(today: date, days: int = RECENT_DAYS) -> list[SocialPost]:
    """Posts of the last `days` days up to and including today, newest first."""
    return list(
        db.session.scalars(
            select(SocialPost)
            .where(
                SocialPost.posted_at >= day_start(today - timedelta(days=days - 1)),
                SocialPost.posted_at < day_start(today + timedelta(days=1)),
            )
            .order_by(SocialPost.posted_at.desc(), SocialPost.id.desc())
        )
    )


def products_by_sku(skus: Sequence[str]) -> dict[str, Product]:
    """Catalogue rows of the given skus; unknown skus are a 422 naming them."""
    found = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(list(skus))))}
    unknown = [s for s in skus if s not in found]
    if unknown:
        raise ValidationFailed(
            "Unknown products", details=[{"field": "products", "reason": f"unknown sku '{s}'"} for s in unknown]
        )
    return found


def product_sales(today: date, window: int = SALES_WINDOW_DAYS, limit: int = 10) -> list[dict[str, Any]]:
    """Top products by units sold in the `window` full days before today, with the change against the window before."""
    mid, start, end = _windows(today, window)
    recent = func.sum(case((Sale.ts >= mid, 1), else_=0))
    before = func.sum(case((Sale.ts < mid, 1), else_=0))
    revenue = func.sum(case((Sale.ts >= mid, Sale.price), else_=0))
    rows = db.session.execute(
        select(Product.sku, Product.name, Product.category, recent, before, revenue)
        .join(Sale, Sale.product_id == Product.id)
        .where(Sale.ts >= start, Sale.ts < end)
        .group_by(Product.sku, Product.name, Product.category)
        .order_by(recent.desc(), Product.sku)
        .limit(limit)
    ).all()
    return [
        {
            "sku": sku,
            "name": name,
            "category": category,
            "units": int(units or 0),
            "units_before": int(prev or 0),
            "revenue": round(float(rev or 0.0), 2),
            "change_pct": _change(units, prev),
        }
        for sku, name, category, units, prev, rev in rows
        if units
    ]


def category_trends(today: date, window: int = SALES_WINDOW_DAYS, limit: int = 5) -> list[dict[str, Any]]:
    """Categories by sales growth (units, last `window` days against the window before), fastest first."""
    mid, start, end = _windows(today, window)
    recent = func.sum(case((Sale.ts >= mid, 1), else_=0))
    before = func.sum(case((Sale.ts < mid, 1), else_=0))
    rows = db.session.execute(
        select(Product.category, recent, before)
        .join(Sale, Sale.product_id == Product.id)
        .where(Sale.ts >= start, Sale.ts < end)
        .group_by(Product.category)
    ).all()
    out = [
        {"category": c, "units": int(u or 0), "units_before": int(b or 0), "growth_pct": _change(u, b)}
        for c, u, b in rows
    ]
    out.sort(key=lambda r: (-(r["growth_pct"] if r["growth_pct"] is not None else -1e9), r["category"]))
    return out[:limit]


def _windows(today: date, window: int) -> tuple[datetime, datetime, datetime]:
    """(start of the recent window, start of the window before it, start of today): whole days before today."""
    return (day_start(today - timedelta(days=window)), day_start(today - timedelta(days=2 * window)), day_start(today))


def _change(now: Any, before: Any) -> float | None:
    now, before = float(now or 0), float(before or 0)
    return round(100.0 * (now - before) / before, 1) if before else None


def queue() -> dict[str, Any]:
    """The content queue: approved posts waiting to be published, and drafts waiting for review."""
    approved = list(
        db.session.scalars(
            select(GeneratedContent)
            .where(
                GeneratedContent.status == "approved", GeneratedContent.content_type.in_(("post_suggestion", "caption"))
            )
            .order_by(GeneratedContent.approved_at.desc())
            .limit(5)
        )
    )
    pending = (
        db.session.scalar(
            select(func.count(GeneratedContent.id)).where(
                GeneratedContent.status == "draft",
                GeneratedContent.content_type.in_(("post_suggestion", "caption", "hashtags")),
            )
        )
        or 0
    )
    return {
        "approved": [{"id": d.id, "type": d.content_type, "text": d.content[:200]} for d in approved],
        "drafts_waiting": int(pending),
    }


def best_posting_slot(posts: Sequence[SocialPost]) -> tuple[int, int] | None:
    """(weekday, hour) of the posts with the best engagement rate, or None without data."""
    scores: dict[tuple[int, int], list[float]] = {}
    for post in posts:
        if post.impressions:
            key = (post.posted_at.weekday(), post.posted_at.hour)
            scores.setdefault(key, []).append(engagement(post) / post.impressions)
    if not scores:
        return None
    return max(sorted(scores), key=lambda k: sum(scores[k]) / len(scores[k]))


def period_figures(start: date, end: date, device_id: str | None = None) -> dict[str, Any]:
    """Sales and post figures for [start, end] (whole days) and the same-length period before."""
    if end < start:
        raise ValidationFailed("'to' is before 'from'", details=[{"field": "to", "reason": "before 'from'"}])
    if (end - start).days > 366:
        raise ValidationFailed("At most 366 days", details=[{"field": "to", "reason": "range longer than 366 days"}])
    device_pk = None
    if device_id:
        device_pk = db.session.scalar(select(Device.id).where(Device.device_id == device_id))
        if device_pk is None:
            raise NotFound(f"No device '{device_id}'", details={"device_id": device_id})
    days = (end - start).days + 1
    prev_start, prev_end = start - timedelta(days=days), start - timedelta(days=1)
    current = _sales(start, end, device_pk)
    previous = _sales(prev_start, prev_end, device_pk)
    posts = _posts(start, end)
    featured = sorted({sku for p in posts for sku in (p.products or [])})
    figures: dict[str, Any] = {
        "period": {"from": start.isoformat(), "to": end.isoformat(), "days": days},
        "previous_period": {"from": prev_start.isoformat(), "to": prev_end.isoformat()},
        "device_id": device_id,
        "sales": {k: current[k] for k in ("revenue", "units", "average_price")},
        "sales_previous": {k: previous[k] for k in ("revenue", "units", "average_price")},
        "revenue_change_pct": _change(current["revenue"], previous["revenue"]),
        "units_change_pct": _change(current["units"], previous["units"]),
        "categories": current["categories"],
        "top_products": current["products"][:5],
        "bottom_products": list(reversed(current["products"][-5:])) if len(current["products"]) > 5 else [],
        "posts": _post_figures(posts),
        "featured_products": [
            {
                "sku": sku,
                "units": current["units_by_sku"].get(sku, 0),
                "units_previous": previous["units_by_sku"].get(sku, 0),
                "change_pct": _change(current["units_by_sku"].get(sku, 0), previous["units_by_sku"].get(sku, 0)),
            }
            for sku in featured
        ],
    }
    return figures


# Vends sent as basket history for one machine's summary (newest first; the context budget cuts further).
MAX_CONTEXT_VENDS = 3000


def device_layout(device_id: str, start: date, end: date) -> dict[str, Any]:
    """The machine's active planogram slot by slot, with units sold per day in [start, end] (unsold slots 0)."""
    device = db.session.scalar(select(Device).where(Device.device_id == device_id))
    if device is None:
        raise NotFound(f"No device '{device_id}'", details={"device_id": device_id})
    items = {
        item.slot_code: item
        for item in db.session.scalars(
            select(PlanogramItem)
            .join(PlanogramVersion, PlanogramVersion.id == PlanogramItem.version_id)
            .where(PlanogramVersion.device_pk == device.id, PlanogramVersion.status == "active")
        )
    }
    sold = {
        code: int(n)
        for code, n in db.session.execute(
            select(Sale.slot_code, func.count(Sale.id))
            .where(
                Sale.device_pk == device.id, Sale.ts >= day_start(start), Sale.ts < day_start(end + timedelta(days=1))
            )
            .group_by(Sale.slot_code)
        )
    }
    days = (end - start).days + 1
    slots = []
    for slot in device.slots:
        item = items.get(slot.code)
        product = item.product if item else None
        slots.append(
            {
                "slot": slot.code,
                "sku": product.sku if product else None,
                "name": product.name if product else None,
                "price": product.price if product else None,
                "capacity": item.capacity if item else slot.capacity,
                "sales_per_day": round(int(sold.get(slot.code, 0)) / days, 2),
            }
        )
    return {"device_id": device_id, "slots": slots}


def period_vends(device_id: str, start: date, end: date, limit: int = MAX_CONTEXT_VENDS) -> list[dict[str, Any]]:
    """The machine's newest `limit` vends in [start, end] (sku, time, transaction), for basket analysis."""
    rows = db.session.execute(
        select(Product.sku, Sale.ts, Sale.transaction_id)
        .join(Sale, Sale.product_id == Product.id)
        .join(Device, Device.id == Sale.device_pk)
        .where(Device.device_id == device_id, Sale.ts >= day_start(start), Sale.ts < day_start(end + timedelta(days=1)))
        .order_by(Sale.ts.desc())
        .limit(limit)
    )
    return [{"sku": sku, "timestamp": ts, "transaction_id": txn, "device_id": device_id} for sku, ts, txn in rows]


def _sales(start: date, end: date, device_pk: int | None) -> dict[str, Any]:
    query = (
        select(Product.sku, Product.name, Product.category, func.count(Sale.id), func.sum(Sale.price))
        .join(Sale, Sale.product_id == Product.id)
        .where(Sale.ts >= day_start(start), Sale.ts < day_start(end + timedelta(days=1)))
        .group_by(Product.sku, Product.name, Product.category)
    )
    if device_pk is not None:
        query = query.where(Sale.device_pk == device_pk)
    rows = [(sku, name, cat, int(n), round(float(rev or 0), 2)) for sku, name, cat, n, rev in db.session.execute(query)]
    rows.sort(key=lambda r: (-r[4], r[0]))
    units = sum(r[3] for r in rows)
    revenue = round(sum(r[4] for r in rows), 2)
    categories: dict[str, dict[str, Any]] = {}
    for _, _, cat, n, rev in rows:
        entry = categories.setdefault(cat, {"category": cat, "units": 0, "revenue": 0.0})
        entry["units"] += n
        entry["revenue"] = round(entry["revenue"] + rev, 2)
    return {
        "revenue": revenue,
        "units": units,
        "average_price": round(revenue / units, 2) if units else 0.0,
        "products": [{"sku": s, "name": nm, "category": c, "units": n, "revenue": r} for s, nm, c, n, r in rows],
        "categories": sorted(categories.values(), key=lambda c: (-c["revenue"], c["category"])),
        "units_by_sku": {r[0]: r[3] for r in rows},
    }


def _posts(start: date, end: date) -> list[SocialPost]:
    return list(
        db.session.scalars(
            select(SocialPost)
            .where(SocialPost.posted_at >= day_start(start), SocialPost.posted_at < day_start(end + timedelta(days=1)))
            .order_by(SocialPost.posted_at, SocialPost.id)
        )
    )


def _post_figures(posts: Sequence[SocialPost]) -> dict[str, Any]:
    totals = {k: sum(getattr(p, k) for p in posts) for k in ("impressions", "likes", "comments", "shares", "clicks")}
    interactions = totals["likes"] + totals["comments"] + totals["shares"]
    best = max(posts, key=lambda p: (engagement(p), -p.id), default=None)
    by_platform: dict[str, int] = {}
    for post in posts:
        by_platform[post.platform] = by_platform.get(post.platform, 0) + 1
    rate = round(100.0 * interactions / totals["impressions"], 2) if totals["impressions"] else None
    return {
        "count": len(posts),
        **totals,
        "interactions": interactions,
        "engagement_rate_pct": rate,
        "by_platform": dict(sorted(by_platform.items())),
        "best_post": {
            "id": best.id,
            "platform": best.platform,
            "text": best.text[:140],
            "interactions": engagement(best),
            "posted_at": best.posted_at.date().isoformat(),
        }
        if best
        else None,
    }
