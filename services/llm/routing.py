"""Tier routing: feature → tier → (provider, model, output cap, context budget), with budget downgrade."""

from __future__ import annotations

from dataclasses import dataclass

from .pricing import PriceTable
from .settings import LLMSettings
from .types import TIERS, Tier


@dataclass(frozen=True, slots=True)
class Route:
    """Where one attempt goes."""

    tier: Tier
    provider: str
    model: str
    max_output_tokens: int
    context_budget: int


class TierRouter:
    """Resolves routes from settings; every model it can return has a price (checked at construction)."""

    def __init__(self, settings: LLMSettings, prices: PriceTable, providers: list[str]) -> None:
        self.settings = settings
        self.providers = providers
        self._models = {name: settings.models_for(name) for name in providers}
        prices.require([model for models in self._models.values() for model in models.values()])

    def tier_for(self, feature: str, prompt_tier: Tier | None, remaining_fraction: float) -> Tier:
        """Admin override, else the prompt's tier, else balanced; stepped down when the budget runs low."""
        tier: Tier = self.settings.feature_tiers.get(feature) or prompt_tier or "balanced"
        low = self.settings.low_budget_fraction
        if low > 0 and remaining_fraction < low:
            steps = 2 if remaining_fraction < low / 2 else 1
            tier = TIERS[max(TIERS.index(tier) - steps, 0)]
        return tier

    def chain(self, tier: Tier, max_tokens: int | None) -> list[Route]:
        """Attempt order: every provider at `tier`, then every provider one tier cheaper (bounds the time)."""
        routes = [self.route(provider, tier, max_tokens) for provider in self.providers]
        if tier != TIERS[0]:
            cheaper = TIERS[TIERS.index(tier) - 1]
            routes.extend(self.route(provider, cheaper, max_tokens) for provider in self.providers)
        return routes

    def route(self, provider: str, tier: Tier, max_tokens: int | None) -> Route:
        """One route; the output cap is the smallest of prompt, tier and per-request limits."""
        caps = [self.settings.tier_max_output_tokens[tier], self.settings.max_tokens_per_request]
        if max_tokens:
            caps.append(max_tokens)
        return Route(tier, provider, self._models[provider][tier], min(caps), self.settings.tier_context_budget[tier])
