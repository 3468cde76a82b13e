"""Scripted replies per prompt family: valid JSON in each feature's output schema, built from the prompt.

The fake provider recognises a prompt family by the reply shape its system prompt asks for (the
`Reply with one JSON object` block of prompts/*.yaml) and answers with a reply that passes that feature's
own checks: the platform limit, on-topic hashtags, known SKUs, only numbers quoted from the figures, no
promises in an email, the engine's before/after figures. They are scripted test texts, never real AI;
the server reports them under a model name starting with "fake-" (see `FakeLLMServer(model_prefix=)`).

`invalid_reply(kind)` gives the configurable invalid ones for failure-path tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

InvalidKind = Literal["malformed", "schema", "prose"]
INVALID_KINDS: tuple[InvalidKind, ...] = ("malformed", "schema", "prose")
_INVALID: dict[InvalidKind, str] = {
    "malformed": '{"answer": "this object never closes", "confidence": 0.9',
    "schema": '{"answer": "valid JSON, but none of the fields the schema asks for", "confidence": 0.9}',
    "prose": "Sure! Here is my answer in plain words, without the JSON object you asked for.",
}


def invalid_reply(kind: InvalidKind) -> str:
    """A reply that fails every feature's schema: broken JSON, the wrong fields, or prose."""
    return _INVALID[kind]


def reply_for(system: str, user: str) -> str | None:
    """A valid scripted reply for the prompt family of `system`, or None for an unknown prompt."""
    for marker, build in _FAMILIES:
        if marker in system:
            return json.dumps(build(_Prompt(system, user)), ensure_ascii=False)
    return None


def family_of(system: str) -> str | None:
    """The prompt family's name (tests and the call log), or None."""
    for marker, build in _FAMILIES:
        if marker in system:
            return build.__name__.removeprefix("_")
    return None


class _Prompt:
    """Field lookups in a rendered user prompt ("Label: value" lines and indented blocks)."""

    def __init__(self, system: str, user: str) -> None:
        self.system = system
        self.user = user

    def line(self, label: str, default: str = "") -> str:
        """The value after `label:` on its own line."""
        match = re.search(rf"^{re.escape(label)}:[ \t]*(.+)$", self.user, re.MULTILINE)
        return match.group(1).strip() if match else default

    def block(self, label: str) -> str:
        """The lines after a `label…:` heading up to the next blank line."""
        match = re.search(rf"^{re.escape(label)}[^\n]*:\n(.*?)(?:\n\s*\n|\Z)", self.user, re.MULTILINE | re.DOTALL)
        return match.group(1).strip() if match else ""

    def json_block(self, label: str) -> Any:
        """A JSON value printed after a heading (None when absent or not JSON)."""
        try:
            return json.loads(self.block(label))
        except ValueError:
            return None


def _camel(text: str) -> str:
    words = [w for w in re.split(r"[^\w]+", text) if w and w != "_"]
    return "#" + "".join(w[:1].upper() + w[1:] for w in words[:3]) if words else ""


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"


# ---- content -------------------------------------------------------------------------------------


def _caption(p: _Prompt) -> dict[str, Any]:
    product = p.line("Product", "our snacks")
    limit_match = re.search(r"character limit: (\d+)", p.line("Platform"))
    limit = int(limit_match.group(1)) if limit_match else 280
    style = p.line("Style", "casual")
    style = style if style in ("casual", "professional", "funny") else "casual"
    text = {
        "casual": f"Break time sorted: {product} is waiting in the machine, no queue needed.",
        "professional": f"{product}: a quick, reliable break, ready at your nearest machine.",
        "funny": f"Plot twist: the best meeting of the day is you and {product} at the machine.",
    }[style]
    caption = _fit(text, limit)
    return {
        "caption": caption,
        "character_count": len(caption),
        "style": style,
        "alt_text": f"Photo of {product} in a vending machine.",
        "confidence": 0.86,
    }


def _hashtags(p: _Prompt) -> dict[str, Any]:
    count = int(p.line("Maximum number of hashtags", "5") or 5)
    products = [n.strip() for n in p.line("Product").split(",") if n.strip()]
    categories = re.findall(r"\(category: ([^)]+)\)", p.block("Product details"))
    candidates = [
        *(_camel(n) for n in products),
        *(_camel(c) for c in categories),
        *(_camel(f"{c} time") for c in categories),
        "#VendingMachine",
        "#SnackTime",
        "#GrabAndGo",
        "#BreakTime",
        "#TreatYourself",
    ]
    tags = list(dict.fromkeys(t for t in candidates if len(t) > 1))[: max(count, 1)]
    return {
        "hashtags": tags,
        "reasoning": "The product and its category first, then broad vending tags.",
        "confidence": 0.84,
    }


