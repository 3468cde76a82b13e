"""Structured output: find the JSON in a model's answer and validate it against the feature's schema."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import BadOutput

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def extract_json(text: str) -> Any:
    """The JSON value in plain, fenced or prose-wrapped text; BadOutput when there is none."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    for block in _FENCE.findall(stripped):
        try:
            return json.loads(block.strip())
        except json.JSONDecodeError:
            continue
    for index, char in enumerate(stripped):
        if char in "{[":
            try:
                value, _ = _DECODER.raw_decode(stripped, index)
            except json.JSONDecodeError:
                continue
            return value
    raise BadOutput("no JSON object found in the answer")


def parse_structured(text: str, schema: type[BaseModel]) -> BaseModel:
    """Extract and validate; BadOutput carries a short, model-readable reason."""
    value = extract_json(text)
    try:
        return schema.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:8]
        )
        raise BadOutput(f"JSON does not match the schema: {problems}") from exc


@lru_cache(maxsize=256)  # JSON Schema generation costs ~0.1 ms; schemas are classes, so hashable
def schema_instruction(schema: type[BaseModel]) -> str:
    """The instruction appended to the system prompt so the model knows the exact shape wanted."""
    shape = json.dumps(schema.model_json_schema(), separators=(",", ":"), sort_keys=True)
    return f"Answer with a single JSON object only (no prose, no code fence) matching this JSON Schema: {shape}"


def repair_message(error: BadOutput) -> str:
    """The follow-up turn asking the model to fix its previous answer."""
    return (
        f"Your previous answer could not be used: {error}. "
        "Reply again with only the corrected JSON object, nothing else."
    )


def self_reported_confidence(data: BaseModel | None) -> float | None:
    """A `confidence` field in the validated output, if the schema has one, clamped to [0, 1]."""
    value = getattr(data, "confidence", None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return min(max(float(value), 0.0), 1.0)
    return None
