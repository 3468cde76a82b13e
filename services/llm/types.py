"""Value objects passed between the pipeline's parts (no behaviour, no SDK types)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Tier = Literal["fast", "balanced", "powerful"]
TIERS: tuple[Tier, ...] = ("fast", "balanced", "powerful")
Role = Literal["user", "assistant"]
Status = Literal["ok", "cached", "fallback"]
FallbackReason = Literal["no_provider", "budget", "provider_error", "output_failed_checks"]
# Why a fallback answered, in the four words the features show; every other error kind is the provider's.
_REASONS: dict[str, FallbackReason] = {
    "no_provider": "no_provider",
    "budget_exceeded": "budget",
    "bad_output": "output_failed_checks",
}


def fallback_reason(error_kind: str | None) -> FallbackReason:
    """The reason category of a fallback's error kind (rate limits, timeouts, cuts, 4xx: provider_error)."""
    return _REASONS.get(error_kind or "", "provider_error")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One conversation turn; the system prompt travels separately."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What a provider needs for one call, already rendered and redacted."""

    model: str
    system: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float | None = None
    timeout_s: float = 30.0
    user_tag: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage as the provider reported it.

    `input_tokens` is the whole prompt (uncached + cache reads + cache writes), of which
    `cached_tokens` were cache reads and `cache_write_tokens` cache writes.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished provider answer."""

    text: str
    model: str
    provider: str
    usage: Usage
    stop_reason: str | None = None
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamDone:
    """The final event of a provider stream, carrying the full completion and usage."""

    completion: Completion


StreamEvent = TextDelta | StreamDone


@dataclass(frozen=True, slots=True)
class StreamError:
    """Emitted by the pipeline's stream when the provider stream broke after text was sent."""

    kind: str
    message: str


@dataclass(slots=True)
class LLMResult:
    """What every feature gets back from the pipeline, AI or fallback."""

    text: str
    data: Any = None
    model: str | None = None
    tier: Tier | None = None
    provider: str | None = None
    tokens_in: int = 0  # what the provider received for this request (0 when the cache answered)
    tokens_out: int = 0
    tokens_cached: int = 0  # of tokens_in, prompt-cache reads at the provider (priced lower)
    tokens_cache_write: int = 0  # of tokens_in, prompt-cache writes (Anthropic prices them higher)
    saved_tokens_in: int = 0  # a cache hit: the tokens the original call cost and this one did not
    saved_tokens_out: int = 0
    saved_usd: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    fallback_used: bool = False
    confidence: float = 0.0
    latency_ms: float = 0.0
    request_id: str = ""
    prompt_name: str = ""
    prompt_version: int | None = None
    variant: str | None = None
    status: Status = "ok"
    error_kind: str | None = None
    feature: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def fallback_reason(self) -> FallbackReason | None:
        """Why the fallback answered (None for AI and cached answers)."""
        return fallback_reason(self.error_kind) if self.fallback_used else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (pydantic data is dumped) for API responses."""
        out = asdict(self)
        out["fallback_reason"] = self.fallback_reason
        dump = getattr(self.data, "model_dump", None)
        if callable(dump):
            out["data"] = dump(mode="json")
        return out
