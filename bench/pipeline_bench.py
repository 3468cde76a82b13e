"""Pipeline overhead benchmark: added latency over the raw SDK call, and the cache-hit path.

Run: .venv/bin/python bench/pipeline_bench.py [--calls 300] [--redis redis://127.0.0.1:6379/0]
Both paths talk to the same in-process fake provider (devtools/fake_llm), so network and server time cancel out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import anthropic
import redis

from devtools.fake_llm import FakeLLMServer
from services.llm import (
    InMemoryLedger,
    InMemoryPromptSource,
    LLMSettings,
    PromptVersion,
    build_pipeline,
)
from services.llm.providers import AnthropicProvider, Provider
from services.llm.types import Completion, CompletionRequest, StreamEvent

PROMPT = PromptVersion(
    "bench", 1, "You are a vending analyst. Be brief.", "Summarise: {{ note }}", ("note",), tier="fast"
)


class TimedProvider(Provider):
    """Wraps a provider and records the time spent inside the SDK call."""

    def __init__(self, inner: Provider) -> None:
        super().__init__(inner.name)
        self.inner = inner
        self.last_s = 0.0

    def complete(self, request: CompletionRequest) -> Completion:
        """Delegate and time."""
        started = time.perf_counter()
        try:
            return self.inner.complete(request)
        finally:
            self.last_s = time.perf_counter() - started

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        """Delegate (not measured)."""
        return self.inner.stream(request)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def timed(call: Callable[[], Any]) -> float:
    """Seconds one call took."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    """Print p50/p95 of raw SDK, pipeline miss, added overhead and cache hits."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--redis", default=None, help="also measure the cache-hit path with Redis backends")
    args = parser.parse_args()
    with FakeLLMServer() as fake:
        settings = LLMSettings(provider="anthropic", anthropic_api_key="bench", anthropic_base_url=fake.url)
        settings.daily_budget_usd = 1000.0
        bench_memory(args.calls, settings, fake)
        if args.redis:
            bench_redis(args, settings, fake)


def bench_memory(calls: int, settings: LLMSettings, fake: FakeLLMServer) -> None:
    """Interleave raw SDK calls and pipeline misses; then repeat one call for the cache-hit path."""
    raw = anthropic.Anthropic(api_key="bench", base_url=fake.url, max_retries=0)
    timed_provider = TimedProvider(AnthropicProvider("bench", fake.url))
    prompts = InMemoryPromptSource([PROMPT])
    pipeline = build_pipeline(settings, prompts, InMemoryLedger(), providers={"anthropic": timed_provider})

    def raw_call(i: int) -> None:
        """The same request straight through the SDK."""
        content = f"Summarise: note number {i}"
        raw.messages.create(
            model="claude-haiku-5-5",
            max_tokens=600,
            system=PROMPT.system,
            messages=[{"role": "user", "content": content}],
        )

    for i in range(30):  # warm up connections, templates and code paths
        raw_call(-i)
        pipeline.run("bench", "bench", {"note": f"warm {i}"})
    raw_s, pipe_s, added_s = [], [], []
    for i in range(calls):
        raw_s.append(timed(partial(raw_call, i)))
        total = timed(partial(pipeline.run, "bench", "bench", {"note": f"note number {i}"}))
        pipe_s.append(total)
        added_s.append(total - timed_provider.last_s)
    hit_s = [timed(lambda: pipeline.run("bench", "bench", {"note": "note number 1"})) for _ in range(calls)]
    report("raw SDK call (fake server)", raw_s)
    report("pipeline call, cache miss", pipe_s)
    report("pipeline added latency (miss, instrumented)", added_s)
    difference = percentiles(pipe_s)[0] - percentiles(raw_s)[0]
    print(f"{'pipeline minus raw SDK, difference of p50s':46s}     {difference:8.3f} ms")
    report("cache-hit path (memory backend)", hit_s)


def bench_redis(args: argparse.Namespace, settings: LLMSettings, fake: FakeLLMServer) -> None:
    """The same cache-hit path with Redis-backed cache, budget and breakers."""
    client = redis.Redis.from_url(args.redis)
    settings.namespace = f"bench-{time.time_ns()}"
    pipeline = build_pipeline(settings, InMemoryPromptSource([PROMPT]), InMemoryLedger(), client)
    pipeline.run("bench", "bench", {"note": "redis"})
    hit_s = [timed(lambda: pipeline.run("bench", "bench", {"note": "redis"})) for _ in range(args.calls)]
    report("cache-hit path (Redis backend)", hit_s)
    for key in client.scan_iter(match=f"{settings.namespace}:*"):
        client.delete(key)


def report(label: str, samples: list[float]) -> None:
    """One line: label, p50, p95."""
    p50, p95 = percentiles(samples)
    print(f"{label:46s} p50 {p50:8.3f} ms   p95 {p95:8.3f} ms   (n={len(samples)})")


if __name__ == "__main__":
    main()
