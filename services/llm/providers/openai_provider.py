"""OpenAIProvider (Chat Completions) and OpenAIEmbedder through the official `openai` SDK.

With a `base_url` the same class talks to any compatible server (OpenRouter, Ollama, vLLM).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, Literal, cast

import httpx2
import openai
from openai.types.chat import ChatCompletion

from ..errors import BatchExpired, BatchItemFailed, ConnectionFailed, LLMError, ServerError, StreamCut, Timeout
from ..types import Completion, CompletionRequest, Usage
from .base import BatchResults, BatchStatus, SDKStreamProvider, map_status, map_transport

BATCH_ENDPOINT: Final[Literal["/v1/chat/completions"]] = "/v1/chat/completions"
ENDED = ("completed", "expired", "failed", "cancelled")


def make_client(api_key: str | None, base_url: str | None, timeout_s: float) -> openai.OpenAI:
    """An SDK client with retries off (the pipeline owns retrying)."""
    return openai.OpenAI(api_key=api_key or "unset", base_url=base_url, max_retries=0, timeout=timeout_s)


class OpenAIProvider(SDKStreamProvider):
    """GPT models, or any OpenAI-compatible server when `base_url` is given."""

    name = "openai"
    supports_batch = True

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self._client = make_client(api_key, base_url, timeout_s)
        if name == "openai-compatible":  # Ollama, vLLM, ... do not promise OpenAI's Batch API
            self.supports_batch = False  # type: ignore[misc]

    def close(self) -> None:
        """Release the SDK client's pooled connections."""
        self._client.close()

    def complete(self, request: CompletionRequest) -> Completion:
        """One blocking chat completion."""
        try:
            response = self._client.chat.completions.create(**_params(request))
        except Exception as exc:
            raise _map(exc) from exc
        return self._completion(response)

    def submit_batch(self, requests: Sequence[tuple[str, CompletionRequest]]) -> str:
        """Upload the requests as a JSONL file (purpose `batch`), then batches.create on chat completions."""
        lines = [
            json.dumps({"custom_id": cid, "method": "POST", "url": BATCH_ENDPOINT, "body": _batch_body(req)})
            for cid, req in requests
        ]
        try:
            upload = self._client.files.create(file=("batch.jsonl", "\n".join(lines).encode()), purpose="batch")
            batch = self._client.batches.create(
                input_file_id=upload.id, endpoint=BATCH_ENDPOINT, completion_window="24h"
            )
        except Exception as exc:
            raise _map(exc) from exc
        return batch.id

    def batch_status(self, batch_id: str) -> BatchStatus:
        """batches.retrieve: ended once completed, expired, failed or cancelled."""
        try:
            batch = self._client.batches.retrieve(batch_id)
        except Exception as exc:
            raise _map(exc) from exc
        return "ended" if batch.status in ENDED else "in_progress"

    def batch_results(self, batch_id: str) -> BatchResults:
        """The output file (answers) and the error file (failed and expired requests), by custom id."""
        out: BatchResults = {}
        try:
            batch = self._client.batches.retrieve(batch_id)
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    for line in self._client.files.content(file_id).text.splitlines():
                        if line.strip():
                            item = json.loads(line)
                            out[str(item["custom_id"])] = self._batch_item(item)
        except Exception as exc:
            raise _map(exc) from exc
        return out

    def _batch_item(self, item: dict[str, Any]) -> Completion | LLMError:
        error, response = item.get("error") or {}, item.get("response") or {}
        if error.get("code") == "batch_expired":
            return BatchExpired("the completion window ended before this request was processed")
        if response.get("status_code") == 200:
            return self._completion(ChatCompletion.model_validate(response["body"]))
        return BatchItemFailed(f"errored: {response.get('status_code') or error.get('code') or 'unknown'}")

    def _completion(self, response: ChatCompletion) -> Completion:
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice else ""
        return Completion(
            text=text,
            model=response.model,
            provider=self.name,
            usage=_usage(response.usage),
            stop_reason=choice.finish_reason if choice else None,
            response_id=response.id,
        )

    def open_stream(self, request: CompletionRequest) -> AbstractContextManager[Any]:
        """chat.completions.create(stream=True) with the usage chunk requested."""
        chunks = self._client.chat.completions.create(
            **_params(request), stream=True, stream_options={"include_usage": True}
        )
        return cast(AbstractContextManager[Any], chunks)

    def consume(self, event: Any, meta: dict[str, Any]) -> str:
        """One chunk: id, model, usage, text and finish reason."""
        return _consume(event, meta)

    def incomplete(self, meta: dict[str, Any]) -> str | None:
        """The usage chunk (include_usage) and a finish reason are required, else the stream was cut."""
        return None if "usage" in meta and "finish_reason" in meta else "stream ended before its usage chunk"

    def map_error(self, exc: Exception, partial: str, output_tokens: int) -> LLMError:
        """SDK exception → pipeline error."""
        return _map(exc, partial)

    def completion(self, text: str, meta: dict[str, Any], request: CompletionRequest) -> Completion:
        """Text plus the usage chunk."""
        return Completion(
            text, meta.get("model", request.model), self.name, meta["usage"], meta["finish_reason"], meta.get("id")
        )


