"""PII redaction before text leaves the app, and restoration of the placeholders in the answer."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)")
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][A-Za-z'.-]*\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Square|Sq|"
    r"Terrace|Close|Crescent|Parkway|Pkwy|Highway|Hwy)\b\.?"
)
_ORDER = re.compile(r"(?i)\b(order|ord|invoice|ticket)(\s*(?:#|no\.?|number|n°)?\s*:?\s*)([A-Z0-9][A-Z0-9-]{3,})\b")
_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|ADDRESS|ORDER)_\d+\]")


@dataclass
class Redaction:
    """Redacted text plus the placeholder → original map needed to restore it."""

    text: str
    mapping: dict[str, str] = field(default_factory=dict)


class PIIRedactor:
    """Replaces emails, phones, card numbers (Luhn-checked), street addresses and optionally order numbers."""

    def __init__(self, orders: bool = False) -> None:
        self.orders = orders

    def redact(self, text: str, mapping: dict[str, str] | None = None) -> Redaction:
        """Redact one text; pass a shared `mapping` to keep placeholders consistent across texts."""
        mapping = {} if mapping is None else mapping
        reverse = {original: placeholder for placeholder, original in mapping.items()}
        text = _EMAIL.sub(lambda m: _placeholder("EMAIL", m.group(0), mapping, reverse), text)
        text = _CARD.sub(lambda m: _card(m.group(0), mapping, reverse), text)
        if self.orders:
            text = _ORDER.sub(
                lambda m: m.group(1) + m.group(2) + _placeholder("ORDER", m.group(3), mapping, reverse), text
            )
        text = _STREET.sub(lambda m: _placeholder("ADDRESS", m.group(0), mapping, reverse), text)
        text = _PHONE.sub(lambda m: _phone(m.group(0), mapping, reverse), text)
        return Redaction(text, mapping)

    def redact_value(self, value: Any, mapping: dict[str, str]) -> Any:
        """Redact every string inside nested dicts/lists (variables of a prompt)."""
        if isinstance(value, str):
            return self.redact(value, mapping).text
        if isinstance(value, Mapping):
            return {k: self.redact_value(v, mapping) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_value(v, mapping) for v in value]
        return value


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """Put the originals back where the model kept the placeholders."""
    if not mapping:
        return text
    return _PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def restore_value(value: Any, mapping: Mapping[str, str]) -> Any:
    """`restore` applied to every string inside nested dicts/lists."""
    if isinstance(value, str):
        return restore(value, mapping)
    if isinstance(value, Mapping):
        return {k: restore_value(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_value(v, mapping) for v in value]
    return value


class StreamRestorer:
    """Restores placeholders in streamed text, holding back a possibly split placeholder."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        self._pending = ""

    def feed(self, delta: str) -> Iterator[str]:
        """Yield restored text that is safe to show now."""
        text = self._pending + delta
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut < 16:
            text, self._pending = text[:cut], text[cut:]
        else:
            self._pending = ""
        if text:
            yield restore(text, self._mapping)

    def flush(self) -> Iterator[str]:
        """Whatever is still held back."""
        if self._pending:
            yield restore(self._pending, self._mapping)
            self._pending = ""


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum used by payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _placeholder(kind: str, original: str, mapping: dict[str, str], reverse: dict[str, str]) -> str:
    if original in reverse:
        return reverse[original]
    count = sum(1 for key in mapping if key.startswith(f"[{kind}_")) + 1
    placeholder = f"[{kind}_{count}]"
    mapping[placeholder], reverse[original] = original, placeholder
    return placeholder


def _card(candidate: str, mapping: dict[str, str], reverse: dict[str, str]) -> str:
    digits = re.sub(r"\D", "", candidate)
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return _placeholder("CARD", candidate, mapping, reverse)
    return candidate


def _phone(candidate: str, mapping: dict[str, str], reverse: dict[str, str]) -> str:
    digits = re.sub(r"\D", "", candidate)
    # Fewer than 9 digits is more likely a quantity, a date or a price than a phone number.
    if len(digits) < 9 or len(digits) > 15:
        return candidate
    return _placeholder("PHONE", candidate.strip(), mapping, reverse)
