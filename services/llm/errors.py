"""Typed errors of the LLM pipeline, independent of any provider SDK."""

from __future__ import annotations


class LLMError(Exception):
    """Base class of every pipeline error; `kind` is what the ledger records."""

    kind: str = "error"
    retryable: bool = False
    counts_for_breaker: bool = False


class ConfigError(LLMError):
    """The pipeline is misconfigured (unknown model, missing key): raised at construction."""

    kind = "config"


class PromptError(LLMError):
    """A prompt is missing or cannot be rendered (a programming error in the feature)."""

    kind = "prompt"


class TransientError(LLMError):
    """A provider failure worth retrying (and, if it persists, failing over)."""

    retryable = True
    counts_for_breaker = True


class RateLimited(TransientError):
    """HTTP 429; `retry_after` is the provider's hint in seconds, if it gave one."""

    kind = "rate_limited"

    def __init__(self, message: str = "rate limited", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(RateLimited):
    """HTTP 529 / overloaded_error: the provider asks us to back off."""

    kind = "overloaded"


class ServerError(TransientError):
    """HTTP 5xx from the provider."""

    kind = "server_error"


class Timeout(TransientError):
    """The provider did not answer within the request timeout."""

    kind = "timeout"


class ConnectionFailed(TransientError):
    """The connection could not be made or broke before a response."""

    kind = "connection"


class StreamCut(TransientError):
    """A streamed answer ended before its terminal event; `partial` is what arrived."""

    kind = "stream_cut"

    def __init__(self, message: str = "stream cut", partial: str = "", output_tokens: int = 0) -> None:
        super().__init__(message)
        self.partial = partial
        self.output_tokens = output_tokens


class ProviderRejected(LLMError):
    """A 4xx other than 429: retrying the same request will not help."""

    kind = "rejected"
    counts_for_breaker = False


class BadOutput(LLMError):
    """The model answered, but not with output matching the feature's schema."""

    kind = "bad_output"


class BudgetExceeded(LLMError):
    """The daily budget cannot cover the worst-case cost of this call."""

    kind = "budget_exceeded"


class BreakerOpen(LLMError):
    """The provider's circuit breaker is open; the call was not attempted."""

    kind = "breaker_open"


class NoProvider(LLMError):
    """No provider is configured: the product runs rule-based only."""

    kind = "no_provider"


class BatchItemFailed(LLMError):
    """A request of a provider batch errored (or was canceled, or is missing from the results)."""

    kind = "batch_errored"


class BatchExpired(LLMError):
    """A request of a provider batch was not processed before the batch's completion window ended."""

    kind = "batch_expired"
