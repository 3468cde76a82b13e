"""Structured output with one repair, PII redaction before the provider and restoration after."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from pydantic import BaseModel, Field

from devtools.fake_llm import MALFORMED_JSON, FakeLLMServer
from services.llm.errors import BadOutput
from services.llm.pii import PIIRedactor, StreamRestorer, luhn_ok, restore
from services.llm.structured import extract_json

from .conftest import Harness


class Advice(BaseModel):
    """The feature's schema in these tests."""

    slot: str
    reason: str
    confidence: float = Field(ge=0, le=1)


GOOD = {"slot": "B2", "reason": "eye level", "confidence": 0.6}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(GOOD),
        f"```json\n{json.dumps(GOOD)}\n```",
        f"Sure! Here is my advice:\n{json.dumps(GOOD)}\nHope that helps.",
    ],
)
def test_json_is_found_in_plain_fenced_and_prose_answers(text: str) -> None:
    assert extract_json(text) == GOOD


def test_no_json_is_bad_output() -> None:
    with pytest.raises(BadOutput):
        extract_json("I cannot help with that.")


def test_valid_structured_answer(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    fake.add(text=f"Here you go: {json.dumps(GOOD)}")
    result = make_harness().pipeline.run("advice", "advice", {"device": "D1", "question": "Q"}, schema=Advice)
    assert isinstance(result.data, Advice) and result.data.slot == "B2"
    assert result.confidence == pytest.approx(0.6)  # the model's own, lower than the pipeline's
    assert "JSON Schema" in fake.calls[-1].prompt


def test_invalid_answer_is_repaired_once(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    fake.add(text=MALFORMED_JSON)
    fake.add(text=json.dumps({**GOOD, "confidence": 0.95}))
    result = make_harness().pipeline.run("advice", "advice", {"device": "D1", "question": "Q"}, schema=Advice)
    assert result.status == "ok" and isinstance(result.data, Advice)
    assert len(fake.calls) == 2 and "could not be used" in fake.calls[1].prompt
    assert result.tokens_out == sum(c.usage["completion"] for c in fake.calls)
    assert result.confidence == pytest.approx(0.7)


def test_still_invalid_after_repair_falls_back(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    fake.add(text='{"slot": "B2"}', times=2)
    h = make_harness()
    result = h.pipeline.run(
        "advice",
        "advice",
        {"device": "D1", "question": "Q"},
        schema=Advice,
        fallback=lambda v: Advice(slot="A1", reason="best seller rule", confidence=0.3),
    )
    assert (result.fallback_used, result.error_kind, result.data.slot) == (True, "bad_output", "A1")
    assert result.cost_usd > 0  # both paid calls are on the ledger row
    assert h.ledger.get(result.request_id).cost_usd == result.cost_usd
    assert h.pipeline.run("advice", "advice", {"device": "D1", "question": "Q"}, schema=Advice).status != "cached"


EMAIL = (
    "Hello, I am Jane (jane.doe@example.com, +44 20 7946 0958). Card 4111 1111 1111 1111 was charged "
    "twice for order #AB-99812. Ship to 221B Baker Street please."
)


def test_redaction_uses_stable_placeholders_and_restores() -> None:
    redaction = PIIRedactor(orders=True).redact(EMAIL + " Again: jane.doe@example.com")
    text = redaction.text
    for secret in ("jane.doe@example.com", "7946", "4111", "AB-99812", "Baker Street"):
        assert secret not in text
    assert text.count("[EMAIL_1]") == 2 and "[CARD_1]" in text and "[ORDER_1]" in text and "[ADDRESS_1]" in text
    assert restore(text, redaction.mapping) == EMAIL + " Again: jane.doe@example.com"


def test_non_luhn_digits_and_small_numbers_are_kept() -> None:
    assert not luhn_ok("1234567890123456") and luhn_ok("4111111111111111")
    text = "Ref 1234 5678 9012 3456, 3 cans at 2.50 on 2026-01-05"
    assert PIIRedactor().redact(text).text == text


def test_pipeline_sends_redacted_text_and_restores_the_draft(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.add(text="Dear customer, we will refund the card [CARD_1] and email [EMAIL_1] today.")
    result = make_harness().pipeline.run("reply", "reply", {"email": EMAIL, "tone": "warm"}, pii=True)
    sent = fake.calls[-1].prompt
    assert "jane.doe@example.com" not in sent and "4111" not in sent and "[EMAIL_1]" in sent
    assert "4111 1111 1111 1111" in result.text and "jane.doe@example.com" in result.text


def test_stream_restorer_handles_placeholders_split_across_deltas() -> None:
    restorer = StreamRestorer({"[EMAIL_1]": "a@b.co"})
    out = [*restorer.feed("Write to [EM"), *restorer.feed("AIL_1] now"), *restorer.flush()]
    assert "".join(out) == "Write to a@b.co now"
