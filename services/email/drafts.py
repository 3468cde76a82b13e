"""Email assistant: a reply draft for a customer email, checked against the order data and the support policy.

The customer's text is data: our delimiters inside it are neutralised, emails/phones/cards/addresses are
redacted by the pipeline (pii=True) and the known customer name by this module, all restored in the draft
the agent sees. The reply is validated (schema) and checked (services/email/checks.py); anything the order
data or policy does not support lowers the confidence and asks for review. Nothing is ever sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from models import User
from services import orders
from services.email import checks
from services.llm import FallbackAnswer
from services.orders import OrderFacts, Policy
from services.review import generation
from services.review.generation import Feature, Finished, Params

ResponseType = Literal["inquiry", "complaint", "return"]
Tone = Literal["friendly", "professional", "apologetic", "empathetic"]
TONE_OPENINGS = {
    "friendly": "Thanks so much for getting in touch.",
    "professional": "Thank you for contacting us.",
    "apologetic": "We are sorry for the trouble you have had.",
    "empathetic": "We understand how frustrating this must be, and we are glad you told us.",
}


SUBJECT_MAX = 300


class EmailDraftOut(BaseModel):
    subject: str = Field(default="", max_length=SUBJECT_MAX)
    body: str = Field(min_length=1, max_length=8000)
    tone: str = ""
    suggested_actions: list[str] = Field(default_factory=list, max_length=10)
    needs_human_review: bool = False
    sentiment: str = "neutral"
    confidence: float = 0.7


def _finish(out: BaseModel, params: Params) -> Finished:
    assert isinstance(out, EmailDraftOut)
    name = params.get("customer_name") or ""
    body = checks.restore_name(out.body.strip(), name)
    subject = checks.restore_name(out.subject.strip(), name) or reply_subject(params.get("subject") or "")
    actions = [checks.restore_name(a, name) for a in out.suggested_actions]
    order = OrderFacts.from_dict(params["order"]) if params.get("order") else None
    policy = Policy(**params["policy"])
    flags = checks.check_reply(body, order, policy)
    promise_flags = [f for f in flags if f["kind"] != "unknown_placeholder"]
    for signal in params.get("injection_signals") or []:
        flags.append(
            {
                "kind": "prompt_injection_suspected",
                "text": signal,
                "reason": "the customer's email contains instructions; they were treated as data",
            }
        )
    if params.get("order_number") and order is None:
        flags.append(
            {
                "kind": "order_not_found",
                "text": params["order_number"],
                "reason": "no order with this number; the reply may not rely on order details",
            }
        )
    output = {
        "subject": subject,
        "body": body,
        "tone": out.tone or params["tone"],
        "requested_tone": params["tone"],
        "response_type": params["response_type"],
        "suggested_actions": actions,
        "sentiment": out.sentiment,
        "model_needs_review": out.needs_human_review,
        "order_number": order.order_number if order else None,
    }
    cap = 0.4 if promise_flags else 0.6 if flags else 1.0
    return Finished(body, output, flags, bool(out.needs_human_review or flags), cap)


FEATURE = Feature(
    "email_reply", lambda p: f"email_response_{p['response_type']}", lambda p: EmailDraftOut, _finish, pii=True
)
FEATURES: dict[str, Feature] = {"email_reply": FEATURE}


@generation.reads_before_call
def draft_reply(
    subject: str,
    body: str,
    response_type: str,
    tone: str,
    user: User,
    order_number: str | None = None,
    order: Mapping[str, Any] | None = None,
    customer_name: str | None = None,
) -> dict[str, Any]:
    """A reply draft (never sent) with tone, confidence, needs_review, suggested actions and flags."""
    policy = Policy.from_config()
    facts = _order_facts(order, order_number, f"{subject}\n{body}")
    name = (customer_name or (facts.customer_name if facts else "") or "").strip()
    signals = checks.injection_signals(f"{subject}\n{body}")
    email_text = checks.redact_name(checks.sanitize(f"Subject: {subject}\n\n{body}".strip()), name)
    variables: dict[str, Any] = {
        "customer_email": email_text,
        "company_name": policy.company,
        "tone": tone,
        "company_context": policy.text(),
        "order_context": checks.redact_name(facts.context(policy), name)
        if facts
        else "No order was found for this email: do not assume any order details.",
    }
    params = {
        "response_type": response_type,
        "tone": tone,
        "subject": subject,
        "customer_name": name,
        "order_number": order_number,
        "order": facts.as_dict() if facts else None,
        "policy": policy.as_dict(),
        "injection_signals": signals,
    }

    def fallback(_: Mapping[str, Any]) -> FallbackAnswer:
        return FallbackAnswer(data=_template(response_type, tone, name, facts, policy, subject), confidence=0.3)

    generated = generation.run(FEATURE, params, variables, fallback, user, scope=customer_scope(name))
    draft = generation.store(FEATURE, generated, params, variables, user)
    return generation.response(generated, draft)


def customer_scope(name: str) -> str:
    """Cache scope of one customer: a redacted email is only ever answered from that customer's own replies."""
    canonical = " ".join(name.lower().split())
    return "customer:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _order_facts(order: Mapping[str, Any] | None, number: str | None, text: str) -> OrderFacts | None:
    """Inline order data wins; else the stored order by number; else an order number found in the email."""
    if order:
        return OrderFacts.from_dict(order)
    if number:
        found = orders.find_order(number)
        return OrderFacts.from_order(found) if found else None
    found = orders.order_in_text(text)
    return OrderFacts.from_order(found) if found else None


def _template(kind: str, tone: str, name: str, order: OrderFacts | None, policy: Policy, subject: str) -> EmailDraftOut:
    """A rule-based reply that promises nothing beyond the policy text."""
    about = f" about order {order.order_number}" if order else ""
    middle = {
        "inquiry": [
            f"We have received your question{about}. A member of our team is checking the details "
            "and will reply with a full answer."
        ],
        "complaint": [
            f"We have logged your report{about} and our team is looking into what happened at the machine.",
            _refund_line(policy),
        ],
        "return": [
            f"We have received your refund request{about}. Our team will check it against our "
            "refund policy and get back to you.",
            _refund_line(policy),
        ],
    }[kind]
    body = "\n\n".join(
        [
            f"Hello {name or 'there'},",
            TONE_OPENINGS.get(tone, TONE_OPENINGS["professional"]),
            *middle,
            f"Kind regards,\n{policy.company}",
        ]
    )
    actions = [
        f"Check order {order.order_number} in the vending portal"
        if order
        else "Ask the customer for the machine number and time of purchase",
        "Verify the vend in the machine telemetry" if kind != "inquiry" else "Answer the question in detail",
    ]
    return EmailDraftOut(
        subject=reply_subject(subject),
        body=body,
        tone=tone,
        suggested_actions=actions,
        needs_human_review=True,
        sentiment="neutral",
        confidence=0.3,
    )


def reply_subject(subject: str) -> str:
    """ "Re: <their subject>", cut to the draft's subject limit (a 300-character subject plus "Re: " is too long)."""
    reply = f"Re: {subject}" if subject else "Re: your message"
    return reply if len(reply) <= SUBJECT_MAX else reply[: SUBJECT_MAX - 1] + "…"


def _refund_line(policy: Policy) -> str:
    if not policy.refunds_allowed:
        return "Refunds are reviewed case by case by our team."
    return (
        f"Under our policy, purchases within {policy.refund_window_days} days qualify for a refund "
        f"once our team has verified them; approved refunds are processed within "
        f"{policy.refund_days_to_process} business days."
    )
