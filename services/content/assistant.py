"""Content assistant: next-post suggestion, captions, hashtags and performance summaries, each stored as a draft.

Data in (posts, sales, catalogue: services/content/data.py) → pipeline (structured output, rule-based
fallback) → checks (platform limits, hashtag syntax, known products, numbers only from the figures) → draft.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any, Literal

from flask import current_app
from pydantic import BaseModel, Field, create_model

from extensions import db
from models import LLMBatch, User
from services import ai
from services.content import data, rules
from services.llm import ContextBlock, DataStructurer, FallbackAnswer, LLMResult
from services.review import generation
from services.review.generation import Feature, Finished, Params

Platform = Literal["instagram", "x", "linkedin", "facebook"]
Style = Literal["casual", "professional", "funny"]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
POST_TYPES = ("product_spotlight", "seasonal", "behind_the_scenes", "tip", "poll", "new_arrival")


# ---- output schemas (what the model must answer; the pipeline repairs or falls back otherwise) ----


class PostSuggestionOut(BaseModel):
    post_type: Literal["product_spotlight", "seasonal", "behind_the_scenes", "tip", "poll", "new_arrival"]
    suggestion: str = Field(min_length=1, max_length=3000, description="the ready-to-review post text")
    reasoning: str = Field(min_length=1, max_length=2000, description="why this post, now")
    recommended_time: str = Field(min_length=1, max_length=200, description="weekday and time window")
    recommended_products: list[str] = Field(default_factory=list, max_length=5, description="skus from the list")
    hashtags: list[str] = Field(default_factory=list, max_length=30)
    confidence: float = 0.7


class CaptionBase(BaseModel):
    caption: str
    character_count: int | None = None
    style: str = ""
    alt_text: str = Field(default="", max_length=500)
    confidence: float = 0.7


@cache
def caption_schema(platform: str) -> type[BaseModel]:
    """A caption schema whose caption field carries the platform's limit (too long → repair turn)."""
    limit = rules.PLATFORM_LIMITS[platform]
    return create_model(
        f"Caption_{platform}",
        __base__=CaptionBase,
        caption=(str, Field(min_length=1, max_length=limit, description=f"at most {limit} characters")),
    )


class HashtagsOut(BaseModel):
    hashtags: list[str] = Field(min_length=1, max_length=60)
    reasoning: str = ""
    confidence: float = 0.7


class ActionOut(BaseModel):
    action: str = Field(min_length=1, max_length=500)
    why: str = Field(default="", max_length=500)
    priority: Literal["high", "medium", "low"] = "medium"


class PerformanceOut(BaseModel):
    headline: str = Field(min_length=1, max_length=500)
    wins: list[str] = Field(default_factory=list, max_length=8)
    concerns: list[str] = Field(default_factory=list, max_length=8)
    actions: list[ActionOut] = Field(default_factory=list, max_length=6)
    confidence: float = 0.7


# ---- finishing: checks applied to AI and fallback output alike ----


def _finish_suggestion(out: BaseModel, params: Params) -> Finished:
    assert isinstance(out, PostSuggestionOut)
    known = set(params["known_skus"])
    products = [s for s in dict.fromkeys(out.recommended_products) if s in known]
    unknown = [s for s in out.recommended_products if s not in known]
    tags, dropped = rules.clean_hashtags(out.hashtags, params.get("max_hashtags", 10))
    limit = rules.PLATFORM_LIMITS[params["platform"]]
    body, trimmed = rules.trim_to_limit(out.suggestion, limit - (len(" ".join(tags)) + 2 if tags else 0))
    flags: list[dict[str, Any]] = []
    if unknown:
        flags.append(
            {
                "kind": "unknown_product",
                "text": ", ".join(unknown),
                "reason": "recommended products that are not in the catalogue were removed",
            }
        )
    if trimmed:
        flags.append({"kind": "trimmed", "text": "", "reason": f"cut to the {params['platform']} limit"})
    text = f"{body}\n\n{' '.join(tags)}" if tags else body
    output = {
        "post_type": out.post_type,
        "suggestion": body,
        "reasoning": out.reasoning,
        "recommended_time": out.recommended_time,
        "recommended_products": products,
        "hashtags": tags,
        "dropped_hashtags": dropped,
        "platform": params["platform"],
    }
    return Finished(text, output, flags, bool(flags), 0.6 if unknown else 1.0)


