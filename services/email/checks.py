"""Checks around an email reply draft: the customer's text goes in as inert data; the reply comes out
without promises the order data and policy do not support, without leaked instructions or stray placeholders."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from models._types import utcnow
from services.orders import IN_TRANSIT, OrderFacts, Policy

NAME_PLACEHOLDER = "[CUSTOMER_NAME]"
_DELIMITER = re.compile(r"<\s*/?\s*customer_email\s*>", re.IGNORECASE)
_INJECTION = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules?|prompts?|guidelines)\b",
        r"\b(system|developer)\s+(prompt|message|instructions?)\b",
        r"\byou are now\b|\bact as\b|\bpretend to be\b|\bnew (role|instructions?)\b",
        r"\b(reveal|print|show|repeat)\b.{0,30}\b(instructions?|prompt)\b",
        r"<\s*/?\s*(system|assistant|instructions?)\s*>",
        r"\b(you must|you have to|you are required to)\b.{0,40}\b(refund|discount|promise|compensat)",
    )
]
_LEAK_MARKERS = (
    "<customer_email>",
    "</customer_email>",
    "rules for every reply",
    "reply with one json object",
    "answer with a single json object",
)
_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|ADDRESS|ORDER|CUSTOMER_NAME|NAME)(?:_\d+)?\]")
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_NEGATION = re.compile(r"\b(not|cannot|can't|can ?not|unable|won't|no longer|isn't|aren't|don't|do not)\b", re.I)
_COMMIT = re.compile(
    r"\b(will|we'll|you'll|i'll|we are going to|we're going to|we have|we've|"
    r"has been|have been|we are (?:happy|glad|pleased) to|we're (?:happy|glad|pleased) to|we can|"
    r"guarantee[ds]?|promise[ds]?|is on its way|are issuing|have issued|should|is scheduled|are sending|"
    r"here is|here's|enjoy|use (?:the )?code|is expected)\b",
    re.IGNORECASE,
)
_CONDITIONAL = re.compile(r"\b(if|once|after|as soon as)\b.{0,60}\b(confirm|check|verif|review|approv)", re.I)
_REFUND = re.compile(
    r"\b(refund(?:ed|ing|s)?(?!\s+(?:policy|policies|request|window|procedure|process|form|rules?))|reimburs\w*|"
    r"money back|credit(?:ed)? (?:it )?back|chargeback)\b",
    re.IGNORECASE,
)
_DISCOUNT = re.compile(
    r"\b(discount|coupon|voucher|promo(?:tion(?:al)?)? code|percent off|store credit|account credit|"
    r"free (?:drink|snack|item|product|coffee|meal|vend))\b|\d+(?:\.\d+)?\s?%\s?off\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
_DELIVERY = re.compile(
    r"\b(deliver(?:ed|y|s)?|arriv(?:e|es|al)|ship(?:ped|s)?|dispatch(?:ed)?|restock(?:ed)?|back in stock|"
    r"reach(?:es)? you|get to you|refill(?:ed)?)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(
    r"\b(today|tonight|tomorrow|this week|next week|this weekend|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|within \d+ (?:business |working )?(?:days?|hours?)|in \d+ (?:business |working )?"
    r"(?:days?|hours?)|by the end of|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
    r"aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2})\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"(?:[$€£]\s?(\d+(?:[.,]\d{1,2})?))|(?:(\d+(?:[.,]\d{1,2})?)\s?(?:USD|EUR|GBP|dollars?|euros?|pounds?))",
    re.IGNORECASE,
)


def sanitize(text: str) -> str:
    """Neutralise our data delimiters inside customer text so it cannot close its own data block."""
    return _DELIMITER.sub("[tag removed]", text)


def injection_signals(text: str) -> list[str]:
    """Phrases in a customer's email that try to instruct the model (they are treated as data anyway)."""
    found: list[str] = []
    for pattern in _INJECTION:
        match = pattern.search(text)
        if match:
            found.append(match.group(0)[:120])
    return found


def redact_name(text: str, name: str) -> str:
    """Replace the customer's known name (full, then each part of 3+ letters) with a placeholder."""
    name = name.strip()
    if not name:
        return text
    parts = [name, *sorted((p for p in name.split() if len(p) >= 3), key=len, reverse=True)]
    for part in parts:
        # Not inside an email address or handle (jane.doe@…): the pipeline redacts those whole.
        # Whitespace inside the name matches any run of it ("Jane  Doe" is the full name, not two parts).
        pattern = r"\s+".join(re.escape(word) for word in part.split())
        text = re.sub(rf"(?<![\w.@+-]){pattern}(?![\w@]|\.\w)", NAME_PLACEHOLDER, text, flags=re.IGNORECASE)
    return text


