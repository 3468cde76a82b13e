"""Fixtures for the LLM pipeline tests: one fake provider server, pipelines wired against it, Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from devtools.fake_llm import FakeLLMServer
from services.llm import (
    InMemoryLedger,
    InMemoryPromptSource,
    LLMIntegrationPipeline,
    LLMSettings,
    PromptVersion,
    build_pipeline,
)
from services.llm.resilience import RetryPolicy

PROMPTS = (
    PromptVersion(
        "summary",
        1,
        "You are a vending analyst. Be brief.",
        "Summarise this note: {{ note }}",
        ("note",),
        tier="fast",
    ),
    PromptVersion(
        "advice",
        3,
        "You advise merchandisers.",
        "Device {{ device }}.\n{{ planogram | default('(no planogram)') }}\nQuestion: {{ question }}",
        ("device", "question"),
        tier="balanced",
        max_tokens=400,
    ),
    PromptVersion(
        "reply",
        2,
        "You draft polite customer service replies.",
        "Customer wrote:\n{{ email }}\nDraft a {{ tone }} reply.",
        ("email", "tone"),
        tier="balanced",
    ),
    PromptVersion(
        "caption",
        1,
        "Write captions.",
        "Caption for {{ product }}",
        ("product",),
        variant="A",
        traffic_pct=50,
        tier="fast",
    ),
    PromptVersion(
        "caption",
        2,
        "Write witty captions.",
        "Witty caption for {{ product }}",
        ("product",),
        variant="B",
        traffic_pct=50,
        tier="fast",
    ),
)


@dataclass
class Harness:
    """A pipeline wired to the fake server, with its ledger and settings at hand."""

    pipeline: LLMIntegrationPipeline
    ledger: InMemoryLedger
    settings: LLMSettings
    sleeps: list[float]


@pytest.fixture
def namespace() -> str:
    """A unique key prefix per test, so tests never see each other's Redis keys."""
    return f"test-llm-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def redis_client(redis_url: str, namespace: str) -> Iterator[redis.Redis]:
    """A client; the test's namespace is deleted afterwards (other suites may share the database)."""
    client = redis.Redis.from_url(redis_url)
    yield client
    for key in client.scan_iter(match=f"{namespace}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def make_harness(fake: FakeLLMServer, namespace: str) -> Iterator[Callable[..., Harness]]:
    """Factory: `make_harness(redis=None, **settings_overrides)`; defaults to Anthropic on the fake server."""
    built: list[LLMIntegrationPipeline] = []

    def build(redis_client: Any = None, prompts: tuple[PromptVersion, ...] = PROMPTS, **overrides: Any) -> Harness:
        values: dict[str, Any] = {
            "provider": "anthropic",
            "anthropic_api_key": "test-anthropic-key",
            "anthropic_base_url": fake.url,
            # Well above a normal call on a loaded machine, well below the fake's 5 s hang ("timeout" errors).
            "request_timeout_s": 1.5,
            "retry_base_s": 0.005,
            "retry_max_delay_s": 0.02,
            "retry_total_s": 6.0,
            "daily_budget_usd": 5.0,
            "namespace": namespace,
        }
        values.update(overrides)
        settings = LLMSettings(**values)
        sleeps: list[float] = []
        retry = RetryPolicy(
            settings.retry_attempts,
            settings.retry_base_s,
            settings.retry_max_delay_s,
            settings.retry_total_s,
            sleep=lambda s: sleeps.append(s),
        )
        ledger = InMemoryLedger()
        pipeline = build_pipeline(settings, InMemoryPromptSource(prompts), ledger, redis_client, retry=retry)
        built.append(pipeline)
        return Harness(pipeline, ledger, settings, sleeps)

    yield build
    for pipeline in built:
        pipeline.close()