def _finish_caption(out: BaseModel, params: Params) -> Finished:
    assert isinstance(out, CaptionBase)
    limit = rules.PLATFORM_LIMITS[params["platform"]]
    caption, trimmed = rules.trim_to_limit(out.caption, limit)
    flags = (
        [{"kind": "trimmed", "text": "", "reason": f"cut at a sentence boundary to {limit} characters"}]
        if trimmed
        else []
    )
    output = {
        "caption": caption,
        "character_count": len(caption),
        "max_chars": limit,
        "platform": params["platform"],
        "style": params["style"],
        "alt_text": out.alt_text,
        "trimmed": trimmed,
    }
    return Finished(caption, output, flags, bool(flags), 0.6 if trimmed else 1.0)


def _finish_hashtags(out: BaseModel, params: Params) -> Finished:
    assert isinstance(out, HashtagsOut)
    limit = params["max_hashtags"]
    tags, dropped = rules.clean_hashtags(out.hashtags, limit)
    words = rules.topic_words([*params["names"], *params["categories"]])
    flags: list[dict[str, Any]] = []
    if not any(rules.is_relevant(t, words) for t in tags):
        # Nothing names the product or its category: lead with the rule-based ones so the set stays on topic.
        own = rules.rule_hashtags(params["names"], params["categories"], params["platform"], 2)
        tags, more = rules.clean_hashtags([*own, *tags], limit)
        dropped += more
        flags.append({"kind": "off_topic", "text": "", "reason": "no tag named the product or category; added"})
    output = {
        "hashtags": tags,
        "count": len(tags),
        "max_hashtags": limit,
        "dropped": dropped,
        "reasoning": out.reasoning,
    }
    return Finished(" ".join(tags), output, flags, bool(flags), 0.6 if flags else 1.0)


def _finish_performance(out: BaseModel, params: Params) -> Finished:
    assert isinstance(out, PerformanceOut)
    figures = params["figures"]
    allowed = rules.allowed_numbers([figures, params.get("context_numbers", [])])
    texts = [out.headline, *out.wins, *out.concerns, *(f"{a.action} {a.why}" for a in out.actions)]
    unverified = rules.unverified_numbers(" ".join(texts), allowed)
    flags = [
        {"kind": "unverified_number", "text": n, "reason": "this number is not one of the computed figures"}
        for n in unverified
    ]
    lines = [out.headline]
    for title, items in (("What went well", out.wins), ("Needs attention", out.concerns)):
        if items:
            lines += ["", f"{title}:", *(f"- {item}" for item in items)]
    if out.actions:
        lines += [
            "",
            "Next steps:",
            *(f"- [{a.priority}] {a.action}" + (f" ({a.why})" if a.why else "") for a in out.actions),
        ]
    output = {
        **out.model_dump(mode="json", exclude={"confidence"}),
        "figures": figures,
        "unverified_numbers": unverified,
    }
    return Finished("\n".join(lines), output, flags, bool(flags), 0.5 if flags else 1.0)


FEATURES: dict[str, Feature] = {
    "post_suggestion": Feature(
        "post_suggestion",
        lambda p: "content_suggestion",
        lambda p: PostSuggestionOut,
        _finish_suggestion,
        paraphrase=("occasion",),
    ),
    "caption": Feature(
        "caption",
        lambda p: "caption",
        lambda p: caption_schema(p["platform"]),
        _finish_caption,
        paraphrase=("media_description", "notes"),
    ),
    "hashtags": Feature(
        "hashtags", lambda p: "hashtags", lambda p: HashtagsOut, _finish_hashtags, paraphrase=("caption",)
    ),
    "performance_analysis": Feature(
        "performance_analysis", lambda p: "performance_analysis", lambda p: PerformanceOut, _finish_performance
    ),
}


# ---- the four features ----


