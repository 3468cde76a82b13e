"""Waiting on what a background job does: blocking reads of its event stream, or a condition it reaches.

The timeout is a safety net, never the thing a test asserts: a job that hangs fails with what was seen so
far instead of holding the run until pytest-timeout ends it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

SAFETY_NET_S = 120.0


def events_until(app: Flask, stream: str, stop: Callable[[list[Any]], bool]) -> list[Any]:
    """Every event of ``stream`` from the start until ``stop(events so far)`` holds (blocking reads)."""
    from services.runtime import backends

    seen: list[Any] = []
    give_up = time.monotonic() + SAFETY_NET_S
    with app.app_context():
        while not stop(seen):
            if time.monotonic() > give_up:
                raise AssertionError(f"{stream}: the expected events never came; saw {[e.type for e in seen]}")
            after = seen[-1].id if seen else None
            seen.extend(backends().events.read(stream, after, block_ms=1000, count=1000))
    return seen


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Return once ``condition()`` holds (checked every 20 ms); fail with ``what`` past the safety net."""
    give_up = time.monotonic() + SAFETY_NET_S
    pause = threading.Event()
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"never happened: {what}")
        pause.wait(0.02)
