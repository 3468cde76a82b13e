"""The explanation of an optimisation result, streamed as readable text: AI when it answers, rule-based otherwise.

The prompt (prompts/planogram_optimization.yaml) asks the model for one JSON object; the editor wants
prose as it is written. ``ProseStream`` parses the growing JSON leniently (pydantic-core partial
parsing) and emits only text that can no longer change, so the deltas add up to the final prose.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import from_json

from services import ai
from services.llm import ContextBlock, DataStructurer, FallbackAnswer, PromptError
from services.llm.structurer import ESSENTIAL
from services.llm.types import LLMResult, StreamError
from services.planogram import Move

log = logging.getLogger("planogram.optimization")
FEATURE = "optimization_explanation"
PROMPT = "planogram_optimization"
# Deltas closer together than this are sent as one event (a model streams dozens per second).
COALESCE_S = 0.05
STOP_CHECK_S = 0.25
LABEL = "Rule-based explanation (written from the optimiser's numbers; no AI was used)."


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ObjectiveLine(_Lenient):
    name: str
    before: float | None = None
    after: float | None = None
    explanation: str = ""


class KeyChange(_Lenient):
    slot: str
    from_sku: str | None = None
    to_sku: str | None = None
    reason: str = ""


class OptimizationExplanation(_Lenient):
    """What the planogram_optimization prompt asks the model to reply."""

    summary: str = Field(min_length=1)
    objectives: list[ObjectiveLine] = Field(default_factory=list)
    key_changes: list[KeyChange] = Field(default_factory=list)
    trade_offs: list[str] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)
    confidence: float | None = Field(default=None, ge=0, le=1)


@dataclass(frozen=True)
class ExplanationInput:
    """The engine's numbers about one optimisation (the model may quote them, never invent others)."""

    device_id: str
    device_name: str
    objective: str
    total_slots: int
    current_objective: float
    objective_value: float
    revenue_before: float
    revenue_after: float
    margin_before: float
    margin_after: float
    optimal: bool
    changes: tuple[tuple[Move, float], ...]  # best first
    locked_slots: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def uplift(self) -> float:
        return self.objective_value - self.current_objective

    @property
    def uplift_pct(self) -> float:
        return 100 * self.uplift / abs(self.current_objective) if self.current_objective else 0.0

    def product(self, sku: str | None) -> str:
        """'Name (SKU)', or 'empty'."""
        if sku is None:
            return "empty"
        return f"{self.names[sku]} ({sku})" if sku in self.names else sku


@dataclass(frozen=True)
class Explained:
    """How the explanation ended."""

    fallback_used: bool
    request_id: str | None
    fallback_reason: str | None = None  # no_provider | budget | provider_error | output_failed_checks | prompt
    error_kind: str | None = None  # the pipeline's error kind: no_provider, budget_exceeded, bad_output, timeout, …
    model: str | None = None  # the model that answered (also when its answer failed the checks)


def prompt_variables(inp: ExplanationInput) -> dict[str, Any]:
    """The prompt's variables: metrics as a short text block, numbers from the engine only (changes: context)."""
    metrics = "\n".join(
        [
            f"objective value per day ({inp.objective}, including neighbour effects): {inp.current_objective:.2f} → "
            f"{inp.objective_value:.2f} ({inp.uplift:+.2f}, {inp.uplift_pct:+.1f} %)",
            f"revenue per day: {inp.revenue_before:.2f} → {inp.revenue_after:.2f}",
            f"margin per day: {inp.margin_before:.2f} → {inp.margin_after:.2f}",
            f"slots changed: {len(inp.changes)} of {inp.total_slots}",
            "solver: optimum proven" if inp.optimal else "solver: best layout found within the time limit",
        ]
    )
    out: dict[str, Any] = {
        "device_name": f"{inp.device_name} ({inp.device_id})",
        "objective": inp.objective,
        "metrics": metrics,
    }
    if inp.locked_slots:
        out["constraints"] = "locked slots (kept as they are): " + ", ".join(inp.locked_slots)
    return out


