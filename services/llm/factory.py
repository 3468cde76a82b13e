"""build_pipeline: the one place where settings become a wired pipeline (memory or Redis backends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .budget import BudgetCounter, CostMonitor, MemoryBudgetCounter, RedisBudgetCounter
from .cache import SemanticCache
from .cache_backends import CacheBackend, MemoryCacheBackend, RedisCacheBackend
from .embedding import LocalEmbedder
from .errors import ConfigError
from .execution import CallExecutor, OutputTracker
from .failover import failover_state
from .ledger import LedgerSink
from .pii import PIIRedactor
from .pipeline import LLMIntegrationPipeline
from .preparation import Preparer
from .pricing import PriceTable
from .prompts import PromptSource
from .providers import AnthropicProvider, Embedder, OpenAIEmbedder, OpenAIProvider, Provider
from .resilience import BreakerStore, CircuitBreaker, MemoryBreakerStore, RedisBreakerStore, RetryPolicy
from .routing import TierRouter
from .settings import LLMSettings
from .similarity import SimilarityLayer

# Cosine thresholds over the free wording (the entity guard runs after): calibrated on bench/cache_replay.py.
LOCAL_THRESHOLD = 0.75
PROVIDER_THRESHOLD = 0.9


def make_provider(settings: LLMSettings, name: str) -> Provider:
    """One SDK-backed provider by name (keys are passed to the SDK, never logged)."""
    if name == "anthropic":
        return AnthropicProvider(settings.anthropic_api_key, settings.anthropic_base_url, settings.request_timeout_s)
    return OpenAIProvider(settings.openai_api_key, settings.openai_base_url, settings.request_timeout_s, name=name)


def make_embedder(settings: LLMSettings) -> Embedder | None:
    """The similarity layer's embedder: local n-grams, the OpenAI(-compatible) endpoint, or none."""
    if settings.embeddings == "none":
        return None
    if settings.embeddings == "provider":
        if not (settings.openai_api_key or settings.openai_base_url):
            raise ConfigError("LLM_EMBEDDINGS=provider needs an OpenAI(-compatible) key or base URL")
        return OpenAIEmbedder(settings.openai_api_key, settings.openai_base_url, settings.embedding_model)
    return LocalEmbedder()


def similarity_threshold(settings: LLMSettings, embedder: Embedder | None) -> float:
    """The configured threshold, else the one calibrated for the embedder (bench/cache_replay.py)."""
    if settings.similarity_threshold is not None:
        return settings.similarity_threshold
    return LOCAL_THRESHOLD if isinstance(embedder, LocalEmbedder) else PROVIDER_THRESHOLD


def build_pipeline(
    settings: LLMSettings,
    prompts: PromptSource,
    ledger: LedgerSink,
    redis: Any | None = None,
    *,
    providers: dict[str, Provider] | None = None,
    embedder: Embedder | None = None,
    retry: RetryPolicy | None = None,
    before_slow_call: Callable[[], object] | None = None,
) -> LLMIntegrationPipeline:
    """Wire every part; with a redis-py client the cache, budget and breakers are shared across processes.

    Raises ConfigError for an unknown provider or a model without a price.
    """
    settings.validate()
    prices = PriceTable(settings.extra_prices)
    names = settings.configured_providers()
    router = TierRouter(settings, prices, names) if names else None
    if providers is None:
        providers = {name: make_provider(settings, name) for name in names}
    embedder = embedder if embedder is not None else make_embedder(settings)
    if embedder is not None and getattr(embedder, "billed", True):
        prices.require([embedder.model])
    backend, costs, breaker = _shared_state(settings, redis)
    ttl_s = settings.cache_ttl_hours * 3600
    cache = SemanticCache(
        backend,
        ttl_s,
        embedder,
        settings.cache_modes,
        similarity_threshold(settings, embedder),
        settings.cache_default_mode,
    )
    retry = retry or RetryPolicy(
        settings.retry_attempts, settings.retry_base_s, settings.retry_max_delay_s, settings.retry_total_s
    )
    executor = (
        CallExecutor(
            providers, breaker, retry, costs, prices, settings.budget_wait_s, OutputTracker(settings.min_output_tokens)
        )
        if names
        else None
    )
    similarity = SimilarityLayer(cache, costs, prices, settings.pii_features) if embedder is not None else None
    preparer = Preparer(prompts, router, PIIRedactor())
    return LLMIntegrationPipeline(
        preparer=preparer,
        executor=executor,
        cache=cache,
        costs=costs,
        breaker=breaker,
        ledger=ledger,
        timeout_s=settings.request_timeout_s,
        similarity=similarity,
        prices=prices,
        before_slow_call=before_slow_call,
    )


def _shared_state(settings: LLMSettings, redis: Any | None) -> tuple[CacheBackend, CostMonitor, CircuitBreaker]:
    """Cache, budget and breakers: in Redis when a client is given (multi-process), else in memory."""
    ns = settings.namespace
    if redis is not None:
        backend: CacheBackend = RedisCacheBackend(redis, f"{ns}:cache")
        counter: BudgetCounter = RedisBudgetCounter(redis, f"{ns}:budget")
        store: BreakerStore = RedisBreakerStore(redis, f"{ns}:breaker")
        backend, counter, store = failover_state(
            backend, counter, store, redis.ping, settings.budget_outage_share, settings.store_retry_s
        )
    else:
        backend = MemoryCacheBackend(max_entries=settings.cache_max_entries)
        counter, store = MemoryBudgetCounter(), MemoryBreakerStore()
    costs = CostMonitor(counter, settings.daily_budget_usd)
    breaker = CircuitBreaker(store, settings.breaker_failures, settings.breaker_reset_s)
    return backend, costs, breaker
