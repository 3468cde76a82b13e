"""AnthropicProvider: the Messages API through the official `anthropic` SDK."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

import anthropic
import httpx2

from ..errors import BatchExpired, BatchItemFailed, ConnectionFailed, LLMError, ServerError, StreamCut, Timeout
from ..tokens import estimate_tokens
from ..types import Completion, CompletionRequest, Usage
from .base import BatchResults, BatchStatus, SDKStreamProvider, map_status, map_transport

# Anthropic caches prompt prefixes from 1,024 tokens (Sonnet/Opus; more on Haiku models): the estimate
# over-counts, so a prompt marked here is at least near that size.
CACHE_MIN_TOKENS = 1024


class AnthropicProvider(SDKStreamProvider):
    """Claude models; usage comes from the response, or message_start + message_delta when streaming."""

    name = "anthropic"
    supports_batch = True

    def __init__(self, api_key: str | None, base_url: str | None = None, timeout_s: float = 30.0) -> None:
        super().__init__()
        # SDK retries off: the pipeline owns retrying, backoff and failover.
        self._client = anthropic.Anthropic(
            api_key=api_key or "unset", base_url=base_url, max_retries=0, timeout=timeout_s
        )

    def close(self) -> None:
        """Release the SDK client's pooled connections."""
        self._client.close()

    def complete(self, request: CompletionRequest) -> Completion:
        """One blocking Messages call."""
        try:
            message = self._client.messages.create(**_params(request))
        except Exception as exc:
            raise _map(exc) from exc
        text = "".join(block.text for block in message.content if block.type == "text")
        return Completion(
            text=text,
            model=message.model,
            provider=self.name,
            usage=_usage(message.usage),
            stop_reason=message.stop_reason,
            response_id=message.id,
        )

    def open_stream(self, request: CompletionRequest) -> AbstractContextManager[Any]:
        """messages.create(stream=True)."""
        return cast(AbstractContextManager[Any], self._client.messages.create(**_params(request), stream=True))

    def consume(self, event: Any, meta: dict[str, Any]) -> str:
        """message_start / content_block_delta / message_delta / message_stop."""
        return _consume(event, meta)

    def incomplete(self, meta: dict[str, Any]) -> str | None:
        """A stream without message_stop was cut."""
        return None if meta.get("stopped") else "stream ended before message_stop"

    def map_error(self, exc: Exception, partial: str, output_tokens: int) -> LLMError:
        """SDK exception → pipeline error."""
        return _map(exc, partial, output_tokens)

    def completion(self, text: str, meta: dict[str, Any], request: CompletionRequest) -> Completion:
        """Text plus the usage folded from message_start and message_delta."""
        usage = Usage(
            input_tokens=meta.get("input_tokens", 0),
            output_tokens=meta.get("output_tokens", 0),
            cached_tokens=meta.get("cached_tokens", 0),
            cache_write_tokens=meta.get("cache_write_tokens", 0),
        )
        return Completion(
            text, meta.get("model", request.model), self.name, usage, meta.get("stop_reason"), meta.get("id")
        )

    def submit_batch(self, requests: Sequence[tuple[str, CompletionRequest]]) -> str:
        """messages.batches.create: one Message Batch (billed at the batch price)."""
        params = [{"custom_id": custom_id, "params": _batch_params(req)} for custom_id, req in requests]
        try:
            batch = self._client.messages.batches.create(requests=cast(Any, params))
        except Exception as exc:
            raise _map(exc) from exc
        return batch.id

    def batch_status(self, batch_id: str) -> BatchStatus:
        """messages.batches.retrieve: `ended` once every request succeeded, errored, expired or was canceled."""
        try:
            batch = self._client.messages.batches.retrieve(batch_id)
        except Exception as exc:
            raise _map(exc) from exc
        return "ended" if batch.processing_status == "ended" else "in_progress"

    def batch_results(self, batch_id: str) -> BatchResults:
        """messages.batches.results: the .jsonl results, by custom id."""
        out: BatchResults = {}
        try:
            for item in self._client.messages.batches.results(batch_id):
                out[item.custom_id] = self._batch_item(item.result)
        except Exception as exc:
            raise _map(exc) from exc
        return out

    def _batch_item(self, result: Any) -> Completion | LLMError:
        if result.type == "succeeded":
            message = result.message
            text = "".join(block.text for block in message.content if block.type == "text")
            return Completion(text, message.model, self.name, _usage(message.usage), message.stop_reason, message.id)
        if result.type == "expired":
            return BatchExpired("the batch ended before this request was processed")
        if result.type == "errored":
            return BatchItemFailed(f"errored: {result.error.error.type}")
        return BatchItemFailed(str(result.type))


