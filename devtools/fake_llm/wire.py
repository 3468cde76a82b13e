"""Response bodies of the fake provider, shaped exactly like the real APIs."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .tokens import count_tokens, split_tokens


def usage_counts(system: str, messages: list[str], reply: str, cached: int) -> dict[str, int]:
    """Prompt/completion/cached token counts, computed the same way for both APIs."""
    prompt = count_tokens(system) + sum(count_tokens(m) + 3 for m in messages) + 1
    return {"prompt": prompt, "completion": max(count_tokens(reply), 1), "cached": min(cached, prompt)}


def sse(event: str | None, data: Any) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def pieces(text: str) -> list[str]:
    """Text deltas of a few tokens each."""
    tokens = split_tokens(text)
    return ["".join(tokens[i : i + 3]) for i in range(0, len(tokens), 3)] or [""]


# --- Anthropic Messages API ---------------------------------------------------------------


def anthropic_usage(counts: dict[str, int]) -> dict[str, int]:
    """Anthropic reports input_tokens without the cache reads."""
    return {
        "input_tokens": counts["prompt"] - counts["cached"],
        "output_tokens": counts["completion"],
        "cache_read_input_tokens": counts["cached"],
        "cache_creation_input_tokens": 0,
    }


def anthropic_message(model: str, text: str, counts: dict[str, int]) -> dict[str, Any]:
    """Non-streaming Messages response."""
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage(counts),
    }


def anthropic_events(model: str, text: str, counts: dict[str, int]) -> list[bytes]:
    """message_start, content_block_start, ping, deltas, content_block_stop, message_delta, message_stop."""
    start = anthropic_message(model, "", counts)
    start["content"], start["stop_reason"] = [], None
    start["usage"] = {**anthropic_usage(counts), "output_tokens": 1}
    events = [
        sse("message_start", {"type": "message_start", "message": start}),
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        sse("ping", {"type": "ping"}),
    ]
    for piece in pieces(text):
        events.append(
            sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
        )
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": counts["completion"]},
            },
        )
    )
    events.append(sse("message_stop", {"type": "message_stop"}))
    return events


def anthropic_error(status: int) -> dict[str, Any]:
    """Error body of the Messages API."""
    kinds = {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error"}
    return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": f"fake {status}"}}


# --- OpenAI Chat Completions and Embeddings -----------------------------------------------


def openai_usage(counts: dict[str, int]) -> dict[str, Any]:
    """prompt_tokens includes the cached tokens."""
    return {
        "prompt_tokens": counts["prompt"],
        "completion_tokens": counts["completion"],
        "total_tokens": counts["prompt"] + counts["completion"],
        "prompt_tokens_details": {"cached_tokens": counts["cached"]},
    }


def openai_completion(model: str, text: str, counts: dict[str, int]) -> dict[str, Any]:
    """Non-streaming chat.completion."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": openai_usage(counts),
    }


def openai_chunks(model: str, text: str, counts: dict[str, int]) -> list[bytes]:
    """Role chunk, content chunks, finish chunk, include_usage chunk, [DONE]."""
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        """One chat.completion.chunk event with a single choice."""
        return sse(None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    out = [chunk({"role": "assistant", "content": ""})]
    out.extend(chunk({"content": piece}) for piece in pieces(text))
    out.append(chunk({}, "stop"))
    out.append(sse(None, {**base, "choices": [], "usage": openai_usage(counts)}))
    out.append(sse(None, "[DONE]"))
    return out


def openai_error(status: int) -> dict[str, Any]:
    """Error body of the OpenAI API."""
    return {
        "error": {
            "message": f"fake {status}",
            "type": "server_error" if status >= 500 else "rate_limit",
            "code": str(status),
            "param": None,
        }
    }


def openai_embeddings(model: str, vectors: list[list[float]], tokens: int) -> dict[str, Any]:
    """Embeddings list response."""
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
