"""Schema validation of an answer with exactly one repair round-trip on the same route."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from pydantic import BaseModel

from .errors import BadOutput
from .execution import CallExecutor, Outcome
from .preparation import Prepared
from .structured import parse_structured, repair_message
from .types import ChatMessage, CompletionRequest, Usage

# Confidence before any self-report by the model lowers it: a repaired answer is trusted less.
CONFIDENCE_STRUCTURED = 0.85
CONFIDENCE_REPAIRED = 0.7

RequestBuilder = Callable[[Prepared, Sequence[ChatMessage]], CompletionRequest]


def validate_with_repair(
    executor: CallExecutor | None, prepared: Prepared, outcome: Outcome, build: RequestBuilder
) -> tuple[BaseModel, float] | None:
    """Parse; on failure send the validation error back once; None when still invalid (→ fallback)."""
    schema, completion, route = prepared.spec.schema, outcome.completion, outcome.route
    assert schema is not None and completion is not None and route is not None and executor is not None
    try:
        return parse_structured(completion.text, schema), CONFIDENCE_STRUCTURED
    except BadOutput as error:
        extra = (ChatMessage("assistant", completion.text), ChatMessage("user", repair_message(error)))
    estimate = prepared.input_estimate + len(completion.text)
    repair = executor.complete(prepared.spec.feature, [route], build(prepared, extra), estimate)
    outcome.cost_usd += repair.cost_usd
    outcome.attempts += repair.attempts
    if repair.completion is None:
        return None
    outcome.completion = replace(repair.completion, usage=_sum(completion.usage, repair.completion.usage))
    try:
        return parse_structured(repair.completion.text, schema), CONFIDENCE_REPAIRED
    except BadOutput:
        return None


def _sum(first: Usage, second: Usage) -> Usage:
    return Usage(
        first.input_tokens + second.input_tokens,
        first.output_tokens + second.output_tokens,
        first.cached_tokens + second.cached_tokens,
        first.cache_write_tokens + second.cache_write_tokens,
    )