@generation.reads_before_call
def suggest_post(platform: str, today: date, occasion: str | None, user: User) -> dict[str, Any]:
    """The next post to publish, from the last 7 days of posts, sales trends and the queue."""
    posts = data.recent_posts(today)
    top = data.product_sales(today)
    trends = data.category_trends(today)
    queue = data.queue()
    history = data.recent_posts(today, days=90)
    slot = data.best_posting_slot(history)
    best_time = (
        f"{WEEKDAYS[slot[0]]} {slot[1]:02d}:00-{(slot[1] + 1) % 24:02d}:00 (best engagement so far)"
        if slot
        else "weekday 12:00-13:00 (lunch break; no engagement history yet)"
    )
    variables: dict[str, Any] = {
        "platform": platform,
        "today": f"{today.isoformat()} ({WEEKDAYS[today.weekday()]})",
        "products": _lines(
            f"{p['sku']} | {p['name']} | {p['category']} | {p['units']} units last 14 days | "
            f"{_pct(p['change_pct'])} vs the 14 days before"
            for p in top
        )
        or "no sales recorded",
        "trending_categories": _lines(f"{c['category']}: {c['units']} units, {_pct(c['growth_pct'])}" for c in trends)
        or "no sales recorded",
        "recent_posts": _lines(_post_line(p) for p in posts) or "no posts in the last 7 days",
        # Only the approved queue: the count of drafts waiting changes with every draft and would make
        # every suggestion a cache miss without changing what to post next.
        "queue": _lines(f"approved, not yet published: {q['text']}" for q in queue["approved"])
        or "nothing approved waiting to be published",
        "best_time_hint": best_time,
        "brand_voice": _config("CONTENT_BRAND_VOICE") or "friendly",
    }
    if occasion:
        variables["occasion"] = occasion
    params = {
        "platform": platform,
        "today": today.isoformat(),
        "known_skus": [p["sku"] for p in top],
        "max_hashtags": 10,
    }

    def fallback(_: Mapping[str, Any]) -> FallbackAnswer:
        return FallbackAnswer(data=_rule_suggestion(top, trends, posts, platform, best_time), confidence=0.3)

    return _generate(FEATURES["post_suggestion"], params, variables, fallback, user)


@generation.reads_before_call
def caption(
    skus: Sequence[str], media_description: str, style: str, platform: str, notes: str | None, user: User
) -> dict[str, Any]:
    """A caption for the products and the media, in the style and within the platform's limit."""
    params, variables, fallback = _caption_call(skus, media_description, style, platform, notes)
    return _generate(FEATURES["caption"], params, variables, fallback, user)


def _caption_call(
    skus: Sequence[str], media_description: str, style: str, platform: str, notes: str | None
) -> tuple[Params, dict[str, Any], Callable[[Any], FallbackAnswer]]:
    """A caption's params, prompt variables and rule-based fallback (one request or one item of a batch)."""
    products = data.products_by_sku(skus)
    ordered = [products[s] for s in skus]
    names, categories = [p.name for p in ordered], list(dict.fromkeys(p.category for p in ordered))
    limit = rules.PLATFORM_LIMITS[platform]
    variables: dict[str, Any] = {
        "product_name": ", ".join(names),
        "platform": platform,
        "style": style,
        "max_chars": limit,
        "product_description": _lines(f"{p.name} ({p.category}, {p.price:.2f})" for p in ordered),
    }
    if media_description.strip():
        variables["media_description"] = media_description.strip()
    if notes:
        variables["notes"] = notes
    params = {"platform": platform, "style": style, "skus": list(skus)}

    def fallback(_: Mapping[str, Any]) -> FallbackAnswer:
        text = rules.rule_caption(names, categories, style, limit)
        alt = f"Photo of {', '.join(names)}" + (f": {media_description.strip()}" if media_description.strip() else "")
        return FallbackAnswer(
            data={
                "caption": text,
                "character_count": len(text),
                "style": style,
                "alt_text": alt[:500],
                "confidence": 0.3,
            },
            confidence=0.3,
        )

    return params, variables, fallback


# ---- bulk captions: one provider batch at half price, answered by a background job ----

CAPTION_BATCH = "captions"
CAPTION_BATCH_JOB = "services.content.assistant.run_caption_batch"


def start_caption_batch(items: Sequence[Mapping[str, Any]], style: str, platform: str, user: User) -> dict[str, Any]:
    """Queue captions for many products (each item: products, media_description, notes) as one batch job."""
    data.products_by_sku([sku for item in items for sku in item["products"]])  # unknown skus: 422, nothing queued
    params = {"style": style, "platform": platform, "items": [dict(item) for item in items]}
    return ai.batch_dict(ai.start_batch(CAPTION_BATCH, params, user.id, CAPTION_BATCH_JOB))


def caption_batch(batch_id: int) -> dict[str, Any]:
    """A caption batch's status and, per item, its draft, whether AI or the fallback answered, and why."""
    return ai.batch_dict(ai.get_batch(batch_id, CAPTION_BATCH))


def run_caption_batch(batch_id: int) -> None:
    """The background job of a caption batch (services/ai.py:run_batch does the provider part)."""
    ai.run_batch(batch_id, _caption_batch_calls, _store_batch_caption, CAPTION_BATCH_JOB)


