"""Server-sent events: the wire format of one event and a relay from a job's event stream to a client.

Nothing here needs the Flask app or the database: a relay is built while the request is served and
then runs as the response body, after the view has returned and the DB session was closed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.events import EventStream, StreamEvent

log = logging.getLogger("planogram.sse")

PING = ": ping\n\n"
TERMINAL_EVENTS = frozenset({"done", "error", "cancelled"})
# Response headers for every SSE answer: no caching, no proxy buffering (nginx honours X-Accel-Buffering).
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
MIMETYPE = "text/event-stream"
UNAVAILABLE = {
    "code": "temporarily_unavailable",
    "retry": True,
    "message": "The event store (Redis) is not answering; reconnect in a few seconds to resume",
}


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event; ``data`` goes on the wire as one line of compact JSON."""

    event: str
    data: Any
    id: str | None = None

    def __post_init__(self) -> None:
        for name, value in (("event", self.event), ("id", self.id)):
            if value is not None and ("\n" in value or "\r" in value):
                raise ValueError(f"SSE {name} must be one line: {value!r}")

    def render(self) -> str:
        """``id:``, ``event:`` and ``data:`` lines ended by a blank line (the SSE wire format)."""
        head = f"id: {self.id}\n" if self.id is not None else ""
        # json.dumps escapes control characters, so the data is always exactly one line.
        body = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return f"{head}event: {self.event}\ndata: {body}\n\n"

    @classmethod
    def of(cls, event: StreamEvent) -> SSEEvent:
        """The SSE form of a stored stream event (its id becomes the SSE id, usable as Last-Event-ID)."""
        return cls(event.type, event.data, event.id)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """Timing of a relay: heartbeat interval, longest single blocking read, give-up time without events."""

    heartbeat_s: float = 15.0
    block_s: float = 2.0
    max_idle_s: float | None = 600.0


def relay(
    events: EventStream,
    stream: str,
    after: str | None,
    settings: RelaySettings = RelaySettings(),
    *,
    terminal: Collection[str] = TERMINAL_EVENTS,
    on_poll: Callable[[], None] | None = None,
    on_close: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[str]:
    """Yield SSE text for the events of ``stream`` after ``after`` until a terminal event.

    The first chunk goes out at once (the events already stored, or a ``: ping`` so the client gets
    the headers). Then blocking reads of at most ``block_s``; a ``: ping`` comment when nothing was
    written for ``heartbeat_s`` — writing is also how a client that went away is noticed (the server
    closes this generator, which runs ``finally``). ``on_poll`` runs after every read (listener
    presence); ``on_close`` runs however the relay ends.
    """
    started = last_write = last_event = clock()
    sent = 0
    reason = "client_gone"
    try:
        batch = events.read(stream, after, block_ms=0)
        if not batch:
            yield PING
        while True:
            for item in batch:
                yield SSEEvent.of(item).render()
                sent += 1
                after = item.id
                if item.type in terminal:
                    reason = item.type
                    return
            now = clock()
            if batch:
                last_write = last_event = now
            if on_poll is not None:
                on_poll()
            if now - last_write >= settings.heartbeat_s:
                yield PING
                last_write = now
            if settings.max_idle_s is not None and now - last_event >= settings.max_idle_s:
                reason = "idle"
                return
            wait = min(settings.block_s, max(settings.heartbeat_s - (now - last_write), 0.01))
            batch = events.read(stream, after, block_ms=max(int(wait * 1000), 1))
    except (RedisConnectionError, RedisTimeoutError):
        # The event store went away mid-stream: say so (the client may reconnect with Last-Event-ID later)
        # instead of dropping the connection with an error.
        reason = "store_unavailable"
        yield SSEEvent("error", UNAVAILABLE).render()
    finally:
        log.info(
            "sse relay closed",
            extra={"stream": stream, "events_sent": sent, "reason": reason, "duration_s": round(clock() - started, 3)},
        )
        if on_close is not None:
            on_close()
