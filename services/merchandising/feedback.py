"""Optional AI feedback on one drag-and-drop placement: the engine scores, the fast tier explains (cached)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services import ai
from services.llm import PromptError
from services.merchandising import analysis
from services.merchandising.data import load_device

log = logging.getLogger("planogram.feedback")
FEATURE = "placement_feedback"
LABEL = "Rule-based feedback (no AI was used):"
Verdict = Literal["good", "acceptable", "poor"]


class PlacementFeedback(BaseModel):
    """What the placement_feedback prompt asks the model to reply."""

    model_config = ConfigDict(extra="ignore")

    verdict: Verdict
    feedback: str = Field(min_length=1)
    better_slots: list[str] = Field(default_factory=list)
    confidence: float | None = Field(default=None, ge=0, le=1)


def verdict_of(score: Mapping[str, Any]) -> Verdict:
    """Poor on any hard rule break; otherwise by the engine's 0-100 score."""
    if any(v.get("severity") == "hard" for v in score.get("violations", [])):
        return "poor"
    value = score.get("score") or 0
    return "good" if value >= 70 else "acceptable" if value >= 40 else "poor"


def rule_based(score: Mapping[str, Any], product_name: str) -> dict[str, Any]:
    """Feedback from the engine's own reasons and violations, labelled as not written by AI."""
    verdict = verdict_of(score)
    sentences = [f"{LABEL} placing {product_name} in {score['slot']} is {verdict} (score {score['score']}/100)."]
    hard = [v["message"] for v in score.get("violations", []) if v.get("severity") == "hard"]
    reasons = sorted(score.get("reasons", []), key=lambda r: -abs(r.get("impact") or 0.0))
    if hard:
        sentences.append(hard[0].rstrip(".") + ".")
    elif reasons:
        sentences.append(str(reasons[0]["message"]).rstrip(".") + ".")
    return {"verdict": verdict, "feedback": " ".join(sentences), "better_slots": [], "confidence": 0.3}


def _variables(score: Mapping[str, Any], product_name: str) -> dict[str, Any]:
    reasons = "\n".join(f"- {r['kind']}: {r['message']}" for r in score.get("reasons", [])) or "none"
    violations = (
        "\n".join(f"- {v['severity']} {v['rule_id']}: {v['message']}" for v in score.get("violations", [])) or "none"
    )
    out: dict[str, Any] = {
        "product_name": product_name,
        "sku": score["sku"],
        "slot": score["slot"],
        "score": score["score"],
        "reasons": reasons,
        "violations": violations,
    }
    if score.get("delta_revenue_per_day") is not None:
        out["delta_revenue_per_day"] = f"{score['delta_revenue_per_day']:+.2f}"
    return out


def placement_feedback(
    device_id: str, sku: str, slot: str, mapping: Mapping[str, str | None] | None, user_id: str
) -> dict[str, Any]:
    """Score the drop (404/422 as realtime-score), then a short explanation: AI, cached or rule-based."""
    score = analysis.realtime_score(device_id, sku, slot, mapping)
    product = load_device(device_id).products[sku]
    fallback = rule_based(score, product.name)
    llm = ai.pipeline()
    base = {
        "device_id": device_id,
        "sku": sku,
        "slot": slot,
        "score": score["score"],
        "provider_configured": llm.executor is not None,
    }
    try:
        result = llm.run(
            FEATURE,
            FEATURE,
            _variables(score, product.name),
            PlacementFeedback,
            lambda _variables: fallback,
            user_id=user_id,
            tags=(f"device:{device_id}",),
        )
    except PromptError:
        log.exception("placement_feedback prompt unusable; rule-based feedback instead")
        return {
            **base,
            "feedback": fallback["feedback"],
            "verdict": fallback["verdict"],
            "fallback_used": True,
            "fallback_reason": "prompt",
            "cached": False,
            "model": None,
            "tokens_in": 0,
            "tokens_out": 0,
            "tier": None,
            "request_id": None,
            "cost_usd": 0.0,
        }
    data = result.data if isinstance(result.data, PlacementFeedback) else None
    return {
        **base,
        "feedback": data.feedback if data else result.text,
        "verdict": data.verdict if data else fallback["verdict"],
        "fallback_used": result.fallback_used,
        "fallback_reason": result.fallback_reason,
        "cached": result.cached,
        "model": result.model,
        "tokens_in": result.tokens_in,
        "tokens_out": result.tokens_out,
        "tier": result.tier,
        "request_id": result.request_id or None,
        "cost_usd": result.cost_usd,
    }
