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
_WORD = re.compile(r"[A-Za-z][\w']*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}")
_NOT_CONTENT = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "also",
        "away",
        "before",
        "behind",
        "below",
        "beside",
        "besides",
        "between",
        "beyond",
        "from",
        "have",
        "here",
        "into",
        "just",
        "kindly",
        "like",
        "make",
        "more",
        "most",
        "near",
        "next",
        "only",
        "onto",
        "over",
        "please",
        "some",
        "than",
        "that",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "under",
        "very",
        "want",
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "within",
        "would",
        "write",
        "your",
        "could",
        "should",
        "shall",
        "give",
        "need",
        "create",
    ]
)
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
    """Capitalised words (product, place and people names; sentence starts too), lower-cased."""
    return frozenset(w.lower() for w in _WORD.findall(text) if w[0].isupper())


def content_words(text: str) -> frozenset[str]:
    """What a request is about: words of 4+ letters, neither filler nor relation words, cut to 4 letters.

    Cutting folds inflections ("grabbing"/"grab", "machines"/"machine"); relation words ("next to",
    "beside", "after") may change in a rewording, nouns and verbs may not.
    """
    return frozenset(w[:4] for w in (m.lower() for m in _WORD.findall(text)) if len(w) >= 4 and w not in _NOT_CONTENT)


def same_entities(first: str, second: str) -> bool:
    """True when two free wordings ask for the same thing, so a near hit may be served.

    Numbers, codes, placeholders and negations must be equal, each text's capitalised words must occur
    in the other, and both must use the same content words. Another product, customer, number, period or
    subject is another request.
    """
    if entities(first) != entities(second) or content_words(first) != content_words(second):
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
