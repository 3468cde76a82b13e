"""Deterministic text rules of the content assistant: platform limits, trimming, hashtags, number checks,
and the rule-based fallbacks used when no AI provider answers (always labelled as such)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

# Hard caption limits per platform (characters).
PLATFORM_LIMITS: dict[str, int] = {"instagram": 2200, "x": 280, "linkedin": 3000, "facebook": 63206}
MAX_HASHTAGS = 30
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_WORD_SPLIT = re.compile(r"[^\w]+", re.UNICODE)
_VALID_TAG = re.compile(r"^#(?=\w*[^\W\d_])\w{1,99}$", re.UNICODE)
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
# Small counts ("top 3", "2 facings") are prose, not figures.
FREE_NUMBERS = frozenset(range(11))

CATEGORY_BENEFIT: dict[str, str] = {
    "coffee": "a proper pick-me-up",
    "water": "ice-cold hydration",
    "soft drinks": "a cold, fizzy break",
    "energy drinks": "a quick boost",
    "juice": "a fruity refresher",
    "dairy": "a creamy treat",
    "fresh food": "a fresh bite between meetings",
    "crisps": "a crunchy snack",
    "chocolate": "a little sweet moment",
    "candy": "something sweet for the road",
    "biscuits": "a treat with your coffee",
    "health snacks": "a smart snack that keeps you going",
    "hot food": "a warm meal in minutes",
    "essentials": "the thing you forgot at home",
}


def trim_to_limit(text: str, limit: int) -> tuple[str, bool]:
    """Cut `text` to at most `limit` characters at a sentence boundary (else a word boundary + '…')."""
    text = text.strip()
    if len(text) <= limit:
        return text, False
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > limit:
            break
        kept = candidate
    if kept:
        return kept, True
    cut = text[: max(limit - 1, 1)]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…", True


def camel_tag(raw: str) -> str:
    """'gym fuel' / '#gym-fuel' / 'GymFuel' → '#GymFuel' (no spaces or punctuation)."""
    words = [w for w in _WORD_SPLIT.split(raw.strip().lstrip("#")) if w and w != "_"]
    if not words:
        return ""
    if len(words) == 1:
        return f"#{words[0]}"
    return "#" + "".join(w[:1].upper() + w[1:] for w in words)


def clean_hashtags(tags: Iterable[str], limit: int) -> tuple[list[str], list[str]]:
    """Valid, de-duplicated (case-insensitively) hashtags, at most `limit`; and what was dropped."""
    kept: list[str] = []
    dropped: list[str] = []
    seen: set[str] = set()
    for raw in tags:
        tag = camel_tag(str(raw))
        key = tag.casefold()
        if not _VALID_TAG.match(tag) or key in seen or len(kept) >= limit:
            dropped.append(str(raw))
            continue
        seen.add(key)
        kept.append(tag)
    return kept, dropped


def topic_words(texts: Iterable[str]) -> set[str]:
    """Lower-case words of 3+ letters from product names and categories (for relevance checks)."""
    return {w.casefold() for t in texts for w in _WORD_SPLIT.split(t) if len(w) >= 3 and not w.isdigit()}


def is_relevant(tag: str, words: set[str]) -> bool:
    """A tag is on topic when it contains one of the product or category words."""
    low = tag.casefold()
    return any(w in low for w in words)


def rule_hashtags(
    names: Sequence[str], categories: Sequence[str], platform: str, limit: int, location: str | None = None
) -> list[str]:
    """Hashtags from the product names and categories, then a few broad vending ones."""
    candidates: list[str] = []
    for category in categories:
        candidates.append(category)
        candidates.append(f"{category} time")
    for name in names:
        words = [w for w in _WORD_SPLIT.split(name) if w.isalpha()]
        candidates.append(" ".join(words[:3]))
    if location:
        candidates.append(location)
    candidates += ["snack time", "vending machine", "grab and go", "break time", "treat yourself"]
    if platform == "linkedin":
        candidates += ["workplace wellbeing", "office life"]
    titled = [" ".join(w[:1].upper() + w[1:] for w in c.split()) for c in candidates]
    return clean_hashtags(titled, limit)[0]


def rule_caption(names: Sequence[str], categories: Sequence[str], style: str, limit: int) -> str:
    """A template caption in the requested style, within the platform limit."""
    product = " & ".join(names[:3]) or "your favourite snack"
    benefit = CATEGORY_BENEFIT.get(categories[0] if categories else "", "a quick break done right")
    if style == "professional":
        text = f"{product}: {benefit}, available now at your nearest machine."
    elif style == "funny":
        text = f"Plot twist: {benefit} was in the vending machine all along. {product}, at your service."
    else:
        text = f"Need {benefit}? {product} is waiting in the machine, no queue needed."
    return trim_to_limit(text, limit)[0]


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def allowed_numbers(value: Any, out: set[Decimal] | None = None) -> set[Decimal]:
    """Every number inside nested figures (dates contribute their year, month and day)."""
    out = set() if out is None else out
    if isinstance(value, bool):
        return out
    if isinstance(value, (int, float)):
        out.add(Decimal(str(value)))
        out.add(abs(Decimal(str(value))))
    elif isinstance(value, str):
        for match in _NUMBER.findall(value):
            number = _decimal(match)
            if number is not None:
                out.update({number, abs(number)})
    elif isinstance(value, Mapping):
        for item in value.values():
            allowed_numbers(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            allowed_numbers(item, out)
    return out


def unverified_numbers(text: str, allowed: set[Decimal]) -> list[str]:
    """Numbers in `text` that are not one of the given figures (at the precision they are written)."""
    found: list[str] = []
    for match in _NUMBER.findall(text):
        number = _decimal(match)
        if number is None:
            continue
        number = abs(number)
        if number == number.to_integral_value() and int(number) in FREE_NUMBERS:
            continue
        exponent = number.as_tuple().exponent
        places = max(-exponent, 0) if isinstance(exponent, int) else 0
        quantum = Decimal(1).scaleb(-places)
        if not any(a.quantize(quantum) == number for a in allowed if abs(a) < Decimal(10) ** 15):
            found.append(match)
    return list(dict.fromkeys(found))
