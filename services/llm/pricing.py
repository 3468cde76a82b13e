"""The one price table: USD per million tokens per model, with the date it was checked.

Sources (checked 2026-11-20): Anthropic "Models & pricing" (platform.claude.com/docs/about-claude/pricing)
and OpenAI "API pricing" (developers.openai.com/api/docs/pricing). Update this file, and only this file,
when a provider changes its prices. A model missing here is a ConfigError at start-up, never a $0 cost.

Batch price: Anthropic's Message Batches API and OpenAI's Batch API both bill 50 % of the standard price
(input, cached input, cache writes and output alike; the discounts stack with prompt caching), for
answers within 24 hours. `Price.batch` is that share; `batch_cost`/`batch_worst_case` apply it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from .errors import ConfigError
from .types import Usage

EFFECTIVE_DATE = date(2026, 11, 20)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens; `long_*` applies to every token of a call whose prompt exceeds the limit."""

    input: float
    output: float
    cached_input: float
    cache_write: float | None = None
    long_prompt_threshold: int | None = None
    long_prompt_multiplier: float = 1.0
    batch: float = 0.5  # share of the price billed through the providers' batch APIs

    def cost(self, usage: Usage) -> float:
        """Dollar cost of one call from the provider-reported usage."""
        uncached = max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
        write_rate = self.cache_write if self.cache_write is not None else self.input
        dollars = (
            uncached * self.input
            + usage.cached_tokens * self.cached_input
            + usage.cache_write_tokens * write_rate
            + usage.output_tokens * self.output
        ) / 1_000_000
        if self.long_prompt_threshold is not None and usage.input_tokens > self.long_prompt_threshold:
            dollars *= self.long_prompt_multiplier
        return dollars

    def worst_case(self, input_tokens: int, max_output_tokens: int) -> float:
        """Upper bound of a call's cost: every input token uncached, every output token used."""
        return self.cost(Usage(input_tokens=input_tokens, output_tokens=max_output_tokens))

    def batch_cost(self, usage: Usage) -> float:
        """Dollar cost of one request answered through a provider batch."""
        return self.cost(usage) * self.batch

    def batch_worst_case(self, input_tokens: int, max_output_tokens: int) -> float:
        """Upper bound of a batched request's cost (what a batch reserves per request)."""
        return self.worst_case(input_tokens, max_output_tokens) * self.batch

    def affordable_output(self, usd: float, input_tokens: int) -> int:
        """Most output tokens whose worst case, with `input_tokens` uncached, stays within `usd`."""
        multiplier = (
            self.long_prompt_multiplier
            if self.long_prompt_threshold is not None and input_tokens > self.long_prompt_threshold
            else 1.0
        )
        left = usd * 1_000_000 / multiplier - input_tokens * self.input
        if self.output <= 0:
            return 1_000_000 if left >= 0 else 0
        return max(math.floor(left / self.output * (1 - 1e-9)), 0)


DEFAULT_PRICES: Mapping[str, Price] = {
    # Anthropic, Messages API. Haiku 5.5 costs 5x on prompts over 100k tokens.
    "claude-haiku-5-5": Price(0.10, 0.50, 0.01, 0.125, long_prompt_threshold=100_000, long_prompt_multiplier=5.0),
    "claude-sonnet-5-5": Price(2.00, 10.00, 0.10, 2.50),
    "claude-opus-5-5": Price(4.00, 20.00, 0.20, 5.00),
    "claude-sonnet-5": Price(2.00, 10.00, 0.20, 2.50),
    "claude-opus-5": Price(5.00, 25.00, 0.50, 6.25),
    "claude-opus-4-8": Price(5.00, 25.00, 0.50, 6.25),
    "claude-haiku-4-5": Price(1.00, 5.00, 0.10, 1.25),
    # OpenAI, Chat Completions (cached input is 10% of input on the GPT-5 families).
    "gpt-5.6-luna": Price(1.00, 6.00, 0.10),
    "gpt-5.6-terra": Price(2.50, 15.00, 0.25),
    "gpt-5.6-sol": Price(5.00, 30.00, 0.50),
    "gpt-5.5": Price(5.00, 30.00, 0.50),
    "gpt-5.4": Price(2.50, 15.00, 0.25),
    "gpt-5.4-mini": Price(0.75, 4.50, 0.075),
    # OpenAI embeddings (input only).
    "text-embedding-3-small": Price(0.02, 0.0, 0.02),
    "text-embedding-3-large": Price(0.13, 0.0, 0.13),
}


class PriceTable:
    """Looks prices up; extra entries (e.g. a self-hosted model at an explicit $0) override defaults."""

    def __init__(self, extra: Mapping[str, Price] | None = None) -> None:
        self._prices: dict[str, Price] = {**DEFAULT_PRICES, **(extra or {})}
        self.effective_date = EFFECTIVE_DATE

    def get(self, model: str) -> Price:
        """Price of `model`; dated snapshots (`name-YYYYMMDD`) resolve to their alias."""
        price = self._prices.get(model) or self._prices.get(_strip_snapshot(model))
        if price is None:
            raise ConfigError(f"no price for model {model!r}: add it to the price table or LLM settings")
        return price

    def require(self, models: list[str]) -> None:
        """Fail fast at start-up if any configured model has no price."""
        for model in models:
            self.get(model)

    def cost(self, model: str, usage: Usage) -> float:
        """Dollar cost of `usage` on `model`."""
        return self.get(model).cost(usage)


def _strip_snapshot(model: str) -> str:
    head, _, tail = model.rpartition("-")
    if head and tail.isdigit() and len(tail) == 8:
        return head
    parts = model.rsplit("-", 3)
    if len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
        return parts[0]
    return model