def _post_suggestion(p: _Prompt) -> dict[str, Any]:
    rows = [r.split("|") for r in p.block("Top products by recent sales").splitlines() if r.count("|") >= 3]
    sku, name, category = (rows[0][0].strip(), rows[0][1].strip(), rows[0][2].strip()) if rows else ("", "", "")
    if not sku:
        return {
            "post_type": "behind_the_scenes",
            "suggestion": "A quick look at a refill round, from van to coil.",
            "reasoning": "No product figures were given, so a post that needs none.",
            "recommended_time": p.line("Best posting time so far", "weekday 12:00-13:00"),
            "recommended_products": [],
            "hashtags": ["#VendingMachine"],
            "confidence": 0.7,
        }
    return {
        "post_type": "product_spotlight",
        "suggestion": f"{name} is one of this fortnight's favourites at our machines. Grab one on your next break!",
        "reasoning": f"{name} is at the top of the recent sales list ({rows[0][3].strip()}).",
        "recommended_time": p.line("Best posting time so far", "weekday 12:00-13:00"),
        "recommended_products": [sku],
        "hashtags": [_camel(name), _camel(category), "#VendingMachine"],
        "confidence": 0.82,
    }


def _performance(p: _Prompt) -> dict[str, Any]:
    """Quotes figures verbatim from the JSON blocks, so the number check finds nothing invented."""
    metrics = p.json_block("Sales metrics") or {}
    top = p.json_block("Top products") or []
    bottom = p.json_block("Bottom products") or []
    sales = metrics.get("sales") or {}
    headline = "Sales for the period are summarised below."
    if "revenue" in sales and "units" in sales:
        headline = f"Revenue was {sales['revenue']} from {sales['units']} units in this period."
    wins = [f"{top[0]['name']} led with {top[0]['units']} units."] if top and "name" in top[0] else []
    concerns = (
        [f"{bottom[0]['name']} sold least ({bottom[0]['units']} units)."] if bottom and "name" in bottom[0] else []
    )
    actions = (
        [{"action": f"Publish a post featuring {top[0]['name']}", "why": "it is the best seller", "priority": "high"}]
        if wins
        else []
    )
    if concerns:
        actions.append(
            {
                "action": f"Review {bottom[0]['name']} at the next service visit",
                "why": "it is the slowest line",
                "priority": "medium",
            }
        )
    return {"headline": headline, "wins": wins, "concerns": concerns, "actions": actions, "confidence": 0.8}


# ---- email ---------------------------------------------------------------------------------------

_EMAIL_MIDDLE = {
    "customer complaints": (
        "We are sorry that the machine let you down. Our team is looking into what "
        "happened and will check the machine's vend log for your purchase.",
        "negative",
    ),
    "refund and return requests": (
        "We have your request and our team will review it under our refund "
        "policy. If anything is missing, we will ask you for it.",
        "negative",
    ),
    "customer questions": (
        "Thank you for your question. Our team will look into it and reply with a full answer.",
        "neutral",
    ),
}


def _email_reply(p: _Prompt) -> dict[str, Any]:
    company = p.line("Company", "The vending team")
    tone = p.line("Requested tone", "professional")
    middle, sentiment = next(
        (v for k, v in _EMAIL_MIDDLE.items() if k in p.system), _EMAIL_MIDDLE["customer questions"]
    )
    body = f"Hello [CUSTOMER_NAME],\n\n{middle}\n\nKind regards,\n{company}"
    return {
        "subject": f"Re: your message to {company}",
        "body": body,
        "tone": tone if tone in ("friendly", "professional", "apologetic", "empathetic") else "professional",
        "suggested_actions": [
            "Check the machine's vend log for the reported time",
            "Reply to the customer once the check is done",
        ],
        "needs_human_review": False,
        "sentiment": sentiment,
        "confidence": 0.83,
    }


# ---- planogram -----------------------------------------------------------------------------------

_CHANGE = re.compile(r"^(\S+): (.+?) → (.+?); value of this change ([+-][\d.]+) per day$", re.MULTILINE)
_SKU = re.compile(r"\(([^()]+)\)\s*$")


