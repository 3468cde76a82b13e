"""The provider interface: one blocking call and one streaming call per SDK."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal, Protocol

import httpx2

from ..errors import (
    ConnectionFailed,
    LLMError,
    Overloaded,
    ProviderRejected,
    RateLimited,
    ServerError,
    StreamCut,
    Timeout,
)
from ..types import Completion, CompletionRequest, StreamDone, StreamEvent, TextDelta

BatchStatus = Literal["in_progress", "ended"]
BatchResults = dict[str, Completion | LLMError]  # custom id → the answer, or why that request failed


class Provider(ABC):
    """A chat model behind one SDK; subclasses map SDK errors to `services.llm.errors`."""

    name: ClassVar[str] = "provider"
    supports_streaming: ClassVar[bool] = True

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name  # type: ignore[misc]  # an instance may rename itself (openai-compatible)

    @abstractmethod
    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        """Yield text deltas, then exactly one StreamDone with the provider's usage."""

    def complete(self, request: CompletionRequest) -> Completion:
        """Blocking call; the default drains `stream`, SDK classes override with the plain endpoint."""
        for event in self.stream(request):
            if isinstance(event, StreamDone):
                return event.completion
        raise StreamCut("stream ended without a final event")

    def close(self) -> None:  # noqa: B027  (optional hook: providers without connections keep the no-op)
        """Release the SDK's pooled HTTP connections (at shutdown; the provider is not used afterwards)."""

    # Batch API (half price, answers within 24 h): providers with `supports_batch` implement these three.
    supports_batch: ClassVar[bool] = False

    def submit_batch(self, requests: Sequence[tuple[str, CompletionRequest]]) -> str:
        """Send (custom id, request) pairs as one provider batch; return the batch id."""
        raise NotImplementedError(f"{self.name} has no batch API")

    def batch_status(self, batch_id: str) -> BatchStatus:
        """Whether the batch has ended (every request answered, errored or expired)."""
        raise NotImplementedError(f"{self.name} has no batch API")

    def batch_results(self, batch_id: str) -> BatchResults:
        """The ended batch's answers by custom id (requests without a result are absent)."""
        raise NotImplementedError(f"{self.name} has no batch API")


class SDKStreamProvider(Provider):
    """The one stream loop both SDK providers share; each supplies how to open, read and finish a stream."""

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        """Yield text deltas, then StreamDone; a stream that ends without its final event is a StreamCut."""
        parts: list[str] = []
        meta: dict[str, Any] = {}
        try:
            with self.open_stream(request) as events:
                for event in events:
                    delta = self.consume(event, meta)
                    if delta:
                        parts.append(delta)
                        yield TextDelta(delta)
        except LLMError:
            raise
        except Exception as exc:
            raise self.map_error(exc, "".join(parts), meta.get("output_tokens", 0)) from exc
        text = "".join(parts)
        missing = self.incomplete(meta)
        if missing:
            raise StreamCut(missing, text, meta.get("output_tokens", 0))
        yield StreamDone(self.completion(text, meta, request))

    @abstractmethod
    def open_stream(self, request: CompletionRequest) -> AbstractContextManager[Any]:
        """The SDK's streaming call (a context manager iterating raw events)."""

    @abstractmethod
    def consume(self, event: Any, meta: dict[str, Any]) -> str:
        """Fold one raw event into `meta`; return its text, if any."""

    @abstractmethod
    def incomplete(self, meta: dict[str, Any]) -> str | None:
        """Why the stream is not complete (then it was cut), or None."""

    @abstractmethod
    def completion(self, text: str, meta: dict[str, Any], request: CompletionRequest) -> Completion:
        """The finished answer from the text and the folded metadata."""

    @abstractmethod
    def map_error(self, exc: Exception, partial: str, output_tokens: int) -> LLMError:
        """Translate an SDK exception (re-raise programming errors)."""


class Embedder(Protocol):
    """Turns texts into vectors for the cache's similarity layer."""

    model: str

    def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        """Vectors for `texts` and the input tokens the provider billed."""
        ...

    def close(self) -> None:
        """Release pooled connections (at shutdown)."""
        ...


def retry_after_from(headers: httpx2.Headers | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or HTTP date)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        try:
            import time

            return max(parsedate_to_datetime(raw).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return None


def map_status(status: int, message: str, headers: httpx2.Headers | None) -> LLMError:
    """Translate an HTTP status from any provider into the pipeline's error types."""
    if status == 429:
        return RateLimited(message, retry_after_from(headers))
    if status == 529:
        return Overloaded(message, retry_after_from(headers))
    if status in (408, 504):
        return Timeout(message)
    if status >= 500:
        return ServerError(message)
    return ProviderRejected(f"HTTP {status}: {message}")


def map_transport(exc: BaseException, partial: str = "", output_tokens: int = 0) -> LLMError:
    """Translate an httpx2 transport failure; mid-stream failures become StreamCut."""
    if partial:
        return StreamCut(f"stream cut: {type(exc).__name__}", partial, output_tokens)
    if isinstance(exc, httpx2.TimeoutException):
        return Timeout(type(exc).__name__)
    return ConnectionFailed(type(exc).__name__)


ErrorMapper = Callable[[Exception], LLMError | None]
