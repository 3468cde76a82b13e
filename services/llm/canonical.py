"""Canonical forms before keying: whitespace, redaction placeholders, and the entities a near hit must share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

VOLATILE_PLACEHOLDER = "<volatile>"

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_TRAILING = re.compile(r" *\n *")
_BLANK_LINES = re.compile(r"\n{3,}")
# One redacted thing written twice in a row ("Jane  Doe" → "[CUSTOMER_NAME] [CUSTOMER_NAME]") is one thing.
_REPEATED_PLACEHOLDER = re.compile(r"\[([A-Z][A-Z_]*\d*)\](?:[ \t]*[,;]?[ \t]+\[\1\])+")

_NUMBER = re.compile(r"(?<![\w.])[$€£]?\d+(?:[.,]\d+)*(?:\s?%)?")
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*\d*\]")
_CODE = re.compile(r"\b(?=\w*\d)(?=\w*[A-Za-z])\w+\b|\b[A-Z]{2,}\b")
_WORD = re.compile(r"[A-Za-z][\w'-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"'(]\s*)$")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}")
_NEGATION = frozenset(
    [
        "no",
        "not",
        "never",
        "without",
        "none",
        "nothing",
        "nobody",
        "cannot",
        "can't",
        "don't",
        "doesn't",
        "isn't",
        "aren't",
        "won't",
        "shouldn't",
        "neither",
        "nor",
        "less",
        "fewer",
        "except",
    ]
)


def normalise_text(text: str) -> str:
    """Runs of spaces become one, no spaces around line breaks, at most one blank line, no outer space."""
    text = _SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _BLANK_LINES.sub("\n\n", _TRAILING.sub("\n", text))
    return _REPEATED_PLACEHOLDER.sub(r"[\1]", text).strip()


def canonical_variables(value: Any, blank: frozenset[str] = frozenset()) -> Any:
    """Sorted keys, keys in `blank` replaced by a constant, tuples as lists, text normalised (recursively)."""
    if isinstance(value, Mapping):
        return {
            str(k): VOLATILE_PLACEHOLDER if str(k) in blank else canonical_variables(value[k], blank)
            for k in sorted(value, key=str)
        }
    if isinstance(value, (list, tuple)):
        return [canonical_variables(v, blank) for v in value]
    if isinstance(value, str):
        return normalise_text(value)
    return value


def probe_text(variables: Mapping[str, Any], names: Iterable[str]) -> str:
    """The free-wording variables a similarity lookup compares, one `name: value` line each, in name order."""
    lines = [f"{name}: {variables[name]}" for name in sorted(names) if variables.get(name) not in (None, "")]
    return "\n".join(lines)


def entities(text: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(numbers, codes and placeholders, negations): what two texts must share exactly to be one request."""
    numbers = frozenset(_number(m.group(0)) for m in _NUMBER.finditer(text))
    codes = frozenset(m.group(0).lower() for m in _CODE.finditer(text)) | frozenset(_PLACEHOLDER.findall(text))
    negations = frozenset(w.lower() for w in _WORD.findall(text) if w.lower() in _NEGATION)
    return numbers, codes, negations


def proper_names(text: str) -> frozenset[str]:
    """Capitalised words that do not start a sentence (product, place and people names), lower-cased."""
    found = set()
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word[0].isupper() and not _SENTENCE_START.search(text[: match.start()]):
            found.add(word.lower())
    return frozenset(found)


def same_entities(first: str, second: str) -> bool:
    """True when numbers, codes, placeholders and negations are equal and each text's names occur in the other.

    A near hit is served only then: another product, customer, number or period is another request.
    """
    if entities(first) != entities(second):
        return False
    words_first = {w.lower() for w in _WORD.findall(first)}
    words_second = {w.lower() for w in _WORD.findall(second)}
    return proper_names(first) <= words_second and proper_names(second) <= words_first


def _number(raw: str) -> str:
    """'2.50' and '2.5', '1,000' and '1000' are one number; a currency or percent sign stays part of it."""
    sign = raw[0] if raw[0] in "$€£" else ""
    percent = "%" if raw.rstrip().endswith("%") else ""
    digits = raw.strip("$€£% ")
    if _THOUSANDS.fullmatch(digits):
        digits = digits.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(digits):
        digits = digits.replace(",", ".")
    try:
        value = float(digits)
    except ValueError:
        return raw
    return f"{sign}{value:g}{percent}"
