"""Batch endpoints of the fake provider: Anthropic Message Batches and the OpenAI Batch API (with files).

Every request of a batch is answered when the batch is created (same rules, replies and usage as a
single call), then the batch reports itself in progress for `Script.batch_polls` retrievals before it
ends, so a client's polling loop runs. A request whose rule is an error becomes an errored item;
with `Script.batch_expire_after = n` every request after the first n expires unanswered.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from . import wire

if TYPE_CHECKING:
    from .server import Answer, FakeLLMServer

EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


@dataclass
class FakeBatch:
    """One batch: its result lines (API-shaped), error lines (OpenAI) and polls left before it ends."""

    id: str
    api: str
    created: int
    total: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    polls_left: int = 0
    expired: bool = False
    input_file_id: str = ""
    output_file_id: str | None = None
    error_file_id: str | None = None


class BatchStore:
    """Batches and uploaded/produced files of one fake server (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches: dict[str, FakeBatch] = {}
        self.files: dict[str, bytes] = {}

    def add_file(self, content: bytes) -> str:
        """Store a file; return its id."""
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        with self._lock:
            self.files[file_id] = content
        return file_id

    def add(self, batch: FakeBatch) -> None:
        """Register a created batch."""
        with self._lock:
            self.batches[batch.id] = batch

    def poll(self, batch_id: str) -> FakeBatch | None:
        """The batch, one retrieval nearer to its end."""
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is not None and batch.polls_left > 0:
                batch.polls_left -= 1
                return _in_progress(batch)
            return batch


def _in_progress(batch: FakeBatch) -> FakeBatch:
    """A view of the batch as still running (polls_left > 0 means: not ended yet)."""
    return FakeBatch(batch.id, batch.api, batch.created, batch.total, polls_left=1, input_file_id=batch.input_file_id)


# --- Anthropic Message Batches ------------------------------------------------------------


def anthropic_create(fake: FakeLLMServer, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/messages/batches: answer every request now, report the batch in progress."""
    from .server import anthropic_prompt

    requests = body.get("requests") or []
    batch = FakeBatch(
        f"msgbatch_{uuid.uuid4().hex[:24]}",
        "anthropic",
        int(time.time()),
        len(requests),
        polls_left=fake.script.batch_polls,
    )
    counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
    for index, request in enumerate(requests):
        custom_id, params = str(request.get("custom_id")), dict(request.get("params") or {})
        if _expires(fake, index):
            result: dict[str, Any] = {"type": "expired"}
        else:
            answer = fake.compute("anthropic", params, *anthropic_prompt(params))
            result = _anthropic_result(answer)
        counts[result["type"]] += 1
        batch.lines.append({"custom_id": custom_id, "result": result})
    batch.counts, batch.expired = counts, counts["expired"] > 0
    fake.batches.add(batch)
    return anthropic_batch(fake, batch)


def _anthropic_result(answer: Answer) -> dict[str, Any]:
    if answer.rule.error is not None:
        status = int(answer.rule.error) if answer.rule.error.isdigit() else 500
        answer.record.status, answer.record.outcome = status, str(answer.rule.error)
        answer.record.api = "anthropic-batch"
        return {"type": "errored", "error": wire.anthropic_error(status)}
    answer.record.api = "anthropic-batch"
    return {"type": "succeeded", "message": wire.anthropic_message(answer.model, answer.reply, answer.counts)}


def anthropic_batch(fake: FakeLLMServer, batch: FakeBatch) -> dict[str, Any]:
    """The MessageBatch object as the API returns it."""
    ended = batch.polls_left <= 0
    counts = (
        batch.counts
        if ended
        else {"processing": batch.total, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    )
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(batch.created))
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "request_counts": counts,
        "created_at": iso,
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(batch.created + 86_400)),
        "ended_at": iso if ended else None,
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"{fake.url}/v1/messages/batches/{batch.id}/results" if ended else None,
    }


def anthropic_results(batch: FakeBatch) -> bytes:
    """The .jsonl results file."""
    return b"".join(json.dumps(line).encode() + b"\n" for line in batch.lines)


# --- OpenAI Batch API ---------------------------------------------------------------------


def openai_upload(fake: FakeLLMServer, content_type: str, raw: bytes) -> dict[str, Any]:
    """POST /v1/files (multipart/form-data: purpose + file): store the file."""
    message = BytesParser(policy=HTTP).parsebytes(f"content-type: {content_type}\r\n\r\n".encode() + raw)
    content, purpose, filename = b"", "batch", "upload.jsonl"
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        raw_payload = part.get_payload(decode=True)
        payload = raw_payload if isinstance(raw_payload, bytes) else b""
        if name == "file":
            content, filename = payload, str(part.get_filename() or filename)
        elif name == "purpose":
            purpose = payload.decode()
    file_id = fake.batches.add_file(content)
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(content),
        "created_at": int(time.time()),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
    }


def openai_create(fake: FakeLLMServer, body: dict[str, Any]) -> dict[str, Any] | None:
    """POST /v1/batches: answer every line of the input file now (None when the file is unknown)."""
    from .server import openai_prompt

    raw = fake.batches.files.get(str(body.get("input_file_id")))
    if raw is None:
        return None
    lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    batch = FakeBatch(
        f"batch_{uuid.uuid4().hex[:24]}",
        "openai",
        int(time.time()),
        len(lines),
        polls_left=fake.script.batch_polls,
        input_file_id=str(body["input_file_id"]),
    )
    for index, line in enumerate(lines):
        custom_id, params = str(line.get("custom_id")), dict(line.get("body") or {})
        if _expires(fake, index):
            batch.errors.append(_openai_line(custom_id, None, {"code": "batch_expired", "message": EXPIRED_MESSAGE}))
            continue
        answer = fake.compute("openai", params, *openai_prompt(params))
        answer.record.api = "openai-batch"
        if answer.rule.error is not None:
            status = int(answer.rule.error) if answer.rule.error.isdigit() else 500
            answer.record.status, answer.record.outcome = status, str(answer.rule.error)
            batch.errors.append(_openai_line(custom_id, {"status_code": status, "body": wire.openai_error(status)}))
            continue
        completion = wire.openai_completion(answer.model, answer.reply, answer.counts)
        batch.lines.append(_openai_line(custom_id, {"status_code": 200, "body": completion}))
    batch.expired = any(e["error"] and e["error"]["code"] == "batch_expired" for e in batch.errors)
    batch.counts = {"total": len(lines), "completed": len(batch.lines), "failed": len(batch.errors)}
    batch.output_file_id = fake.batches.add_file(_jsonl(batch.lines)) if batch.lines else None
    batch.error_file_id = fake.batches.add_file(_jsonl(batch.errors)) if batch.errors else None
    fake.batches.add(batch)
    return openai_batch(batch, body)


def _openai_line(
    custom_id: str, response: dict[str, Any] | None, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    if response is not None:
        response = {**response, "request_id": f"req_{uuid.uuid4().hex[:16]}"}
    return {"id": f"batch_req_{uuid.uuid4().hex[:16]}", "custom_id": custom_id, "response": response, "error": error}


def openai_batch(batch: FakeBatch, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Batch object as the API returns it."""
    ended = batch.polls_left <= 0
    status = ("expired" if batch.expired else "completed") if ended else "in_progress"
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": (body or {}).get("endpoint", "/v1/chat/completions"),
        "completion_window": "24h",
        "created_at": batch.created,
        "input_file_id": batch.input_file_id,
        "status": status,
        "output_file_id": batch.output_file_id if ended else None,
        "error_file_id": batch.error_file_id if ended else None,
        "request_counts": batch.counts if ended else {"total": batch.total, "completed": 0, "failed": 0},
        "completed_at": batch.created if ended and not batch.expired else None,
        "expired_at": batch.created if ended and batch.expired else None,
    }


def _expires(fake: FakeLLMServer, index: int) -> bool:
    limit = fake.script.batch_expire_after
    return limit is not None and index >= limit


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)