def _caption_batch_calls(row: LLMBatch) -> dict[str, ai.BatchCall]:
    """The same pipeline call per item as POST /caption makes, so batch answers fill the same cache."""
    feature, style, platform = FEATURES["caption"], row.params["style"], row.params["platform"]
    calls = {}
    for index, item in enumerate(row.params["items"]):
        params, variables, fallback = _caption_call(
            item["products"], item.get("media_description") or "", style, platform, item.get("notes")
        )
        spec = generation.spec(feature, params, variables, fallback, row.requested_by_id)
        calls[f"item-{index}"] = ai.BatchCall(spec, (params, variables, fallback))
    return calls


def _store_batch_caption(row: LLMBatch, custom_id: str, call: ai.BatchCall, result: LLMResult) -> dict[str, Any]:
    """Check the answer like an interactive caption and keep it as a draft; the batch lists the outcome."""
    params, variables, fallback = call.extra
    feature = FEATURES["caption"]
    generated = generation.check(feature, params, variables, fallback, result)
    draft = generation.store_for(feature, generated, params, variables, row.requested_by_id)
    db.session.flush()
    return {
        "draft_id": draft.id,
        "products": params["skus"],
        "text": generated.finished.text,
        "status": result.status,
        "batch": result.batch,
        "fallback_used": result.fallback_used,
        "fallback_reason": result.fallback_reason,
        "error_kind": result.error_kind,
        "model": result.model,
        "cost_usd": result.cost_usd,
        "request_id": result.request_id,
    }


@generation.reads_before_call
def hashtags(
    skus: Sequence[str], platform: str, max_hashtags: int, caption_text: str | None, location: str | None, user: User
) -> dict[str, Any]:
    """Up to `max_hashtags` (≤ 30) valid, distinct hashtags relevant to the products and their category."""
    products = data.products_by_sku(skus)
    ordered = [products[s] for s in skus]
    names, categories = [p.name for p in ordered], list(dict.fromkeys(p.category for p in ordered))
    limit = min(max_hashtags, rules.MAX_HASHTAGS)
    variables: dict[str, Any] = {
        "product_name": ", ".join(names),
        "platform": platform,
        "max_hashtags": limit,
        "product_description": _lines(f"{p.name} (category: {p.category})" for p in ordered),
    }
    if caption_text:
        variables["caption"] = caption_text
    if location:
        variables["location"] = location
    params = {"platform": platform, "max_hashtags": limit, "skus": list(skus), "names": names, "categories": categories}

    def fallback(_: Mapping[str, Any]) -> FallbackAnswer:
        tags = rules.rule_hashtags(names, categories, platform, limit, location)
        return FallbackAnswer(
            data={"hashtags": tags, "reasoning": "Product, category and broad vending tags.", "confidence": 0.3},
            confidence=0.3,
        )

    return _generate(FEATURES["hashtags"], params, variables, fallback, user)


@generation.reads_before_call
def performance(start: date, end: date, device_id: str | None, user: User) -> dict[str, Any]:
    """Sales and post figures for a period (computed here), then a summary with recommendations."""
    figures = data.period_figures(start, end, device_id)
    variables: dict[str, Any] = {
        "device_name": device_id or "all machines",
        "period": f"{start.isoformat()} to {end.isoformat()} ({figures['period']['days']} days); previous period "
        f"{figures['previous_period']['from']} to {figures['previous_period']['to']}",
        "metrics": _json(
            {k: figures[k] for k in ("sales", "sales_previous", "revenue_change_pct", "units_change_pct", "categories")}
        ),
        "top_products": _json(figures["top_products"]),
        "bottom_products": _json(figures["bottom_products"]) if figures["bottom_products"] else "none",
        "posts": _json({"posts": figures["posts"], "featured_products": figures["featured_products"]}),
    }
    context = _machine_context(device_id, start, end) if device_id else ()
    params = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "device_id": device_id,
        "figures": figures,
        # Figures the layout and baskets show: quoting them is not inventing numbers.
        "context_numbers": sorted(
            {str(n) for n in rules.allowed_numbers([" ".join((b.header, *b.lines)) for b in context])}
        ),
    }

    def fallback(_: Mapping[str, Any]) -> FallbackAnswer:
        return FallbackAnswer(data=_rule_performance(figures), confidence=0.3)

    return _generate(FEATURES["performance_analysis"], params, variables, fallback, user, context)


def _machine_context(device_id: str, start: date, end: date) -> tuple[ContextBlock, ...]:
    """One machine's layout (essential: cut by rows, never dropped) and its baskets (history: cut first),
    fitted by the pipeline into the routed tier's context budget, however large the machine."""
    structurer = DataStructurer()
    return (
        structurer.planogram(data.device_layout(device_id, start, end)),
        structurer.baskets(data.period_vends(device_id, start, end)),
    )