def _batch_params(request: CompletionRequest) -> dict[str, Any]:
    """A request's Messages parameters inside a batch (no client-side timeout there)."""
    params = _params(request)
    params.pop("timeout", None)
    return params


def _params(request: CompletionRequest) -> dict[str, Any]:
    # No `temperature`: anthropic 2.x's messages.create has no sampling parameters (current models reject
    # them), so a prompt's temperature applies to OpenAI-style providers only.
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "timeout": request.timeout_s,
    }
    if request.system:
        params["system"] = _system(request.system)
    if request.user_tag:
        params["metadata"] = {"user_id": request.user_tag}
    return params


def _system(system: str) -> str | list[dict[str, Any]]:
    """A long system prompt (stable per prompt version) is marked for Anthropic's prompt cache.

    Shorter ones are sent plain: below the model's minimum cacheable length a breakpoint does nothing
    but cost a cache write. Cache reads are billed at the cached-input rate (pricing.py).
    """
    if estimate_tokens(system) < CACHE_MIN_TOKENS:
        return system
    return [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]


def _usage(raw: Any) -> Usage:
    """Anthropic's input_tokens excludes cache reads and writes; Usage.input_tokens is the whole prompt."""
    cached = raw.cache_read_input_tokens or 0
    written = raw.cache_creation_input_tokens or 0
    return Usage(raw.input_tokens + cached + written, raw.output_tokens, cached, written)


def _consume(event: Any, meta: dict[str, Any]) -> str:
    """Fold one raw stream event into `meta`; return its text, if any."""
    kind = event.type
    if kind == "message_start":
        usage = _usage(event.message.usage)
        meta.update(
            id=event.message.id,
            model=event.message.model,
            input_tokens=usage.input_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
        )
    elif kind == "content_block_delta" and event.delta.type == "text_delta":
        return str(event.delta.text)
    elif kind == "message_delta":
        # message_delta usage is cumulative; input fields appear only when the server revises them.
        meta["output_tokens"] = event.usage.output_tokens
        meta["stop_reason"] = event.delta.stop_reason
        if event.usage.input_tokens is not None:
            cached = event.usage.cache_read_input_tokens or meta.get("cached_tokens", 0)
            written = event.usage.cache_creation_input_tokens or meta.get("cache_write_tokens", 0)
            meta.update(input_tokens=event.usage.input_tokens + cached + written, cached_tokens=cached)
    elif kind == "message_stop":
        meta["stopped"] = True
    return ""


def _map(exc: Exception, partial: str = "", output_tokens: int = 0) -> LLMError:
    if isinstance(exc, anthropic.APIStatusError):
        if partial:
            return StreamCut(f"stream error event: {exc.status_code}", partial, output_tokens)
        return map_status(exc.status_code, _safe_message(exc), exc.response.headers)
    if isinstance(exc, anthropic.APITimeoutError):
        return StreamCut("timeout mid-stream", partial, output_tokens) if partial else Timeout("timeout")
    if isinstance(exc, anthropic.APIConnectionError):
        return StreamCut("connection lost", partial, output_tokens) if partial else ConnectionFailed("connection")
    if isinstance(exc, (httpx2.HTTPError, anthropic.APIError)):
        return map_transport(exc, partial, output_tokens)
    if isinstance(exc, json.JSONDecodeError):
        return StreamCut("malformed event", partial, output_tokens) if partial else ServerError("malformed body")
    raise exc  # anything else is a programming error and must surface


def _safe_message(exc: anthropic.APIStatusError) -> str:
    # The SDK message embeds the response body; the status and error type are enough and leak nothing.
    return f"{exc.status_code} {exc.type or ''}".strip()