def _sku(product: str) -> str | None:
    match = _SKU.search(product)
    return match.group(1) if match else None if product == "empty" else product


def _figures(p: _Prompt, label: str) -> tuple[float | None, float | None]:
    match = re.search(rf"^{label}: ([\d.-]+) → ([\d.-]+)", p.user, re.MULTILINE)
    return (float(match.group(1)), float(match.group(2))) if match else (None, None)


def _optimization(p: _Prompt) -> dict[str, Any]:
    changes = _CHANGE.findall(p.user)
    revenue, margin = _figures(p, "revenue per day"), _figures(p, "margin per day")
    objective = p.line("Primary objective", "revenue")
    counted = re.search(r"^slots changed: (\d+ of \d+)", p.user, re.MULTILINE)  # the engine's count, not ours
    summary = (
        (
            f"The optimiser changes {counted.group(1) if counted else len(changes)} slots of "
            f"{p.line('Device', 'this machine')} to raise its {objective}. "
            "The biggest gains come from the first changes listed."
        )
        if changes
        else "The optimiser found no better layout, so nothing changes."
    )
    return {
        "summary": summary,
        "objectives": [
            {
                "name": "revenue",
                "before": revenue[0],
                "after": revenue[1],
                "explanation": "Revenue per day as computed by the engine.",
            },
            {
                "name": "margin",
                "before": margin[0],
                "after": margin[1],
                "explanation": "Margin per day as computed by the engine.",
            },
        ],
        "key_changes": [
            {
                "slot": slot,
                "from_sku": _sku(before),
                "to_sku": _sku(after),
                "reason": f"worth {value} per day on its own",
            }
            for slot, before, after, value in changes[:5]
        ],
        "trade_offs": ["More changed slots mean a longer service visit."] if changes else [],
        "risks": ["Check on site that every new product fits its slot."] if changes else [],
        "confidence": 0.85,
    }


def _placement(p: _Prompt) -> dict[str, Any]:
    score = int(float(p.line("Engine score", "0").split("/")[0] or 0))
    hard = "\n- hard" in "\n" + p.block("Rule violations")
    verdict = "poor" if hard or score < 40 else "good" if score >= 70 else "acceptable"
    product = p.line("Product", "This product")
    why = "it breaks a hard rule" if hard else "of the engine's reasons above"
    return {
        "verdict": verdict,
        "feedback": f"Placing {product} in {p.line('Slot', 'this slot')} is {verdict}, because {why}.",
        "better_slots": [],
        "confidence": 0.8,
    }


def _anomalies(p: _Prompt) -> dict[str, Any]:
    return {
        "summary": "The detector's findings need a check on the next visit.",
        "anomalies": [],
        "machine_level_issue": False,
        "confidence": 0.6,
    }


def _patterns(p: _Prompt) -> dict[str, Any]:
    return {
        "patterns": [],
        "outliers": [],
        "recommendations": ["Compare machines of the same venue type."],
        "confidence": 0.5,
    }


def _scenarios(p: _Prompt) -> dict[str, Any]:
    return {
        "summary": "The simulated figures decide; none is invented here.",
        "scenarios": [],
        "recommendation": {
            "scenario": "keep the current planogram",
            "why": "no scenario was compared",
            "measure_after": ["revenue per day"],
        },
        "confidence": 0.5,
    }


def _merchandising(p: _Prompt) -> dict[str, Any]:
    return {
        "overall_assessment": "Best sellers belong in the eye-level rows.",
        "principles_applied": ["eye-level placement"],
        "suggestions": [],
        "confidence": 0.5,
    }


# Most specific first: the post suggestion also asks for "hashtags".
_FAMILIES: tuple[tuple[str, Callable[[_Prompt], dict[str, Any]]], ...] = (
    ('{"post_type":', _post_suggestion),
    ('{"caption": string', _caption),
    ('{"hashtags": [string', _hashtags),
    ('{"headline": string', _performance),
    ('{"subject": string, "body": string', _email_reply),
    ('"objectives": [{"name":', _optimization),
    ('{"verdict":', _placement),
    ('"anomalies": [{"sku":', _anomalies),
    ('{"patterns":', _patterns),
    ('"scenarios": [{"name":', _scenarios),
    ('{"overall_assessment":', _merchandising),
)