def restore_name(text: str, name: str) -> str:
    """Put the customer's name back (a generic greeting word when we do not know it)."""
    return text.replace(NAME_PLACEHOLDER, name.strip() or "there")


def check_reply(
    body: str, order: OrderFacts | None, policy: Policy, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Flags for everything in the reply that the order data and policy do not support."""
    flags: list[dict[str, Any]] = []
    for sentence in (s.strip() for s in _SENTENCES.split(body) if s.strip()):
        if not _COMMIT.search(sentence):
            continue
        if _promised(_REFUND, sentence):
            reason = _refund_problem(sentence, order, policy, now)
            if reason:
                flags.append({"kind": "refund_promise", "text": sentence, "reason": reason})
        if _promised(_DISCOUNT, sentence):
            reason = _discount_problem(sentence, policy)
            if reason:
                flags.append({"kind": "discount_promise", "text": sentence, "reason": reason})
        if _promised(_DELIVERY, sentence) and _WHEN.search(sentence):
            reason = _delivery_problem(sentence, order)
            if reason:
                flags.append({"kind": "delivery_promise", "text": sentence, "reason": reason})
    low = body.lower()
    leaked = [m for m in _LEAK_MARKERS if m in low]
    if leaked:
        flags.append(
            {
                "kind": "instruction_leak",
                "text": leaked[0],
                "reason": "the reply repeats internal instructions or data markers",
            }
        )
    stray = sorted(set(_PLACEHOLDER.findall(body)))
    if stray:
        flags.append(
            {
                "kind": "unknown_placeholder",
                "text": ", ".join(stray),
                "reason": "placeholders the model invented; replace them by hand",
            }
        )
    return flags


def _promised(pattern: re.Pattern[str], sentence: str) -> bool:
    """The topic is mentioned and not negated just before it ("we cannot offer a refund" is no promise)."""
    for match in pattern.finditer(sentence):
        if not _NEGATION.search(sentence[max(0, match.start() - 40) : match.start()]):
            return True
    return False


def _refund_problem(sentence: str, order: OrderFacts | None, policy: Policy, now: datetime | None) -> str | None:
    if not policy.refunds_allowed:
        return "the support policy does not allow promising refunds"
    if order is None:
        if _CONDITIONAL.search(sentence):
            return None  # "once we have checked the machine logs, we will refund…" is within policy
        return "no order data supports a refund"
    ok, why = order.refundable(policy, now or utcnow())
    if not ok:
        return f"no refund is possible: {why}"
    remaining = order.remaining()
    for match in _MONEY.finditer(sentence):
        amount = Decimal((match.group(1) or match.group(2)).replace(",", "."))
        if remaining is not None and amount > Decimal(str(remaining)):
            return f"the amount {amount} is more than the {remaining:.2f} that can be refunded"
    return None


def _discount_problem(sentence: str, policy: Policy) -> str | None:
    if policy.max_discount_pct <= 0:
        return "the support policy allows no discounts, vouchers or credit"
    for match in _PERCENT.finditer(sentence):
        if float(match.group(1)) > policy.max_discount_pct:
            return f"{match.group(1)}% is more than the {policy.max_discount_pct:g}% the policy allows"
    return None


def _delivery_problem(sentence: str, order: OrderFacts | None) -> str | None:
    if order is None or order.expected_delivery_at is None:
        return "no expected delivery date is known, so none may be promised"
    if order.status not in IN_TRANSIT:
        return f"the order is {order.status}; no delivery is pending"
    expected = order.expected_delivery_at
    forms = {
        expected.date().isoformat(),
        f"{expected.day} {expected:%B}",
        f"{expected:%B} {expected.day}",
        f"{expected.day} {expected:%b}",
        f"{expected:%b} {expected.day}",
        f"{expected.month}/{expected.day}",
        f"{expected.day}/{expected.month}",
        expected.strftime("%A"),
    }
    low = sentence.lower()
    if any(f.lower() in low for f in forms):
        return None
    return f"the promised time does not match the expected delivery date {expected.date().isoformat()}"
