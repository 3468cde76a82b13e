"""Cell parsers for CSV imports; each raises ValueError with a reason an operator understands."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime

SLOT_CODE = re.compile(r"^([A-Z])([1-9][0-9]?)$")
# C0 controls and DEL except tab and line breaks (NUL in particular: PostgreSQL text cannot hold it).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_ROWS = 26
MAX_COLUMNS = 99


def text(value: str, max_len: int = 200) -> str:
    """A required non-empty text cell."""
    value = value.strip()
    if not value:
        raise ValueError("is required")
    if len(value) > max_len:
        raise ValueError(f"is longer than {max_len} characters")
    if CONTROL.search(value):
        raise ValueError("contains control characters (e.g. NUL)")
    return value


def money(value: str, allow_zero: bool = False) -> float:
    """A price or cost: a finite decimal number, positive (or zero when allowed), at most 4 decimals."""
    raw = value.strip().replace(",", ".") if value.count(",") == 1 and "." not in value else value.strip()
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"'{value}' is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"'{value}' is not a finite number")
    if number < 0 or (number == 0 and not allow_zero):
        raise ValueError(f"must be {'zero or more' if allow_zero else 'greater than zero'}, got {value}")
    if number > 100_000:
        raise ValueError(f"{value} is implausibly large")
    return round(number, 4)


def integer(value: str, low: int, high: int) -> int:
    """A whole number within [low, high]."""
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError(f"'{value}' is not a whole number") from None
    if not low <= number <= high:
        raise ValueError(f"must be between {low} and {high}, got {number}")
    return number


def choice(value: str, options: tuple[str, ...]) -> str:
    """One of a fixed set of words (case-insensitive)."""
    word = value.strip().lower()
    if word not in options:
        raise ValueError(f"must be one of {', '.join(options)}, got '{value}'")
    return word


def slot_code(value: str) -> tuple[str, int, int]:
    """A slot code like ``A1`` -> (code, row index, column index), zero-based."""
    code = value.strip().upper()
    match = SLOT_CODE.match(code)
    if not match:
        raise ValueError(f"'{value}' is not a slot code like A1 or C12")
    return code, ord(match.group(1)) - ord("A"), int(match.group(2)) - 1


def timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp or plain date; no zone means UTC."""
    raw = value.strip()
    try:
        if len(raw) == 10:
            parsed = datetime.combine(date.fromisoformat(raw), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(raw.replace(" ", "T", 1) if "T" not in raw else raw)
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO-8601 timestamp or date") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def slot_label(row: int, col: int) -> str:
    """Zero-based (row, column) -> ``A1``."""
    return f"{chr(ord('A') + row)}{col + 1}"
