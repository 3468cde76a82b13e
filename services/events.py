"""Per-job event streams for SSE: Redis Streams when configured, process memory otherwise."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from services.jobs import native


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a stream; ``id`` is opaque, increasing and usable as SSE Last-Event-ID."""

    id: str
    type: str
    data: dict[str, Any]


class EventStream(Protocol):
    """Append-only event log per stream name, readable from any position, with blocking reads."""

    def publish(
        self,
        stream: str,
        event_type: str,
        data: dict[str, Any],
        ttl_seconds: int | None = None,
        max_len: int | None = None,
    ) -> str:
        """Append an event and return its id; the stream is kept ``ttl_seconds`` (default: the store's TTL)
        after its last event, and its last ``max_len`` events (default: the store's) at most."""
        ...

    def read(self, stream: str, after: str | None, block_ms: int = 0, count: int = 100) -> list[StreamEvent]:
        """Return events after ``after`` (all when None), waiting up to ``block_ms`` for new ones."""
        ...

    def exists(self, stream: str) -> bool:
        """Whether the stream has any event (e.g. a job id is known)."""
        ...


@dataclass
class _MemoryLog:
    events: list[StreamEvent] = field(default_factory=list)
    touched: float = field(default_factory=time.monotonic)
    ttl: float | None = None  # the store's TTL when None


class MemoryEventStream:
    """In-process event streams (one process only); old streams expire after ``ttl_seconds``.

    Publishers are job threads (real OS threads) and readers are request greenlets under gevent. They share
    only a native lock held for list operations; a blocking read polls with short sleeps (cooperative in a
    greenlet). A gevent condition notified from another OS thread may never wake its waiter, and a
    contended gevent lock in a thread without a running hub ends in LoopExit.
    """

    POLL_S = 0.02

    def __init__(self, ttl_seconds: int = 3600, max_len: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max_len = max_len
        self._logs: dict[str, _MemoryLog] = {}
        self._lock = _native_lock()

    def publish(
        self,
        stream: str,
        event_type: str,
        data: dict[str, Any],
        ttl_seconds: int | None = None,
        max_len: int | None = None,
    ) -> str:
        payload = json.loads(json.dumps(data))
        with self._lock:
            self._expire()
            log = self._logs.setdefault(stream, _MemoryLog())
            log.ttl = ttl_seconds
            seq = int(log.events[-1].id) + 1 if log.events else 1
            event = StreamEvent(str(seq), event_type, payload)
            log.events.append(event)
            del log.events[: -(max_len or self._max_len)]
            log.touched = time.monotonic()
            return event.id

    def read(self, stream: str, after: str | None, block_ms: int = 0, count: int = 100) -> list[StreamEvent]:
        deadline = time.monotonic() + block_ms / 1000
        after_seq = _seq(after)
        while True:
            with self._lock:
                log = self._logs.get(stream)
                found = [e for e in log.events if int(e.id) > after_seq][:count] if log else []
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return found
            time.sleep(min(self.POLL_S, remaining))  # gevent patches sleep: other greenlets run meanwhile

    def exists(self, stream: str) -> bool:
        with self._lock:
            return bool(self._logs.get(stream) and self._logs[stream].events)

    def _expire(self) -> None:
        now = time.monotonic()
        for name in [n for n, log in self._logs.items() if log.touched < now - (log.ttl or self._ttl)]:
            del self._logs[name]


def _native_lock() -> Any:
    """An unpatched lock even under gevent (see MemoryEventStream)."""
    return native("_thread", "allocate_lock")()


def _seq(event_id: str | None) -> int:
    try:
        return int(event_id) if event_id else 0
    except ValueError:
        return 0


class RedisEventStream:
    """Redis Streams: any worker on any machine can serve a reconnecting client."""

    def __init__(
        self, client: redis.Redis, ttl_seconds: int = 3600, max_len: int = 10_000, prefix: str = "pgw:events:"
    ) -> None:
        self._r = client
        self._ttl = ttl_seconds
        self._max_len = max_len
        self._prefix = prefix

    def publish(
        self,
        stream: str,
        event_type: str,
        data: dict[str, Any],
        ttl_seconds: int | None = None,
        max_len: int | None = None,
    ) -> str:
        key = self._prefix + stream
        pipe = self._r.pipeline()
        pipe.xadd(
            key, {"type": event_type, "data": json.dumps(data)}, maxlen=max_len or self._max_len, approximate=True
        )
        pipe.expire(key, ttl_seconds or self._ttl)
        event_id, _ = pipe.execute()
        return _text(event_id)

    def read(self, stream: str, after: str | None, block_ms: int = 0, count: int = 100) -> list[StreamEvent]:
        key = self._prefix + stream
        start = after if after and _valid_redis_id(after) else "0-0"
        reply: Any = self._r.xread({key: start}, count=count, block=block_ms or None)
        events: list[StreamEvent] = []
        for _key, entries in reply or []:
            for event_id, raw in entries:
                fields = {_text(k): _text(v) for k, v in raw.items()}
                events.append(StreamEvent(_text(event_id), fields["type"], json.loads(fields["data"])))
        return events

    def exists(self, stream: str) -> bool:
        return bool(self._r.exists(self._prefix + stream))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _valid_redis_id(event_id: str) -> bool:
    left, _, right = event_id.partition("-")
    return left.isdigit() and (not right or right.isdigit())