def prompt_context(inp: ExplanationInput) -> tuple[ContextBlock, ...]:
    """The changes, most valuable first, as a block the pipeline fits into the tier's context budget: when
    they do not all fit, the least valuable are cut (and the cut is marked), never the metrics."""
    lines = tuple(
        f"{m.slot}: {inp.product(m.from_sku)} → {inp.product(m.to_sku)}; value of this change {value:+.2f} per day"
        for m, value in inp.changes
    ) or ("no changes",)
    return (DataStructurer().text("changes", "\n".join(lines), ESSENTIAL),)


def rule_based(inp: ExplanationInput) -> str:
    """A real explanation from the numbers alone, clearly labelled as not written by AI."""
    locked = f" (locked slots kept: {', '.join(inp.locked_slots)})" if inp.locked_slots else ""
    if not inp.changes:
        return (
            f"{LABEL}\n\nThe current planogram of {inp.device_name} already gives {inp.current_objective:.2f} "
            f"{inp.objective} per day and the optimiser found no better layout under the rules{locked}, "
            "so no changes are suggested."
        )
    parts = [
        LABEL,
        f"The optimiser raises the {inp.objective} of {inp.device_name} from {inp.current_objective:.2f} to "
        f"{inp.objective_value:.2f} per day ({inp.uplift:+.2f}, {inp.uplift_pct:+.1f} %) by changing "
        f"{len(inp.changes)} of {inp.total_slots} slots{locked}. Revenue per day goes from "
        f"{inp.revenue_before:.2f} to {inp.revenue_after:.2f} and margin per day from {inp.margin_before:.2f} "
        f"to {inp.margin_after:.2f}.",
        "The changes worth most (each valued as what would be lost if it alone were undone):\n"
        + "\n".join(
            f"- {m.slot}: {inp.product(m.from_sku)} → {inp.product(m.to_sku)} ({value:+.2f} per day)"
            for m, value in inp.changes[:5]
        ),
    ]
    if len(inp.changes) > 5:
        parts.append(
            f"The other {len(inp.changes) - 5} changes add smaller amounts; products interact "
            "(facings, neighbours), so single values do not add up exactly to the total."
        )
    parts.append(
        "The exact solver proved the layout optimal before neighbour swaps were tried."
        if inp.optimal
        else "The solver stopped at its time limit, so a slightly better layout may exist."
    )
    return "\n\n".join(parts)


class ProseStream:
    """Incremental JSON answer → prose; ``feed`` returns only text that will not change any more."""

    SECTIONS = {"objectives": "Objectives", "key_changes": "Key changes", "trade_offs": "Trade-offs", "risks": "Risks"}

    def __init__(self, product: Callable[[str | None], str]) -> None:
        self._product = product
        self._raw = ""
        self._sent = ""

    @property
    def text(self) -> str:
        """Everything emitted so far."""
        return self._sent

    def feed(self, delta: str) -> str:
        """Add raw model text; return the new prose (possibly empty)."""
        self._raw += delta
        return self._advance(final=False)

    def finish(self) -> str:
        """The answer is complete: return the prose held back so far."""
        return self._advance(final=True)

    def _advance(self, final: bool) -> str:
        prose = self._render(final)
        if prose is None or not prose.startswith(self._sent):
            return ""
        new, self._sent = prose[len(self._sent) :], prose
        return new

    def _render(self, final: bool) -> str | None:
        body = self._raw.lstrip()
        if body.startswith("```"):
            if "\n" not in body:
                return None
            body = body.split("\n", 1)[1].lstrip()
        if not body:
            return ""
        if not body.startswith("{"):  # the model answered in prose: pass it through
            return body
        body = body.rstrip().rstrip("`").rstrip()
        try:
            parsed = from_json(body, allow_partial=False if final else "trailing-strings")
        except ValueError:
            if not final:
                return None
            try:
                parsed = from_json(body, allow_partial="trailing-strings")
            except ValueError:
                return None
        return self._prose(parsed, final) if isinstance(parsed, dict) else None

    def _prose(self, obj: dict[str, Any], final: bool) -> str:
        keys = list(obj)
        parts: list[str] = []
        for key in keys:
            is_open = not final and key == keys[-1]
            value = obj[key]
            if isinstance(value, str) and (key == "summary" or not is_open):
                if value.strip():
                    parts.append(value.strip() if not is_open else value.lstrip())
            elif isinstance(value, list):
                items = value[:-1] if is_open else value
                lines = [line for line in (self._item(key, v) for v in items) if line]
                if lines:
                    parts.append(f"{self.SECTIONS.get(key, key.replace('_', ' ').capitalize())}:\n" + "\n".join(lines))
        return "\n\n".join(parts)

    def _item(self, key: str, item: Any) -> str:
        if isinstance(item, str):
            return f"- {item.strip()}"
        if not isinstance(item, dict):
            return ""
        if key == "key_changes" or "slot" in item:
            reason = f" — {item['reason']}" if item.get("reason") else ""
            return (
                f"- {item.get('slot', '?')}: {self._product(item.get('from_sku'))} → "
                f"{self._product(item.get('to_sku'))}{reason}"
            )
        before, after = item.get("before"), item.get("after")
        numbers = f" {before} → {after}" if before is not None and after is not None else ""
        text = f" — {item['explanation']}" if item.get("explanation") else ""
        return f"- {item.get('name', '?')}:{numbers}{text}"


