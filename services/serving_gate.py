"""Requests first: work in the web process's job threads waits while requests are being handled.

In embedded mode jobs run in OS threads of the web process (services/jobs.py). Their Python work (reading a
device's data through the ORM, publishing) holds the GIL the serving greenlets need, so a burst of requests
(20 optimisation streams started at once) answered in hundreds of milliseconds while the first jobs loaded
their data. A job thread calls ``wait_for_quiet`` before such work: it yields until no request is between its
first hook and its teardown (an SSE relay, which runs after the view returned, does not count), for at most
``max_wait_s`` so a job is never starved.
"""

from __future__ import annotations

from flask import Flask, g

from services.jobs import native

_state = {"in_flight": 0}  # requests being handled: written by the serving thread only, read by job threads
POLL_S = 0.002
MAX_WAIT_S = 0.25


def init_app(app: Flask) -> None:
    """Count the requests being handled (registered first, so every later hook runs inside the count)."""

    def _enter() -> None:
        g.serving_gate_counted = True
        _state["in_flight"] += 1

    def _leave(_exc: BaseException | None) -> None:
        if g.pop("serving_gate_counted", False):
            _state["in_flight"] -= 1

    app.before_request_funcs.setdefault(None, []).insert(0, _enter)
    app.teardown_request(_leave)


def in_flight() -> int:
    """Requests being handled in this process now."""
    return _state["in_flight"]


def wait_for_quiet(max_wait_s: float = MAX_WAIT_S) -> float:
    """From a job thread: wait until no request is being handled (at most ``max_wait_s``); the seconds waited."""
    if _state["in_flight"] <= 0:
        return 0.0
    monotonic, sleep = native("time", "monotonic"), native("time", "sleep")
    start = monotonic()
    while _state["in_flight"] > 0 and monotonic() - start < max_wait_s:
        sleep(POLL_S)  # a real sleep: releases the GIL to the serving thread
    return float(monotonic() - start)
