"""LLMSettings: the plain configuration object the app builds from its environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .cache import CACHE_MODES, CacheMode
from .errors import ConfigError
from .pricing import Price
from .types import TIERS, Tier

PROVIDERS = ("anthropic", "openai", "openai-compatible")
EMBEDDINGS = ("local", "provider", "none")

DEFAULT_MODELS: Mapping[str, Mapping[Tier, str]] = {
    "anthropic": {"fast": "claude-haiku-5-5", "balanced": "claude-sonnet-5-5", "powerful": "claude-opus-5-5"},
    "openai": {"fast": "gpt-5.6-luna", "balanced": "gpt-5.6-terra", "powerful": "gpt-5.6-sol"},
}
DEFAULT_MAX_OUTPUT: Mapping[Tier, int] = {"fast": 600, "balanced": 1200, "powerful": 2000}
DEFAULT_CONTEXT_BUDGET: Mapping[Tier, int] = {"fast": 4000, "balanced": 12000, "powerful": 30000}


@dataclass
class LLMSettings:
    """Every knob of the pipeline; defaults need no environment at all (provider None = rule-based only)."""

    provider: str | None = None
    fallback_provider: str | None = None  # None = the other provider if its key is configured
    anthropic_api_key: str | None = field(default=None, repr=False)
    openai_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    openai_base_url: str | None = None
    tier_models: dict[Tier, str] = field(default_factory=dict)  # overrides for the primary provider
    fallback_tier_models: dict[Tier, str] = field(default_factory=dict)
    tier_max_output_tokens: dict[Tier, int] = field(default_factory=lambda: dict(DEFAULT_MAX_OUTPUT))
    tier_context_budget: dict[Tier, int] = field(default_factory=lambda: dict(DEFAULT_CONTEXT_BUDGET))
    feature_tiers: dict[str, Tier] = field(default_factory=dict)
    daily_budget_usd: float = 10.0
    max_tokens_per_request: int = 4000
    low_budget_fraction: float = 0.2  # below this share of the budget left, features step down a tier
    # A call the budget cannot hold now waits this long for open reservations to settle before it falls back.
    budget_wait_s: float = 2.0
    min_output_tokens: int = 64  # a call is admitted with at least max(this, the feature's p95 output)
    cache_ttl_hours: float = 24.0
    cache_max_entries: int = 10_000
    request_timeout_s: float = 30.0
    retry_attempts: int = 3
    retry_base_s: float = 0.5
    retry_max_delay_s: float = 8.0
    retry_total_s: float = 20.0
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    # While Redis is unreachable each process may spend this share of the last known headroom (failover.py).
    budget_outage_share: float = 0.05
    # After a Redis error, skip Redis for this long before trying it again.
    store_retry_s: float = 5.0
    # Per-feature cache: "semantic" (exact + near hits), "exact" or "off"; unlisted features use the default.
    cache_modes: dict[str, CacheMode] = field(default_factory=dict)
    cache_default_mode: CacheMode = "exact"
    # "local" (hashed n-grams, no network), "provider" (OpenAI embeddings endpoint) or "none" (exact only).
    embeddings: str = "local"
    embedding_model: str = "text-embedding-3-small"
    similarity_threshold: float | None = None  # None = the embedder's calibrated default
    pii_features: frozenset[str] = frozenset()
    extra_prices: dict[str, Price] = field(default_factory=dict)
    namespace: str = "llm"

    def validate(self) -> None:
        """Reject impossible settings early, with a message that names the setting."""
        for name in (self.provider, self.fallback_provider):
            if name is not None and name not in PROVIDERS:
                raise ConfigError(f"unknown LLM provider {name!r}; expected one of {PROVIDERS}")
        if self.provider == "openai-compatible" and not self.openai_base_url:
            raise ConfigError("LLM_PROVIDER=openai-compatible needs OPENAI_BASE_URL")
        if self.provider is not None and not self._has_credentials(self.provider):
            env = "ANTHROPIC_API_KEY" if self.provider == "anthropic" else "OPENAI_API_KEY"
            raise ConfigError(f"LLM_PROVIDER={self.provider} needs {env} (or a base URL)")
        if self.daily_budget_usd < 0 or self.max_tokens_per_request <= 0:
            raise ConfigError("daily budget must be >= 0 and max tokens per request > 0")
        if self.embeddings not in EMBEDDINGS:
            raise ConfigError(f"unknown embeddings {self.embeddings!r}; expected one of {EMBEDDINGS}")
        for mode in (*self.cache_modes.values(), self.cache_default_mode):
            if mode not in CACHE_MODES:
                raise ConfigError(f"unknown cache mode {mode!r}; expected one of {CACHE_MODES}")
        for tier in self.feature_tiers.values():
            if tier not in TIERS:
                raise ConfigError(f"unknown tier {tier!r}; expected one of {TIERS}")

    def configured_providers(self) -> list[str]:
        """Primary first, then the fallback provider when it has credentials."""
        if self.provider is None:
            return []
        names = [self.provider]
        other = self.fallback_provider or self._other_provider()
        if other and other != self.provider and self._has_credentials(other):
            names.append(other)
        return names

    def models_for(self, provider: str) -> dict[Tier, str]:
        """Tier → model for one provider: defaults, overridden by the settings for that role."""
        family = "anthropic" if provider == "anthropic" else "openai"
        models = dict(DEFAULT_MODELS[family])
        models.update(self.tier_models if provider == self.provider else self.fallback_tier_models)
        return models

    def _other_provider(self) -> str | None:
        return "openai" if self.provider == "anthropic" else "anthropic"

    def _has_credentials(self, provider: str) -> bool:
        if provider == "anthropic":
            return bool(self.anthropic_api_key or self.anthropic_base_url)
        return bool(self.openai_api_key or self.openai_base_url)
