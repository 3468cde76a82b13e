"""Job threads in the web process yield to requests being handled (services/serving_gate.py)."""

from __future__ import annotations

import threading

from flask import Flask

from services import serving_gate


def test_a_job_thread_waits_until_the_request_being_handled_ends(app: Flask) -> None:
    entered, release = threading.Event(), threading.Event()

    @app.get("/_gate_probe")
    def probe() -> str:
        entered.set()
        release.wait(10)
        return "ok"

    app.view_functions["_gate_probe"] = probe
    probe.is_public = True  # type: ignore[attr-defined]
    request = threading.Thread(target=lambda: app.test_client().get("/_gate_probe"))
    request.start()
    assert entered.wait(10)
    assert serving_gate.in_flight() == 1
    seen: list[int] = []

    def job_thread() -> None:
        serving_gate.wait_for_quiet(max_wait_s=30)
        seen.append(serving_gate.in_flight())

    job = threading.Thread(target=job_thread)
    job.start()
    assert not seen  # still waiting: the request is being handled
    release.set()
    request.join(10)
    job.join(10)
    assert seen == [0]


def test_refused_and_failed_requests_leave_the_count_at_zero(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/devices").status_code == 401  # refused by a before-request hook
    assert client.get("/no-such-page").status_code == 404
    assert serving_gate.in_flight() == 0
    assert serving_gate.wait_for_quiet() == 0.0


def test_a_job_is_never_starved_by_requests_that_do_not_end() -> None:
    serving_gate._state["in_flight"] += 1  # a request that never ends
    try:
        waited = serving_gate.wait_for_quiet(max_wait_s=0.01)
    finally:
        serving_gate._state["in_flight"] -= 1
    assert waited >= 0.01