class OpenAIEmbedder:
    """Embeddings API for the cache's similarity layer."""

    def __init__(self, api_key: str | None, base_url: str | None, model: str, timeout_s: float = 10.0) -> None:
        self.model = model
        self._client = make_client(api_key, base_url, timeout_s)

    def close(self) -> None:
        """Release the SDK client's pooled connections."""
        self._client.close()

    def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        """Vectors in input order and the billed input tokens."""
        try:
            response = self._client.embeddings.create(model=self.model, input=list(texts))
        except Exception as exc:
            raise _map(exc) from exc
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered], response.usage.prompt_tokens


def _params(request: CompletionRequest) -> dict[str, Any]:
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend({"role": m.role, "content": m.content} for m in request.messages)
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "max_completion_tokens": request.max_tokens,
        "timeout": request.timeout_s,
    }
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.user_tag:
        params["safety_identifier"] = request.user_tag
    return params


def _batch_body(request: CompletionRequest) -> dict[str, Any]:
    """A request's chat-completion body inside a batch file (no client-side timeout there)."""
    body = _params(request)
    body.pop("timeout", None)
    return body


def _usage(raw: Any) -> Usage:
    """prompt_tokens already includes cached tokens (unlike Anthropic's input_tokens)."""
    if raw is None:
        return Usage()
    details = raw.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    written = (details.cache_write_tokens or 0) if details else 0
    return Usage(raw.prompt_tokens, raw.completion_tokens, cached, written)


def _consume(chunk: Any, meta: dict[str, Any]) -> str:
    meta.setdefault("id", chunk.id)
    meta.setdefault("model", chunk.model)
    if chunk.usage is not None:
        meta["usage"] = _usage(chunk.usage)
    text = ""
    for choice in chunk.choices:
        if choice.delta and choice.delta.content:
            text += choice.delta.content
        if choice.finish_reason:
            meta["finish_reason"] = choice.finish_reason
    return text


def _map(exc: Exception, partial: str = "") -> LLMError:
    if isinstance(exc, openai.APIStatusError):
        if partial:
            return StreamCut(f"stream error: {exc.status_code}", partial)
        return map_status(exc.status_code, f"{exc.status_code} {exc.code or ''}".strip(), exc.response.headers)
    if isinstance(exc, openai.APITimeoutError):
        return StreamCut("timeout mid-stream", partial) if partial else Timeout("timeout")
    if isinstance(exc, openai.APIConnectionError):
        return StreamCut("connection lost", partial) if partial else ConnectionFailed("connection")
    if isinstance(exc, openai.APIError):
        # Errors sent inside an SSE stream arrive as plain APIError.
        return StreamCut("error event mid-stream", partial) if partial else ServerError("stream error event")
    if isinstance(exc, httpx2.HTTPError):
        return map_transport(exc, partial)
    if isinstance(exc, json.JSONDecodeError):
        return StreamCut("malformed chunk", partial) if partial else ServerError("malformed body")
    raise exc  # anything else is a programming error and must surface
