"""Retries, circuit breakers and the fallback chain: every call answers, none raises."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from devtools.fake_llm import FakeLLMServer
from services.llm import LLMResult, StreamError

from .conftest import Harness


def _two_providers(fake: FakeLLMServer, **extra: Any) -> dict[str, Any]:
    return {"openai_api_key": "test-openai-key", "openai_base_url": f"{fake.url}/v1", **extra}


def test_thirty_percent_failures_every_call_answers(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    fake.script.set_failure_rate(0.3, seed=7)
    h = make_harness(**_two_providers(fake))

    def call(i: int) -> LLMResult:
        kwargs: dict[str, Any] = {"fallback": lambda v: "rule-based"}
        if i % 2:
            return h.pipeline.run("summary", "summary", {"note": f"note {i}"}, stream=True, **kwargs)
        return h.pipeline.run("summary", "summary", {"note": f"note {i}"}, **kwargs)

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(call, range(90)))
    assert len(results) == 90 and all(r.text for r in results)
    assert {r.status for r in results} <= {"ok", "fallback"}
    assert sum(r.status == "ok" for r in results) >= 60
    outcomes = {c.outcome for c in fake.calls}
    assert {"429", "500", "529", "timeout", "cut"} <= outcomes
    assert not any("cut off" in r.text for r in results if r.status == "ok")
    assert len(h.ledger.rows) == 90


def test_retry_after_is_honoured(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    fake.add(error="429", retry_after=0.25)
    h = make_harness()
    result = h.pipeline.run("summary", "summary", {"note": "busy"})
    assert result.status == "ok" and [c.outcome for c in fake.calls] == ["429", "ok"]
    assert h.sleeps and h.sleeps[0] >= 0.25
    assert h.ledger.get(result.request_id).attempts == 2


def test_timeout_and_overload_are_retried(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    fake.add(error="timeout")
    fake.add(error="529")
    result = make_harness().pipeline.run("summary", "summary", {"note": "slow"})
    assert result.status == "ok" and [c.outcome for c in fake.calls] == ["timeout", "529", "ok"]


def test_breaker_opens_and_calls_fail_over_to_the_other_provider(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.add(error="500", model="claude-haiku-5-5", times=None)
    h = make_harness(**_two_providers(fake), breaker_failures=3)
    first = h.pipeline.run("summary", "summary", {"note": "a"})
    assert (first.status, first.provider, first.model) == ("ok", "openai", "gpt-5.6-luna")
    assert h.pipeline.breaker_states()["anthropic"]["state"] == "open"
    anthropic_calls = sum(c.api == "anthropic" for c in fake.calls)
    second = h.pipeline.run("summary", "summary", {"note": "b"})
    assert second.provider == "openai" and sum(c.api == "anthropic" for c in fake.calls) == anthropic_calls
    assert h.pipeline.monitoring()["breakers"]["openai"]["state"] == "closed"


def test_breaker_state_is_shared_through_redis(
    redis_client: redis.Redis, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.add(error="500", model="claude-haiku-5-5", times=None)
    one = make_harness(redis_client=redis_client, breaker_failures=2, retry_attempts=2)
    two = make_harness(redis_client=redis_client, breaker_failures=2)
    assert one.pipeline.run("summary", "summary", {"note": "x"}).fallback_used
    assert two.pipeline.breaker_states()["anthropic"]["state"] == "open"
    result = two.pipeline.run("summary", "summary", {"note": "y"})
    assert result.error_kind == "breaker_open"


def test_everything_failing_returns_the_flagged_fallback(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.add(error="500", times=None)
    h = make_harness(**_two_providers(fake))
    result = h.pipeline.run("summary", "summary", {"note": "down"})
    assert (result.status, result.fallback_used, result.error_kind) == ("fallback", True, "server_error")
    assert result.text.startswith("No AI answer") and result.confidence == 0.0
    assert h.ledger.get(result.request_id).error_kind == "server_error"


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_stream_cut_midway_ends_with_an_error_event_and_is_not_cached(
    provider: str, fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.add(error="cut")
    h = make_harness(provider=provider, openai_base_url=f"{fake.url}/v1")
    items = list(h.pipeline.stream("summary", "summary", {"note": "cut"}, fallback=lambda v: "rule-based"))
    deltas = [i for i in items if isinstance(i, str)]
    errors = [i for i in items if isinstance(i, StreamError)]
    final = items[-1]
    assert deltas and "".join(deltas).startswith("This answer is cut off")
    assert len(errors) == 1 and errors[0].kind == "stream_cut"
    assert isinstance(final, LLMResult) and final.fallback_used and final.error_kind == "stream_cut"
    assert final.text == "rule-based"
    again = h.pipeline.run("summary", "summary", {"note": "cut"})
    assert again.status == "ok" and not again.cached


def test_stream_failure_before_any_text_is_retried_transparently(
    fake: FakeLLMServer, make_harness: Callable[..., Harness]
) -> None:
    fake.add(error="500")
    items = list(make_harness().pipeline.stream("summary", "summary", {"note": "retry"}))
    assert not any(isinstance(i, StreamError) for i in items)
    final = items[-1]
    assert isinstance(final, LLMResult) and final.status == "ok"


def test_failing_model_falls_back_to_a_cheaper_tier(fake: FakeLLMServer, make_harness: Callable[..., Harness]) -> None:
    fake.add(error="500", model="claude-sonnet-5-5", times=None)
    result = make_harness().pipeline.run("advice", "advice", {"device": "D1", "question": "Q"})
    assert (result.status, result.model, result.tier) == ("ok", "claude-haiku-5-5", "fast")
