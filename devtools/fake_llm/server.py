"""FakeLLMServer: a threaded HTTP server speaking the Anthropic and OpenAI wire formats."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from . import batches, replies, wire
from .script import CallRecord, Rule, Script
from .tokens import count_tokens, embed


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-answer (timeouts, cut streams) are expected here, not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore connection resets; report anything else."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@dataclass
class Answer:
    """One computed answer: the rule that applied, the call record, and (unless an error) reply and usage."""

    rule: Rule
    record: CallRecord
    reply: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    model: str = ""


class FakeLLMServer:
    """Start with `start()` (127.0.0.1, port 0 = any free port); script it through `script`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, model_prefix: str = "") -> None:
        self.script = Script()
        # Reported model = prefix + requested model ("fake-claude-haiku-5-5"): the app's ledger, monitoring and
        # result cards then say plainly that a scripted fake answered (priced as the requested model).
        self.model_prefix = model_prefix
        self._stop = threading.Event()
        self._seen_systems: set[tuple[str, str]] = set()
        self._seen_lock = threading.Lock()
        self.batches = batches.BatchStore()
        handler = type("BoundHandler", (_Handler,), {"fake": self})
        self.httpd = _QuietServer((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (OpenAI clients add /v1)."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging handlers and shut down."""
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, **rule: Any) -> Rule:
        """Shortcut for `script.add(Rule(**rule))`."""
        return self.script.add(Rule(**rule))

    @property
    def calls(self) -> list[CallRecord]:
        """Every request answered so far."""
        return self.script.calls

    def cached_prefix(self, model: str, system: str) -> int:
        """With prompt_cache on, a repeated system prompt is reported as cache reads."""
        if not self.script.prompt_cache or not system:
            return 0
        with self._seen_lock:
            key = (model, system)
            if key in self._seen_systems:
                return count_tokens(system)
            self._seen_systems.add(key)
            return 0

    def compute(self, api: str, body: dict[str, Any], system: str, texts: list[str], cacheable: bool = True) -> Answer:
        """Pick the rule, wait its latency and build the reply and usage (nothing recorded for errors yet)."""
        model, stream = str(body.get("model", "")), bool(body.get("stream"))
        prompt = "\n".join([system, *texts])
        rule = self.script.pick(model, prompt) or Rule(times=None)
        self.wait(self.script.latency_s + rule.latency_s)
        record = CallRecord(api, model, stream, 200, "ok", prompt=prompt, family=replies.family_of(system))
        if rule.error is not None:
            return Answer(rule, record)
        reply = self._reply(rule, model, system, texts)
        prefix = self.cached_prefix(model, system) if cacheable else 0
        cached = rule.cached_tokens if rule.cached_tokens is not None else prefix
        counts = wire.usage_counts(system, texts, reply, cached)
        record.text, record.usage = reply, counts
        self.script.record(record)
        return Answer(rule, record, reply, counts, rule.reply_model or f"{self.model_prefix}{model}")

    def _reply(self, rule: Rule, model: str, system: str, texts: list[str]) -> str:
        """Scripted text, else a scripted invalid reply, else the prompt family's valid reply, else an echo."""
        if rule.text is not None:
            return rule.text
        invalid = rule.invalid or (self.script.draw_invalid() if replies.family_of(system) else None)
        if invalid is not None:
            return replies.invalid_reply(invalid)
        valid = replies.reply_for(system, texts[0] if texts else "")
        return valid if valid is not None else _default_reply(model, texts)

    def wait(self, seconds: float) -> None:
        """Sleep that ends early when the server stops (so hung handlers never block teardown)."""
        if seconds > 0:
            self._stop.wait(seconds)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    """Routes POST /v1/messages, /v1/chat/completions, /v1/embeddings and the /_control API."""

    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms delayed ACKs

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the call log instead."""

    def do_GET(self) -> None:
        """GET /_control/calls returns the call log; the rest are the batch endpoints."""
        path = self.path.split("?")[0]
        parts = path.strip("/").split("/")
        if path == "/_control/calls":
            self._json(200, [vars(c) for c in self.fake.calls])
        elif parts[:3] == ["v1", "messages", "batches"] and len(parts) in (4, 5):
            self._anthropic_batch(parts[3], results=len(parts) == 5 and parts[4] == "results")
        elif parts[:2] == ["v1", "batches"] and len(parts) == 3:
            batch = self.fake.batches.poll(parts[2])
            if batch is None:
                self._json(404, wire.openai_error(404))
            else:
                self._json(200, batches.openai_batch(batch))
        elif parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content":
            content = self.fake.batches.files.get(parts[2])
            if content is None:
                self._json(404, wire.openai_error(404))
            else:
                self._raw(200, content, "application/octet-stream")
        else:
            self._json(404, {"error": {"message": "not found"}})

    def _anthropic_batch(self, batch_id: str, results: bool) -> None:
        batch = self.fake.batches.batches.get(batch_id) if results else self.fake.batches.poll(batch_id)
        if batch is None:
            self._json(404, wire.anthropic_error(404))
        elif results:
            self._raw(200, batches.anthropic_results(batch), "application/binary")
        else:
            self._json(200, batches.anthropic_batch(self.fake, batch))

    def do_POST(self) -> None:
        """Dispatch by path."""
        if self.path.split("?")[0] == "/v1/files":
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            self._json(200, batches.openai_upload(self.fake, self.headers.get("content-type", ""), raw))
            return
        body = self._body()
        routes = {
            "/v1/messages": self._messages,
            "/v1/chat/completions": self._chat,
            "/v1/embeddings": self._embeddings,
            "/v1/messages/batches": self._create_anthropic_batch,
            "/v1/batches": self._create_openai_batch,
            "/_control/script": self._control_script,
            "/_control/failure": self._control_failure,
            "/_control/invalid": self._control_invalid,
            "/_control/reset": self._control_reset,
        }
        route = routes.get(self.path.split("?")[0])
        if route is None:
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        route(body)

    # --- provider endpoints ---------------------------------------------------------------

    def _messages(self, body: dict[str, Any]) -> None:
        self._answer("anthropic", body, *anthropic_prompt(body))

    def _chat(self, body: dict[str, Any]) -> None:
        self._answer("openai", body, *openai_prompt(body))

    def _answer(self, api: str, body: dict[str, Any], system: str, texts: list[str], cacheable: bool = True) -> None:
        stream = bool(body.get("stream"))
        answer = self.fake.compute(api, body, system, texts, cacheable)
        if answer.rule.error is not None:
            self._fail(api, answer.rule, stream, answer.record)
            return
        if api == "anthropic":
            events = wire.anthropic_events(answer.model, answer.reply, answer.counts)
            full = wire.anthropic_message(answer.model, answer.reply, answer.counts)
        else:
            events = wire.openai_chunks(answer.model, answer.reply, answer.counts)
            full = wire.openai_completion(answer.model, answer.reply, answer.counts)
        if stream:
            self._stream(events)
        else:
            self._json(200, full)

    def _fail(self, api: str, rule: Rule, stream: bool, record: CallRecord) -> None:
        record.outcome = str(rule.error)
        if rule.error == "timeout":
            record.status = 0
            self.fake.script.record(record)
            self.fake.wait(self.fake.script.hang_s)
            self.close_connection = True
            return
        if rule.error == "cut":
            record.status = 200
            self.fake.script.record(record)
            self._cut(api, stream, record.model)
            return
        status = int(str(rule.error))
        record.status = status
        self.fake.script.record(record)
        headers = {} if rule.retry_after is None else {"retry-after": f"{rule.retry_after:g}"}
        body = wire.anthropic_error(status) if api == "anthropic" else wire.openai_error(status)
        self._json(status, body, headers)

    def _cut(self, api: str, stream: bool, model: str) -> None:
        """Send part of a response, then drop the connection."""
        reply = "This answer is cut off half way through, so it must never be cached by anyone."
        counts = wire.usage_counts("", [reply], reply, 0)
        if stream:
            events = (wire.anthropic_events if api == "anthropic" else wire.openai_chunks)(model, reply, counts)
            self._stream(events[: len(events) // 2], cut=True)
            return
        payload = json.dumps(wire.openai_completion(model, reply, counts)).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self._drop()

    def _create_anthropic_batch(self, body: dict[str, Any]) -> None:
        self._json(200, batches.anthropic_create(self.fake, body))

    def _create_openai_batch(self, body: dict[str, Any]) -> None:
        created = batches.openai_create(self.fake, body)
        if created is None:
            self._json(400, wire.openai_error(400))
        else:
            self._json(200, created)

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else [str(t) for t in inputs]
        tokens = sum(count_tokens(t) for t in texts)
        vectors = [embed(t) for t in texts]
        self.fake.script.record(
            CallRecord("embeddings", str(body.get("model")), False, 200, "ok", usage={"prompt": tokens})
        )
        self._json(200, wire.openai_embeddings(str(body.get("model")), vectors, tokens))

    # --- control API ------------------------------------------------------------------------

    def _control_script(self, body: dict[str, Any]) -> None:
        self.fake.script.add(Rule.from_json(body))
        self._json(200, {"ok": True})

    def _control_failure(self, body: dict[str, Any]) -> None:
        kinds = tuple(body.get("kinds") or ("429", "500", "529", "timeout", "cut"))
        self.fake.script.set_failure_rate(float(body.get("rate", 0.0)), kinds, int(body.get("seed", 0)))
        self.fake.script.latency_s = float(body.get("latency_s", self.fake.script.latency_s))
        self._json(200, {"ok": True})

    def _control_invalid(self, body: dict[str, Any]) -> None:
        kinds = tuple(body.get("kinds") or replies.INVALID_KINDS)
        self.fake.script.set_invalid_rate(float(body.get("rate", 0.0)), kinds, int(body.get("seed", 0)))
        self._json(200, {"ok": True})

    def _control_reset(self, body: dict[str, Any]) -> None:
        self.fake.script.reset()
        self._json(200, {"ok": True})

    # --- plumbing ---------------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            data = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", f"req_fake_{time.monotonic_ns()}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _raw(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, events: list[bytes], cut: bool = False) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        if cut:
            self._drop()
            return
        self.wfile.write(b"0\r\n\r\n")

    def _drop(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may already have gone
            self.connection.shutdown(socket.SHUT_RDWR)


def anthropic_prompt(body: dict[str, Any]) -> tuple[str, list[str], bool]:
    """System text, message texts, and whether the system prefix is marked cacheable (Anthropic caches
    only prefixes marked with cache_control)."""
    raw_system = body.get("system", "")
    marked = isinstance(raw_system, list) and any(
        isinstance(block, dict) and "cache_control" in block for block in raw_system
    )
    return _text(raw_system), [_text(m.get("content", "")) for m in body.get("messages", [])], marked


def openai_prompt(body: dict[str, Any]) -> tuple[str, list[str], bool]:
    """System text and message texts of a chat completion request (prefixes are cached automatically)."""
    messages = body.get("messages", [])
    system = "\n".join(_text(m["content"]) for m in messages if m.get("role") in ("system", "developer"))
    texts = [_text(m.get("content", "")) for m in messages if m.get("role") not in ("system", "developer")]
    return system, texts, True


def _text(content: Any) -> str:
    """Message content as text (string or a list of text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return str(content)


def _default_reply(model: str, texts: list[str]) -> str:
    last = texts[-1] if texts else ""
    words = " ".join(last.split()[:8])
    return f"Fake reply from {model} about: {words}"
