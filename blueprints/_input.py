"""Hostile-input guards for every JSON body and query: size, nesting, number range, dates, control characters.

One place, used by the shared parsing helpers in `_web.py`: a body is read once (refused above
`JSON_MAX_BYTES`), decoded without NaN/Infinity or overflowing floats, checked for nesting depth before
anything recurses over it, and - after pydantic - every integer must fit a 64-bit database column, every
date must lie in a sane range and no string may carry control characters (NUL breaks PostgreSQL text).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from typing import Any

from werkzeug.routing import IntegerConverter

from services.errors import AppError, ValidationFailed

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 32  # nesting of arrays/objects in a body; the deepest real body (a planogram) uses 3
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
# C0 controls and DEL, except tab, line feed and carriage return (which pasted emails legitimately carry).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class PayloadTooLarge(AppError):
    """The body is larger than the API accepts."""

    status = 413
    code = "payload_too_large"


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` path parts beyond a 64-bit column do not match (404) instead of overflowing the database."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


def _invalid(reason: str, field: str | None = None) -> ValidationFailed:
    return ValidationFailed("Request body must be a JSON object", details=[{"field": field, "reason": reason}])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def load_json(data: bytes, limit: int) -> dict[str, Any]:
    """Decode a request body into a JSON object, or raise a 413/422 in the API's error shape."""
    if len(data) > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes", details={"max_bytes": limit})
    if _too_deep_text(data):
        raise _invalid(f"nested deeper than {MAX_DEPTH} levels")
    try:
        payload = json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise _invalid(f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"invalid JSON: {str(exc)[:200]}") from None
    if not isinstance(payload, dict):
        raise _invalid(f"expected an object, got {type(payload).__name__}")
    return payload


def _too_deep_text(data: bytes) -> bool:
    """Cheap pre-check before the decoder recurses: more opening brackets in a row than MAX_DEPTH allows."""
    opening = max(data.count(b"["), data.count(b"{"))
    if opening <= MAX_DEPTH:
        return False
    return re.search(rb"(?:[\[{]\s*){%d}" % (MAX_DEPTH + 1), data) is not None


def check_values(value: Any) -> None:
    """Every int fits 64 bits, every date is in range, no string holds control characters (422 naming the field)."""
    problems = [{"field": path or None, "reason": reason} for path, reason in _problems(value, "", 0)]
    if problems:
        raise ValidationFailed("Invalid request", details=problems[:20])


def _problems(value: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > MAX_DEPTH:
        yield path, f"nested deeper than {MAX_DEPTH} levels"
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            yield path, "integer out of range (must fit in 64 bits)"
    elif isinstance(value, (dt.date, dt.datetime)):
        day = value.date() if isinstance(value, dt.datetime) else value
        if not EARLIEST <= day <= LATEST:
            yield path, f"date out of range ({EARLIEST.isoformat()} to {LATEST.isoformat()})"
    elif isinstance(value, str):
        if CONTROL.search(value):
            yield path, "contains control characters"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _problems(key, path, depth + 1)
            yield from _problems(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            yield from _problems(item, f"{path}.{index}" if path else str(index), depth + 1)
