"""Prometheus metrics: HTTP requests, LLM calls, and gauges read at scrape time (budget, cache, breakers, jobs).

Two modes, chosen once per app:
- one process (flask run, tests): a CollectorRegistry per app holds the metrics;
- gunicorn (PROMETHEUS_MULTIPROC_DIR set by gunicorn.conf.py before workers import anything): every
  worker writes its counters to mmap files in that directory, a scrape merges them with
  MultiProcessCollector, and gunicorn's child_exit hook marks dead workers.
Scrape-time figures come from shared state (the Redis budget counter and cache stats when REDIS_URL is
set), so each instance reports the cluster's value: aggregate them with max(), not sum().
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from services.llm import LedgerRecord

log = logging.getLogger(__name__)
EXTENSION_KEY = "planogram.metrics"
PIPELINE_KEY = "planogram.llm"  # services.ai.EXTENSION_KEY (not imported: ai wires the sink from here)
BACKENDS_KEY = "planogram.backends"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LLM_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)


def multiprocess_dir() -> str | None:
    """The gunicorn multiprocess directory, when it is set and exists."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


class Metrics:
    """The app's instruments. In multiprocess mode they are registered nowhere: the mmap files are the store."""

    def __init__(self, app: Flask, multiproc: str | None) -> None:
        self.app = app
        self.multiproc = multiproc
        self.registry = None if multiproc else CollectorRegistry()
        reg = self.registry
        self.http_requests = Counter(
            "planogram_http_requests",
            "HTTP requests by route (URL rule), method and status",
            ["method", "endpoint", "status"],
            registry=reg,
        )
        self.http_latency = Histogram(
            "planogram_http_request_duration_seconds",
            "Time to the response (first byte for streams)",
            ["method", "endpoint"],
            buckets=HTTP_BUCKETS,
            registry=reg,
        )
        self.llm_calls = Counter(
            "planogram_llm_calls",
            "LLM pipeline calls (ok, cached or fallback)",
            ["feature", "model", "status"],
            registry=reg,
        )
        self.llm_tokens = Counter(
            "planogram_llm_tokens",
            "Tokens reported by the provider; kind = input, output or cached (input read "
            "from the provider's prompt cache)",
            ["feature", "model", "kind"],
            registry=reg,
        )
        self.llm_cost = Counter("planogram_llm_cost_usd", "Settled LLM cost in USD", ["feature", "model"], registry=reg)
        self.llm_latency = Histogram(
            "planogram_llm_call_duration_seconds",
            "LLM pipeline call latency",
            ["feature", "model", "status"],
            buckets=LLM_BUCKETS,
            registry=reg,
        )
        self.llm_fallbacks = Counter(
            "planogram_llm_fallbacks", "Fallback answers by reason", ["feature", "error_kind"], registry=reg
        )
        self.scrape = ScrapeCollector(app)
        if self.registry is not None:
            self.registry.register(self.scrape)

    def observe_llm(self, row: LedgerRecord) -> None:
        """Count one ledger row (the ledger sink calls this after storing it)."""
        model = row.model or "none"
        self.llm_calls.labels(row.feature, model, row.status).inc()
        for kind, amount in (("input", row.tokens_in), ("output", row.tokens_out), ("cached", row.tokens_cached)):
            if amount:
                self.llm_tokens.labels(row.feature, model, kind).inc(amount)
        self.llm_cost.labels(row.feature, model).inc(max(row.cost_usd, 0.0))
        self.llm_latency.labels(row.feature, model, row.status).observe(max(row.latency_ms, 0.0) / 1000)
        if row.fallback_used:
            self.llm_fallbacks.labels(row.feature, row.error_kind or "unknown").inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every metric (merged from all workers in multiprocess mode)."""
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiproc)  # type: ignore[no-untyped-call]
            registry.register(self.scrape)
        return generate_latest(registry), CONTENT_TYPE_LATEST


class ScrapeCollector(Collector):
    """Figures computed when Prometheus scrapes: budget, cache, breakers, job queue, active alerts."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> list[Metric]:
        """Nothing up front: collecting touches shared state, which registration must not do."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Each part fails alone (a Redis blip must not hide the HTTP and LLM series)."""
        pipeline = self.app.extensions.get(PIPELINE_KEY)
        parts: list[Callable[[Any], Iterator[Metric]]] = [self._jobs]
        if pipeline is not None:
            parts = [self._budget, self._cache, self._breakers, *parts]
        for part in parts:
            try:
                yield from part(pipeline)
            except Exception:  # reported, and the rest of the scrape goes on
                log.warning("metrics: %s failed", part.__name__, exc_info=True)

    def _budget(self, pipeline: Any) -> Iterator[Metric]:
        snap = pipeline.costs.snapshot()
        for name, key, text in (
            ("planogram_llm_budget_usd", "budget_usd", "Daily LLM budget in USD"),
            ("planogram_llm_budget_spent_usd", "spent_usd", "Spent today in USD, open reservations included"),
            ("planogram_llm_budget_remaining_usd", "remaining_usd", "Budget left today in USD"),
        ):
            yield GaugeMetricFamily(name, text, value=float(snap[key]))

    def _cache(self, pipeline: Any) -> Iterator[Metric]:
        stats = pipeline.cache.stats()
        hits = CounterMetricFamily("planogram_llm_cache_hits", "Semantic cache hits", labels=["feature"])
        misses = CounterMetricFamily("planogram_llm_cache_misses", "Semantic cache misses", labels=["feature"])
        saved = CounterMetricFamily(
            "planogram_llm_cache_saved_usd", "USD not spent thanks to cache hits", labels=["feature"]
        )
        for feature, figures in stats["by_feature"].items():
            hits.add_metric([feature], figures["hits"])
            misses.add_metric([feature], figures["misses"])
            saved.add_metric([feature], figures["usd_saved"])
        yield from (hits, misses, saved)
        yield GaugeMetricFamily("planogram_llm_cache_entries", "Live cache entries", value=stats["entries"])
        yield GaugeMetricFamily("planogram_llm_cache_bytes", "Approximate cache size", value=stats["memory_bytes"])

    def _breakers(self, pipeline: Any) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "planogram_llm_circuit_state",
            "1 for the current breaker state of each provider",
            labels=["provider", "state"],
        )
        for provider, state in pipeline.breaker_states().items():
            for name in ("closed", "open", "half_open"):
                family.add_metric([provider, name], 1.0 if state["state"] == name else 0.0)
        yield family

    def _jobs(self, _pipeline: Any) -> Iterator[Metric]:
        backends = self.app.extensions.get(BACKENDS_KEY)
        depth = getattr(getattr(backends, "jobs", None), "queue_depth", None)
        if depth is not None:
            yield GaugeMetricFamily("planogram_job_queue_depth", "Background jobs waiting", value=float(depth))


def init_http_metrics(app: Flask, metrics: Metrics) -> None:
    """Time every request and count it by URL rule (never the raw path: bounded label values)."""

    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    # First in line, so requests the auth guard turns away (401) are timed and counted too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
            metrics.http_requests.labels(request.method, rule, str(response.status_code)).inc()
            metrics.http_latency.labels(request.method, rule).observe(time.perf_counter() - started)
        return response


def may_read_metrics(app: Flask, authorization: str, user: Any) -> bool:
    """Admins, or a scraper presenting METRICS_TOKEN as a bearer token (compared in constant time)."""
    token = app.config.get("METRICS_TOKEN")
    bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    if token and bearer and hmac.compare_digest(bearer.encode(), str(token).encode()):
        return True
    return user is not None and getattr(user, "role", None) == "admin"


def metrics(app: Flask) -> Metrics:
    """The app's metrics."""
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def init_metrics(app: Flask) -> Metrics:
    """Build the app's metrics and the HTTP hooks."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin of every counter: half the series, nothing lost
    instance = Metrics(app, multiprocess_dir())
    app.extensions[EXTENSION_KEY] = instance
    init_http_metrics(app, instance)
    return instance
