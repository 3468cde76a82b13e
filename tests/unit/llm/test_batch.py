"""Batch calls through the real SDKs' batch APIs (Anthropic Message Batches, OpenAI Batch + files) on the fake."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from devtools.fake_llm import FakeLLMServer
from services.llm import BatchTicket, LLMResult
from services.llm.preparation import CallSpec
from services.llm.pricing import PriceTable
from services.llm.types import Usage

from .conftest import Harness


def _specs(*notes: str) -> dict[str, CallSpec]:
    return {f"n{i}": CallSpec.build("summary", "summary", {"note": note}) for i, note in enumerate(notes)}


def _wire(provider: str, fake: FakeLLMServer) -> dict[str, str]:
    if provider == "anthropic":
        return {"provider": "anthropic", "anthropic_base_url": fake.url}
    return {"provider": "openai", "openai_api_key": "test-openai-key", "openai_base_url": f"{fake.url}/v1"}


def _run_to_end(h: Harness, specs: dict[str, CallSpec]) -> dict[str, LLMResult]:
    """Submit, poll until ended (the fake reports one poll in progress), collect from the JSON ticket."""
    submitted = h.pipeline.batches.submit(specs)
    ticket = BatchTicket.from_json(submitted.ticket.to_json())  # as a job reloads it
    polls = 0
    while not h.pipeline.batches.poll(ticket):
        polls += 1
        assert polls < 5
    return {**submitted.done, **h.pipeline.batches.collect(ticket, specs)}


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_batch_answers_at_half_price_fill_the_cache_and_ledger(
    provider: str, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness(**_wire(provider, fake))
    warm = h.pipeline.run("summary", "summary", {"note": "Tea sold well."})
    specs = _specs("Tea sold well.", "Cola sold out twice.", "Crisps are slow on Mondays.")
    results = _run_to_end(h, specs)

    assert results["n0"].status == "cached" and not results["n0"].batch  # answered before submitting
    batch_calls = [c for c in fake.calls if c.api == f"{provider}-batch"]
    assert len(batch_calls) == 2
    for key, call in zip(("n1", "n2"), batch_calls, strict=True):
        result = results[key]
        assert (result.status, result.batch, result.fallback_used, result.text) == ("ok", True, False, call.text)
        usage = Usage(call.usage["prompt"], call.usage["completion"], call.usage["cached"])
        assert result.tokens_in == call.usage["prompt"] and result.tokens_out == call.usage["completion"]
        assert result.cost_usd == pytest.approx(PriceTable().cost(call.model, usage) * 0.5)
    rows = {row.request_id: row for row in h.ledger.rows}
    assert all(rows[results[k].request_id].batch for k in ("n1", "n2"))
    assert not rows[warm.request_id].batch
    # Every reservation is settled to the batch-priced cost: the budget equals the ledger's sum.
    spent = h.pipeline.costs.snapshot()["spent_usd"]
    assert spent == pytest.approx(sum(r.cost_usd for r in h.ledger.rows), abs=1e-8)
    again = h.pipeline.run("summary", "summary", {"note": "Cola sold out twice."})
    assert again.status == "cached" and again.text == results["n1"].text


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_errored_and_expired_requests_fall_back_with_their_reason(
    provider: str, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness(**_wire(provider, fake))
    fake.add(error="500", contains="Cola")
    fake.script.batch_expire_after = 2  # the third request is never processed
    results = _run_to_end(h, _specs("Tea sold well.", "Cola sold out twice.", "Crisps are slow on Mondays."))

    assert results["n0"].status == "ok" and results["n0"].batch
    errored, expired = results["n1"], results["n2"]
    assert (errored.fallback_used, errored.error_kind, errored.fallback_reason) == (
        True,
        "batch_errored",
        "provider_error",
    )
    assert (expired.fallback_used, expired.error_kind, expired.fallback_reason) == (
        True,
        "batch_expired",
        "provider_error",
    )
    assert errored.cost_usd == expired.cost_usd == 0.0 and errored.batch and expired.batch
    assert h.pipeline.costs.snapshot()["spent_usd"] == pytest.approx(results["n0"].cost_usd, abs=1e-8)
    # Fallbacks are never cached: the same request asks the provider again.
    assert h.pipeline.run("summary", "summary", {"note": "Crisps are slow on Mondays."}).status == "ok"


def test_budget_too_small_for_a_batched_call_falls_back_without_sending(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness(daily_budget_usd=0.0000001)
    submitted = h.pipeline.batches.submit(_specs("Tea sold well."))
    assert submitted.ticket.pending == 0 and not fake.calls
    result = submitted.done["n0"]
    assert (result.fallback_used, result.error_kind, result.fallback_reason) == (True, "budget_exceeded", "budget")


def test_provider_down_at_submission_falls_back_and_releases_the_budget(make_harness: Callable[..., Harness]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    h = make_harness(anthropic_base_url=url)
    submitted = h.pipeline.batches.submit(_specs("Tea sold well.", "Cola sold out twice."))
    assert submitted.ticket.pending == 0
    assert {r.error_kind for r in submitted.done.values()} == {"connection"}
    assert all(r.fallback_reason == "provider_error" and r.batch for r in submitted.done.values())
    assert h.pipeline.costs.snapshot()["spent_usd"] == 0.0


def test_batch_reserves_the_worst_case_at_the_batch_price(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    fake.script.batch_polls = 5  # still running while we look at the budget
    specs = _specs("Tea sold well.")
    submitted = h.pipeline.batches.submit(specs)
    prepared = h.pipeline.preparer.prepare(specs["n0"], 1.0)
    route = prepared.routes[0]
    price = PriceTable().get(route.model)
    expected = price.worst_case(prepared.input_estimate, route.max_output_tokens) * 0.5
    assert h.pipeline.costs.snapshot()["spent_usd"] == pytest.approx(expected, rel=1e-6)
    assert not h.pipeline.batches.poll(submitted.ticket)
