"""What the monitoring endpoints return: one function per endpoint, each reading the ledger and the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app

from extensions import db
from services.ai import pipeline
from services.errors import ValidationFailed
from services.monitoring import usage as ledger
from services.monitoring.abtest import annotate
from services.monitoring.alerts import Alert, AlertMonitor
from services.monitoring.observers import ALERTS_KEY
from services.review.acceptance import acceptance_metrics


def _window(raw_from: str | None, raw_to: str | None, default_days: int = ledger.DEFAULT_DAYS) -> ledger.Window:
    return ledger.parse_window(
        raw_from, raw_to, int(current_app.config["MONITORING_MAX_DAYS"]), default_days=default_days
    )


def _sample_cap() -> int:
    return int(current_app.config["MONITORING_LATENCY_SAMPLES"])


def budget_today() -> dict[str, Any]:
    """Today's budget: the live counter (what enforcement sees, open reservations included) and the ledger."""
    snapshot = pipeline().costs.snapshot()
    day_start = datetime.fromisoformat(str(snapshot["day"])).replace(tzinfo=UTC)
    settled = ledger.ledger_spend(db.session(), day_start, day_start + timedelta(days=1))
    budget = float(snapshot["budget_usd"])
    spent = max(float(snapshot["spent_usd"]), settled)
    return {
        **snapshot,
        "ledger_spent_usd": round(settled, 8),
        "used_pct": round(100.0 * spent / budget, 2) if budget > 0 else None,
    }


def ai_usage(raw_from: str | None, raw_to: str | None, group_by: str) -> dict[str, Any]:
    """Usage figures of the window grouped by day, feature, model, tier or user, plus today's budget."""
    budget = float(pipeline().costs.daily_budget_usd)  # the budget the pipeline enforces
    report = ledger.usage(db.session(), _window(raw_from, raw_to), group_by, budget, _sample_cap())
    report["budget"] = budget_today()
    return report


def cache_stats(raw_from: str | None, raw_to: str | None) -> dict[str, Any]:
    """Live cache counters (since the counters began) and the ledger's cached calls per feature in the window."""
    llm = pipeline()
    stats = llm.cache.stats()
    by_feature = ledger.usage(db.session(), _window(raw_from, raw_to, default_days=1), "feature", 0.0, 1)
    return {
        **stats,
        "ttl_hours": round(llm.cache.ttl_s / 3600, 3),
        "ledger": {
            "from": by_feature["from"],
            "to": by_feature["to"],
            "requests": by_feature["totals"]["requests"],
            "cached": by_feature["totals"]["cached"],
            "cache_hit_rate": by_feature["totals"]["cache_hit_rate"],
            "by_feature": [
                {k: g[k] for k in ("key", "requests", "cached", "cache_hit_rate")} for g in by_feature["groups"]
            ],
        },
    }


def clear_cache(feature: str | None, tag: str | None, expired_only: bool, everything: bool) -> dict[str, Any]:
    """Invalidate exactly one scope: a feature, a tag, the expired entries, or (explicitly) everything."""
    scopes = [
        name
        for name, on in (("feature", feature), ("tag", tag), ("expired_only", expired_only), ("all", everything))
        if on
    ]
    if len(scopes) != 1:
        raise ValidationFailed(
            "Give exactly one of feature, tag, expired_only or all",
            details=[{"field": None, "reason": f"scopes given: {scopes or 'none'}"}],
        )
    removed = pipeline().cache.clear(feature=feature, tag=tag, expired_only=expired_only)
    return {"scope": scopes[0], "feature": feature, "tag": tag, "removed": removed}


REVIEW_COUNTS = ("generated", "approved", "used", "rejected", "pending")


def prompt_report(raw_from: str | None, raw_to: str | None) -> dict[str, Any]:
    """Per prompt version and variant: calls, cost, latency (ledger) and acceptance (reviewed drafts), with A/B."""
    window = _window(raw_from, raw_to, default_days=30)
    calls = ledger.prompt_usage(db.session(), window, _sample_cap())
    reviews: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in acceptance_metrics(window.start, window.end, group_by="prompt"):
        key = (row["prompt_name"], row["prompt_version"], row["variant"])
        merged = reviews.setdefault(key, _no_reviews())
        merged["features"].add(row["feature"])
        for name in REVIEW_COUNTS:
            merged[name] += row[name]
        if row["mean_edit_distance"] is not None:
            merged["_edits"].append((row["mean_edit_distance"], row["approved"] + row["used"]))
        merged["cost_usd"] += row["cost_usd"]
    rows = [
        _prompt_row(key, calls.get(key), reviews.get(key))
        for key in sorted({*calls, *reviews}, key=lambda k: (str(k[0]), k[1] if k[1] is not None else -1, str(k[2])))
    ]
    min_reviews = int(current_app.config["AB_MIN_REVIEWS"])
    return {**window.to_dict(), "min_reviews": min_reviews, "prompts": annotate(rows, min_reviews)}


def _no_reviews() -> dict[str, Any]:
    """A prompt version's review figures before any review is merged in."""
    return {"features": set(), **dict.fromkeys(REVIEW_COUNTS, 0), "_edits": [], "cost_usd": 0.0}


def _prompt_row(key: tuple[Any, ...], figures: ledger.Usage | None, review: dict[str, Any] | None) -> dict[str, Any]:
    name, version, variant = key
    usage = figures.to_dict() if figures is not None else None
    review = review or _no_reviews()
    accepted = review["approved"] + review["used"]
    reviewed = accepted + review["rejected"]
    edits = review["_edits"]
    weight = sum(n for _, n in edits)
    return {
        "prompt_name": name,
        "prompt_version": version,
        "variant": variant,
        "features": sorted((figures.features if figures else set()) | review["features"]),
        "calls": usage["requests"] if usage else 0,
        "cost_usd": usage["cost_usd"] if usage else 0.0,
        "latency_ms": usage["latency_ms"] if usage else {"p50": None, "p95": None, "p99": None},
        "cached": usage["cached"] if usage else 0,
        "fallbacks": usage["fallbacks"] if usage else 0,
        "fallback_rate": usage["fallback_rate"] if usage else 0.0,
        "generated": review["generated"],
        "approved": review["approved"],
        "used": review["used"],
        "rejected": review["rejected"],
        "pending": review["pending"],
        "reviewed": reviewed,
        "acceptance_pct": round(100.0 * accepted / reviewed, 2) if reviewed else None,
        "mean_edit_distance": round(sum(d * n for d, n in edits) / weight, 2) if weight else None,
        "review_cost_usd": round(review["cost_usd"], 8),
    }


def provider_report(minutes: int) -> dict[str, Any]:
    """Breaker state per configured provider and why recent calls fell back."""
    if not 1 <= minutes <= 7 * 24 * 60:
        raise ValidationFailed(
            "minutes must be between 1 and 10080", details=[{"field": "minutes", "reason": "out of range"}]
        )
    llm = pipeline()
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    return {
        "configured": current_app.config.get("LLM_PROVIDER"),
        "providers": llm.breaker_states(),
        "window_minutes": minutes,
        "error_kinds": ledger.recent_error_kinds(db.session(), since),
        "calls": ledger.recent_calls_by_provider(db.session(), since),
        "prices_effective": llm.prices.effective_date.isoformat(),
    }


def active_alerts() -> list[dict[str, Any]]:
    """Evaluate every alert now (new episodes are logged) and return the active ones."""
    monitor: AlertMonitor = current_app.extensions[ALERTS_KEY]
    alerts: list[Alert] = monitor.evaluate(db.session(), pipeline())
    return [a.to_dict() for a in alerts]
