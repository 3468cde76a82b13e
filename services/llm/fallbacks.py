"""Normalising a feature's rule-based fallback into one shape; a generic answer when there is none."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from pydantic import BaseModel

from .preparation import CallSpec, FallbackAnswer

log = logging.getLogger(__name__)

REASONS = {
    "no_provider": "no AI provider is configured",
    "budget_exceeded": "today's AI budget is used up",
    "bad_output": "the AI answer could not be used",
    "breaker_open": "the AI provider is unavailable",
    "stream_cut": "the AI answer was interrupted",
}


def fallback_result(spec: CallSpec, kind: str) -> FallbackAnswer:
    """Call the feature's fallback with the original variables; never raise for its sake."""
    if spec.fallback is None:
        return _generic(kind)
    try:
        raw = spec.fallback(spec.variables)
    except Exception:  # a broken fallback must not turn into a 500; it is logged loudly instead
        log.exception("rule-based fallback of feature %s failed", spec.feature)
        return _generic(kind)
    return _normalise(raw, spec.schema)


def _normalise(raw: object, schema: type[BaseModel] | None) -> FallbackAnswer:
    if isinstance(raw, FallbackAnswer):
        if isinstance(raw.data, Mapping) and schema is not None:
            return FallbackAnswer(raw.text or json.dumps(raw.data), schema.model_validate(raw.data), raw.confidence)
        if not raw.text and isinstance(raw.data, BaseModel):
            return FallbackAnswer(raw.data.model_dump_json(), raw.data, raw.confidence)
        return raw
    if isinstance(raw, BaseModel):
        return FallbackAnswer(raw.model_dump_json(), raw, _own_confidence(raw))
    if isinstance(raw, Mapping):
        data = schema.model_validate(raw) if schema is not None else dict(raw)
        return FallbackAnswer(json.dumps(dict(raw), default=str), data)
    return FallbackAnswer(str(raw))


def _own_confidence(data: BaseModel) -> float:
    value = getattr(data, "confidence", None)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.3


def _generic(kind: str) -> FallbackAnswer:
    reason = REASONS.get(kind, "the AI provider did not answer")
    return FallbackAnswer(f"No AI answer is available right now ({reason}).", None, 0.0)