def _generate(
    feature: Feature,
    params: Params,
    variables: dict[str, Any],
    fallback: Any,
    user: User,
    context: Sequence[ContextBlock] = (),
) -> dict[str, Any]:
    generated = generation.run(feature, params, variables, fallback, user, context=context)
    draft = generation.store(feature, generated, params, variables, user)
    return generation.response(generated, draft)


# ---- rule-based fallbacks ----


def _rule_suggestion(
    top: list[dict[str, Any]], trends: list[dict[str, Any]], posts: Sequence[Any], platform: str, best_time: str
) -> PostSuggestionOut:
    featured = {sku for p in posts for sku in (p.products or [])}
    rising = sorted(top, key=lambda p: (-(p["change_pct"] or 0), -p["units"], p["sku"]))
    pick = next((p for p in rising if p["sku"] not in featured), rising[0] if rising else None)
    if pick is None:
        return PostSuggestionOut(
            post_type="behind_the_scenes",
            suggestion="Ever wondered how our machines stay stocked? "
            "A quick look at a refill round, from the van to the coil.",
            reasoning="No sales data yet, so a behind-the-scenes post that needs no product figures.",
            recommended_time=best_time,
            recommended_products=[],
            hashtags=rules.rule_hashtags([], [], platform, 5),
            confidence=0.3,
        )
    limit = rules.PLATFORM_LIMITS[platform]
    text = rules.rule_caption([pick["name"]], [pick["category"]], "casual", limit)
    trend = trends[0]["category"] if trends else pick["category"]
    reason = (
        f"{pick['name']} sold {pick['units']} units in the last 14 days "
        f"({_pct(pick['change_pct'])}) and has not been featured in the last 7 days; "
        f"{trend} is the fastest-growing category."
    )
    return PostSuggestionOut(
        post_type="product_spotlight",
        suggestion=text,
        reasoning=reason,
        recommended_time=best_time,
        recommended_products=[pick["sku"]],
        hashtags=rules.rule_hashtags([pick["name"]], [pick["category"]], platform, 6),
        confidence=0.3,
    )


def _rule_performance(figures: Mapping[str, Any]) -> PerformanceOut:
    sales, posts = figures["sales"], figures["posts"]
    change = figures["revenue_change_pct"]
    headline = f"Revenue was {sales['revenue']:.2f} from {sales['units']} units" + (
        f" ({_pct(change)} against the previous period)." if change is not None else "."
    )
    wins, concerns = [], []
    if figures["top_products"]:
        best = figures["top_products"][0]
        wins.append(f"{best['name']} led with {best['units']} units and {best['revenue']:.2f} revenue.")
    for item in figures["featured_products"]:
        if item["change_pct"] is not None and item["change_pct"] > 0:
            wins.append(f"{item['sku']}, featured in posts, sold {item['units']} units ({_pct(item['change_pct'])}).")
    if change is not None and change < 0:
        concerns.append(f"Revenue fell {abs(change)}% against the previous period.")
    if posts["count"] == 0:
        concerns.append("No posts were published in this period.")
    if figures["bottom_products"]:
        worst = figures["bottom_products"][0]
        concerns.append(f"{worst['name']} sold only {worst['units']} units.")
    actions = [ActionOut(action="Feature the best seller in the next post", why="it already sells", priority="medium")]
    if figures["bottom_products"]:
        actions.append(
            ActionOut(
                action="Review the slowest product at the next service visit",
                why="it takes space a better seller could use",
                priority="low",
            )
        )
    return PerformanceOut(headline=headline, wins=wins[:8], concerns=concerns[:8], actions=actions, confidence=0.3)


# ---- small helpers ----


def _lines(items: Any) -> str:
    return "\n".join(items)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _pct(value: float | None) -> str:
    return "new" if value is None else f"{value:+.1f}%"


def _post_line(post: Any) -> str:
    day = post.posted_at
    return (
        f"{day.date().isoformat()} {WEEKDAYS[day.weekday()][:3]} {day.hour:02d}:00 | {post.platform} | "
        f"products: {', '.join(post.products or []) or '-'} | {post.text[:160]!r} | "
        f"{post.impressions} impressions, {post.likes} likes, {post.comments} comments, {post.shares} shares"
    )


def _config(name: str) -> Any:
    return current_app.config.get(name)