class _Publisher:
    """Coalesces deltas that arrive within COALESCE_S into one event."""

    def __init__(self, publish: Callable[[str, bool], object]) -> None:
        self._publish = publish
        self._buffer = ""
        self._last = 0.0
        self.sent_any = False

    def add(self, text: str, fallback: bool = False, force: bool = False) -> None:
        self._buffer += text
        now = time.monotonic()
        if self._buffer and (force or fallback or now - self._last >= COALESCE_S):
            self._publish(self._buffer, fallback)
            self.sent_any = self.sent_any or not fallback
            self._buffer, self._last = "", now

    def flush(self) -> None:
        self.add("", force=True)


def stream_explanation(
    inp: ExplanationInput, publish: Callable[[str, bool], object], stopped: Callable[[], bool], user_id: str | None
) -> Explained | None:
    """Publish the explanation as (delta, fallback_used) pieces; None when the job was stopped meanwhile."""
    fallback_text = rule_based(inp)
    out = _Publisher(publish)
    prose = ProseStream(inp.product)
    result: LLMResult | None = None
    pending: str | None = None  # one delta of look-ahead: fallback text is known only from the result after it
    next_check = 0.0
    try:
        items = ai.pipeline().stream(
            FEATURE,
            PROMPT,
            prompt_variables(inp),
            OptimizationExplanation,
            lambda _variables: FallbackAnswer(fallback_text, None, 0.3),
            user_id=user_id,
            context=prompt_context(inp),
            tags=(f"device:{inp.device_id}",),
        )
        for item in items:
            if time.monotonic() >= next_check:
                if stopped():
                    getattr(items, "close", lambda: None)()  # ends the provider call too
                    return None
                next_check = time.monotonic() + STOP_CHECK_S
            if isinstance(item, LLMResult):
                result = item
            elif isinstance(item, StreamError):
                if pending is not None:
                    out.add(prose.feed(pending))
                pending = None
            else:
                if pending is not None:
                    out.add(prose.feed(pending))
                pending = item
    except PromptError:
        log.exception("optimisation explanation prompt unusable; rule-based text instead")
        out.add(fallback_text, fallback=True)
        return Explained(True, None, "prompt", "prompt")
    assert result is not None  # the pipeline's stream always ends with its result
    if not result.fallback_used:
        if pending is not None:
            out.add(prose.feed(pending))
        out.add(prose.finish(), force=True)
        out.flush()
        return Explained(False, result.request_id or None, model=result.model)
    if pending is not None and pending != result.text:
        out.add(prose.feed(pending))  # the last AI delta before an unusable answer
    out.flush()
    out.add(("\n\n" if out.sent_any else "") + result.text, fallback=True)
    return Explained(True, result.request_id or None, result.fallback_reason, result.error_kind, result.model)
