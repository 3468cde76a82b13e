"""Marketing content assistant API under /api/content: posts, suggestions, captions, hashtags, performance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from blueprints._openapi import api_doc
from blueprints._web import api_user, parse_json, parse_query, roles_required
from extensions import db
from models._types import utcnow
from services.content import assistant as content
from services.content import data as content_data
from services.errors import ValidationFailed
from services.imports.posts_file import import_posts, sku_list
from services.review import acceptance

bp = Blueprint("content", __name__, url_prefix="/api/content")

Platform = Literal["instagram", "x", "linkedin", "facebook"]
Skus = list[str]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostBody(Body):
    platform: Platform
    text: str = Field(min_length=1, max_length=5000)
    posted_at: datetime
    media_description: str = Field(default="", max_length=5000)
    products: Skus = Field(default_factory=list, max_length=20)
    impressions: int = Field(default=0, ge=0)
    likes: int = Field(default=0, ge=0)
    comments: int = Field(default=0, ge=0)
    shares: int = Field(default=0, ge=0)
    clicks: int = Field(default=0, ge=0)
    draft_id: int | None = None


class PostQuery(Body):
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    platform: Platform | None = None
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=200)


class SuggestionBody(Body):
    platform: Platform = "instagram"
    day: date | None = Field(default=None, alias="date", description="today by default")
    occasion: str | None = Field(default=None, max_length=200)


class CaptionBody(Body):
    products: Skus = Field(min_length=1, max_length=5)
    media_description: str = Field(default="", max_length=2000)
    style: Literal["casual", "professional", "funny"] = "casual"
    platform: Platform = "instagram"
    notes: str | None = Field(default=None, max_length=1000)


class BatchCaptionItem(Body):
    products: Skus = Field(min_length=1, max_length=5)
    media_description: str = Field(default="", max_length=2000)
    notes: str | None = Field(default=None, max_length=1000)


class BatchCaptionsBody(Body):
    """Captions for many products at once: one provider batch (half price), answered by a background job."""

    items: list[BatchCaptionItem] = Field(min_length=1, max_length=100)
    style: Literal["casual", "professional", "funny"] = "casual"
    platform: Platform = "instagram"


class HashtagsBody(Body):
    products: Skus = Field(min_length=1, max_length=5)
    platform: Platform = "instagram"
    max_hashtags: int = Field(default=10, ge=1, le=30)
    caption: str | None = Field(default=None, max_length=3000)
    location: str | None = Field(default=None, max_length=200)


class PerformanceBody(Body):
    from_: date = Field(alias="from")
    to: date
    device_id: str | None = Field(default=None, max_length=64)


class MetricsQuery(Body):
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    group_by: Literal["feature", "prompt"] = "prompt"


@bp.get("/posts")
@api_doc(query=PostQuery)
def posts() -> Response:
    query = parse_query(PostQuery)
    return jsonify(content_data.list_posts(query.from_, query.to, query.platform, query.page, query.per_page))


@bp.post("/posts")
@api_doc(body=PostBody, status=201)
@roles_required("marketer")
def create_post() -> tuple[Response, int]:
    body = parse_json(PostBody)
    values = body.model_dump()
    values["products"] = sku_list(" ".join(body.products))
    post = content_data.create_post(values, api_user().id)
    db.session.commit()
    return jsonify(content_data.post_dict(post)), 201


@bp.post("/posts/import")
@api_doc(upload=True)
@roles_required("marketer")
def import_posts_file() -> Response:
    upload = next((f for f in request.files.values() if f.filename), None)
    if upload is None:
        raise ValidationFailed(
            "Send posts.csv as multipart/form-data", details=[{"field": "file", "reason": "no file uploaded"}]
        )
    report = import_posts(upload.stream, user_id=api_user().id)
    db.session.commit()
    return jsonify(report.as_dict())


@bp.post("/suggestion")
@api_doc(body=SuggestionBody, status=201)
@roles_required("marketer")
def suggestion() -> tuple[Response, int]:
    body = parse_json(SuggestionBody)
    result = content.suggest_post(body.platform, body.day or utcnow().date(), body.occasion, api_user())
    db.session.commit()
    return jsonify(result), 201


@bp.post("/caption")
@api_doc(body=CaptionBody, status=201)
@roles_required("marketer")
def caption() -> tuple[Response, int]:
    body = parse_json(CaptionBody)
    result = content.caption(body.products, body.media_description, body.style, body.platform, body.notes, api_user())
    db.session.commit()
    return jsonify(result), 201


@bp.post("/batch-captions")
@api_doc(body=BatchCaptionsBody, status=202)
@roles_required("marketer")
def batch_captions() -> tuple[Response, int]:
    body = parse_json(BatchCaptionsBody)
    items = [item.model_dump() for item in body.items]
    return jsonify(content.start_caption_batch(items, body.style, body.platform, api_user())), 202


@bp.get("/batches/<int:batch_id>")
@api_doc()
@roles_required("marketer")
def caption_batch(batch_id: int) -> Response:
    return jsonify(content.caption_batch(batch_id))


@bp.post("/hashtags")
@api_doc(body=HashtagsBody, status=201)
@roles_required("marketer")
def hashtags() -> tuple[Response, int]:
    body = parse_json(HashtagsBody)
    result = content.hashtags(body.products, body.platform, body.max_hashtags, body.caption, body.location, api_user())
    db.session.commit()
    return jsonify(result), 201


@bp.post("/performance")
@api_doc(body=PerformanceBody, status=201)
@roles_required("marketer")
def performance() -> tuple[Response, int]:
    body = parse_json(PerformanceBody)
    result = content.performance(body.from_, body.to, body.device_id, api_user())
    db.session.commit()
    return jsonify(result), 201


@bp.get("/acceptance-metrics")
@api_doc(query=MetricsQuery)
def acceptance_metrics() -> Response:
    query = parse_query(MetricsQuery)
    rows = acceptance.acceptance_metrics(query.from_, query.to, query.group_by)
    return jsonify({"group_by": query.group_by, "items": rows})
