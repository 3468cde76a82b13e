"""Streaming optimisation over SSE (start, resume, cancel, heartbeat, AI/fallback explanation); placement feedback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from devtools.fake_llm import FakeLLMServer
from services.merchandising.explain import LABEL
from tests.demo_fleet import seed_fleet
from tests.waiting import events_until, wait_for

OFFICE = "DEMO-OFF-01"  # combo 6x8: rows A-C ambient, D-F chilled
TERMINAL = {"done", "error", "cancelled"}
AI_ANSWER = {
    "summary": "Chilled drinks move to the eye-level chilled rows, where they sell best.",
    "objectives": [{"name": "margin", "before": None, "after": None, "explanation": "Margin per day rises."}],
    "key_changes": [{"slot": "D1", "from_sku": None, "to_sku": "DEMO-WATER-500", "reason": "Water sells here."}],
    "trade_offs": ["Fewer facings for slow sellers."],
    "risks": ["Check the fresh food shelf life."],
    "confidence": 0.8,
}


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def provider() -> str | None:
    """Rule-based explanations unless a test parametrizes a provider (the root fixture's default is one)."""
    return None


@pytest.fixture
def settings() -> dict[str, Any]:
    """Extra config for one test."""
    return {}


@pytest.fixture
def app(make_llm_app: Callable[..., Flask], settings: dict[str, Any]) -> Flask:
    app = make_llm_app(**settings)
    seed_fleet(app, seed=4, days=45)
    return app


@pytest.fixture(autouse=True)
def worker(rq_worker: None) -> None:
    """With Redis, jobs wait for an RQ worker: one runs in a thread for every test here."""


# --- helpers ----------------------------------------------------------------------------------------------


def parse(text: str) -> list[dict[str, Any]]:
    """SSE blocks → [{"id", "event", "data"}] (comments as {"comment": ...})."""
    out: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            out.append({"comment": block[1:].strip()})
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(fields) <= {"id", "event", "data"}, block
        out.append({"id": fields.get("id"), "event": fields["event"], "data": json.loads(fields["data"])})
    return out


class Stream:
    """Reads an SSE response chunk by chunk, as a browser would."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.chunks = iter(response.response)
        self.raw: list[str] = []

    def next_events(self) -> list[dict[str, Any]]:
        chunk = next(self.chunks)
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        self.raw.append(text)
        return parse(text)

    def until(self, stop: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Read until ``stop(event)``; the relay blocks for the next event (or heartbeat) between chunks."""
        seen: list[dict[str, Any]] = []
        for chunk in self.chunks:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            self.raw.append(text)
            for event in parse(text):
                seen.append(event)
                if stop(event):
                    return seen
        raise AssertionError(f"stream ended before the expected event: {seen}")

    def rest(self) -> list[dict[str, Any]]:
        return self.until(lambda e: e.get("event") in TERMINAL)

    def close(self) -> None:
        self.response.close()


def start(client: FlaskClient, user: dict[str, Any], **body: Any) -> Any:
    return client.post(
        "/api/planogram/stream-optimization",
        json={"device_id": OFFICE, **body},
        headers=user["headers"],
        buffered=False,
    )


def events_of(
    client: FlaskClient, user: dict[str, Any], job_id: str, headers: dict[str, str] | None = None, query: str = ""
) -> Any:
    return client.get(
        f"/api/planogram/optimizations/{job_id}/events{query}",
        headers={**user["headers"], **(headers or {})},
        buffered=False,
    )


def only_events(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in items if "event" in e]


def stored(app: Flask, job_id: str) -> list[Any]:
    from services.runtime import backends

    with app.app_context():
        return backends().events.read(f"opt:{job_id}", None, count=10_000)


def wait_for_stored(app: Flask, job_id: str, kind: str) -> list[Any]:
    """The job's stored events up to the first ``kind`` event (blocking reads of its stream)."""
    return events_until(app, f"opt:{job_id}", lambda seen: any(e.type == kind for e in seen))


def wait_until_finished(app: Flask, job_id: str) -> None:
    """Until the job function has returned (the runner's status: no event marks it)."""
    from services.runtime import backends

    def ended() -> bool:
        with app.app_context():
            return backends().jobs.status(job_id) in {"finished", "failed"}

    wait_for(ended, f"job {job_id} returned")


def explanation_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["data"]["delta"] for e in events if e.get("event") == "explanation")


# --- the stream -------------------------------------------------------------------------------------------


def test_post_streams_queued_started_progress_explanation_then_done(
    client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    response = start(client, merchandiser, objective="margin", locked_slots=["a1"])
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["X-Accel-Buffering"] == "no"
    stream = Stream(response)
    first = stream.next_events()
    assert first[0]["event"] == "queued"
    events = only_events(first + stream.rest())
    started = events[1]["data"]
    assert events[1]["event"] == "started" and started["job_id"] == first[0]["data"]["job_id"]
    assert set(started) == {"job_id", "device_id", "objective", "current_objective", "current_planogram"}
    assert (started["device_id"], started["objective"]) == (OFFICE, "margin")
    assert len(started["current_planogram"]) == 48 and started["current_objective"] > 0
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "done"
    progress = [e for e in events if e["event"] == "progress"]
    assert len(progress) >= 3
    first_expl = kinds.index("explanation")
    assert kinds[2:first_expl] == ["progress"] * len(progress)
    assert set(kinds[first_expl:-1]) == {"explanation"}
    assert all(e["id"] for e in events) and len({e["id"] for e in events}) == len(events)
    assert [p["data"]["step"] for p in progress] == list(range(1, len(progress) + 1))

    plan = dict(started["current_planogram"])
    for p in progress:  # each step's moves turn the previous planogram into this one
        assert set(p["data"]) - {"floor_objective"} == {"step", "phase", "moves", "objective", "planogram"}
        for move in p["data"]["moves"]:
            assert plan[move["slot"]] == move["from"]
            plan[move["slot"]] = move["to"]
        assert plan == p["data"]["planogram"]
    assert all(p["data"]["planogram"]["A1"] == started["current_planogram"]["A1"] for p in progress)  # locked

    done = events[-1]["data"]
    assert set(done) == {
        "planogram",
        "objective",
        "current_objective",
        "uplift_per_day",
        "uplift_pct",
        "slots_changed",
        "changes",
        "explanation_fallback_used",
        "request_id",
        "explanation_fallback_reason",
        "explanation_error_kind",
        "explanation_model",
    }
    assert done["planogram"] == progress[-1]["data"]["planogram"]
    assert done["objective"] == progress[-1]["data"]["objective"] > done["current_objective"]
    assert done["current_objective"] == started["current_objective"]
    assert done["uplift_per_day"] == pytest.approx(done["objective"] - done["current_objective"], abs=1e-3)
    assert done["uplift_pct"] == pytest.approx(100 * done["uplift_per_day"] / done["current_objective"], abs=1e-2)
    assert done["slots_changed"] == sum(
        1 for s, sku in done["planogram"].items() if started["current_planogram"][s] != sku
    )
    assert done["explanation_fallback_used"] is True and done["request_id"]
    assert done["explanation_fallback_reason"] == "no_provider"
    text = explanation_text(events)
    assert text.startswith(LABEL) and f"{done['slots_changed']} of 48 slots" in text
    assert all(e["data"]["fallback_used"] is True for e in events if e["event"] == "explanation")


def test_the_steps_objectives_are_the_engines_values_of_each_planogram(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    from services.merchandising.analysis import planogram_from
    from services.merchandising.data import load_device, model_for
    from services.planogram import ValueParams
    from services.planogram.optimize import point_value

    events = only_events(Stream(start(client, merchandiser, objective="revenue")).rest())
    assert events[-1]["event"] == "done"
    progress = [e for e in events if e["event"] == "progress"]
    assert progress, "the stream sent no progress event: nothing was compared"
    with app.app_context():
        data = load_device(OFFICE)
        for e in progress:  # each step's objective is the predicted revenue/day of that step's planogram
            plan = planogram_from(data, e["data"]["planogram"])
            value = point_value(model_for(data), data.cabinet, data.products, plan, ValueParams(objective="revenue"))
            assert e["data"]["objective"] == pytest.approx(value, abs=1e-3)
    assert progress[-1]["data"]["objective"] == pytest.approx(events[-1]["data"]["objective"], abs=1e-3)


def test_last_event_id_resumes_the_same_job_without_restarting_it(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    events = only_events(Stream(start(client, merchandiser)).rest())
    job_id = events[0]["data"]["job_id"]
    before = stored(app, job_id)
    resume_at = events[3]["id"]  # the second progress event (after queued, started, progress 1)
    resumed = only_events(Stream(events_of(client, merchandiser, job_id, {"Last-Event-ID": resume_at})).rest())
    assert resumed == events[4:]
    by_query = only_events(Stream(events_of(client, merchandiser, job_id, query=f"?last_event_id={resume_at}")).rest())
    assert by_query == events[4:]
    everything = only_events(Stream(events_of(client, merchandiser, job_id)).rest())
    assert everything == events
    assert len(stored(app, job_id)) == len(before)  # no new job, no new events


def test_a_reconnect_mid_job_gets_the_missed_and_then_the_live_events(
    client: FlaskClient, merchandiser: dict[str, Any], settings: dict[str, Any]
) -> None:
    stream = Stream(start(client, merchandiser))
    seen = only_events(stream.until(lambda e: e.get("event") == "progress"))
    stream.close()  # the browser lost the connection after the first progress event
    again = only_events(
        Stream(events_of(client, merchandiser, seen[0]["data"]["job_id"], {"Last-Event-ID": seen[-1]["id"]})).rest()
    )
    assert again[0]["event"] == "progress" and again[0]["data"]["step"] == 2 and again[-1]["event"] == "done"


def test_the_post_answers_with_queued_first_and_the_job_publishes_started(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    """Exact wire text: the POST's first chunk is the ``queued`` event alone (no model fit on the request path);
    ``started`` with the current objective comes from the job."""
    stream = Stream(start(client, merchandiser, objective="revenue"))
    chunk = next(stream.chunks)
    text = chunk.decode() if isinstance(chunk, bytes) else chunk
    match = re.fullmatch(
        r'id: (\S+)\nevent: queued\ndata: \{"job_id":"([0-9a-f]{32})","device_id":"DEMO-OFF-01",'
        r'"objective":"revenue","position":1\}\n\n',
        text,
    )
    assert match, text
    event_id, job_id = match.groups()
    rest = stream.rest()
    kinds = [e["event"] for e in only_events(rest)]
    assert kinds[0] == "started" and kinds[-1] == "done"
    started = only_events(rest)[0]
    assert started["id"] != event_id
    current = started["data"]["current_planogram"]
    expected = (
        f'id: {started["id"]}\nevent: started\ndata: {{"job_id":"{job_id}","device_id":"DEMO-OFF-01",'
        f'"objective":"revenue","current_objective":{started["data"]["current_objective"]},'
        f'"current_planogram":{json.dumps(current, separators=(",", ":"))}}}\n\n'
    )
    assert expected in stream.raw  # one chunk per event


@pytest.mark.parametrize("settings", [{"JOB_WORKERS": 1, "OPTIMIZATION_STEP_DELAY_MS": 1000}])
def test_queued_names_the_place_in_the_queue(app: Flask, client: FlaskClient, merchandiser: dict[str, Any]) -> None:
    first = Stream(start(client, merchandiser))
    busy = first.next_events()[0]["data"]["job_id"]
    wait_for_stored(app, busy, "progress")  # the only optimiser is busy with the first job (paced steps)
    positions, waiting = [], []
    for _ in range(2):
        stream = Stream(start(client, merchandiser))
        queued = stream.next_events()[0]
        positions.append((queued["event"], queued["data"]["position"]))
        waiting.append((stream, queued["data"]["job_id"]))
    assert positions == [("queued", 1), ("queued", 2)]
    for stream, job_id in waiting:  # a cancelled job leaves the queue: the next one moves up
        client.post(f"/api/planogram/optimizations/{job_id}/cancel", headers=merchandiser["headers"])
        stream.close()
    third = Stream(start(client, merchandiser))
    queued = third.next_events()[0]["data"]
    assert queued["position"] == 1
    client.post(f"/api/planogram/optimizations/{queued['job_id']}/cancel", headers=merchandiser["headers"])
    third.close()
    client.post(f"/api/planogram/optimizations/{busy}/cancel", headers=merchandiser["headers"])
    first.close()


@pytest.mark.parametrize("settings", [{"JOB_WORKERS": 1, "OPTIMIZATION_STEP_DELAY_MS": 1000}])
def test_a_waiting_stream_hears_its_place_move_up_as_jobs_ahead_start(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    first = Stream(start(client, merchandiser))
    busy = first.next_events()[0]["data"]["job_id"]
    wait_for_stored(app, busy, "progress")  # the only optimiser is busy
    second, third = Stream(start(client, merchandiser)), Stream(start(client, merchandiser))
    second_id = second.next_events()[0]["data"]["job_id"]
    queued = third.next_events()[0]["data"]
    assert queued["position"] == 2
    client.post(f"/api/planogram/optimizations/{busy}/cancel", headers=merchandiser["headers"])
    first.close()
    # the first job ends, the second starts: the third is told it is next, before it starts itself
    seen = only_events(third.until(lambda e: e.get("event") == "queued"))
    assert seen[-1]["data"] == {"job_id": queued["job_id"], "position": 1}
    for job_id, stream in ((second_id, second), (queued["job_id"], third)):
        client.post(f"/api/planogram/optimizations/{job_id}/cancel", headers=merchandiser["headers"])
        stream.close()


def test_the_first_progress_is_the_quick_plan_never_below_the_floor(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    """Step 1 (phase "quick") comes before the exact MILP: the floor (today's planogram repaired) and a few
    improving swaps, never below the floor; the exact steps lead on from it to the same answer as always."""
    from services.merchandising.data import load_device, model_for
    from services.merchandising.stream import _constraints
    from services.planogram import ValueParams
    from services.planogram.optimize import point_value
    from services.planogram.problem import build_problem
    from services.planogram.repair import repair

    answers = []
    for _ in range(2):
        events = only_events(Stream(start(client, merchandiser, objective="margin", locked_slots=["A1"])).rest())
        progress = [e["data"] for e in events if e["event"] == "progress"]
        assert progress[0]["phase"] == "quick" and {p["phase"] for p in progress[1:]} == {"exact"}
        assert progress[0]["objective"] >= progress[0]["floor_objective"] - 1e-3
        answers.append(events[-1]["data"]["planogram"])
    with app.app_context():
        data = load_device(OFFICE)
        model, params = model_for(data), ValueParams(objective="margin")
        pb = build_problem(model, data.cabinet, data.products, data.planogram, _constraints(data, ["A1"]), params)
        floor = point_value(
            model, data.cabinet, data.products, pb.to_planogram(repair(pb).filled, data.planogram), params
        )
    assert progress[0]["objective"] >= floor - 1e-3 and progress[0]["floor_objective"] == pytest.approx(floor, abs=1e-3)
    assert answers[0] == answers[1]  # identical requests, identical answers


@pytest.mark.parametrize("settings", [{"SSE_HEARTBEAT_SECONDS": 0.05, "OPTIMIZATION_STEP_DELAY_MS": 150}])
def test_heartbeat_pings_between_events(client: FlaskClient, merchandiser: dict[str, Any]) -> None:
    stream = Stream(start(client, merchandiser))
    items = stream.rest()
    assert {"comment": "ping"} in items and items[-1]["event"] == "done"
    assert ": ping\n\n" in stream.raw


@pytest.mark.parametrize("settings", [{"OPTIMIZATION_STEP_DELAY_MS": 200}])
def test_cancel_ends_the_stream_and_stops_the_job(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    stream = Stream(start(client, merchandiser))
    started = stream.next_events()[0]["data"]
    job_id = started["job_id"]
    stream.until(lambda e: e.get("event") == "progress")
    answer = client.post(f"/api/planogram/optimizations/{job_id}/cancel", headers=merchandiser["headers"])
    assert answer.status_code == 200 and answer.json == {"job_id": job_id, "cancel_requested": True}
    tail = only_events(stream.rest())
    assert tail[-1]["event"] == "cancelled" and tail[-1]["data"]["reason"] == "requested"
    assert tail[-1]["data"]["step"] >= 1
    wait_until_finished(app, job_id)  # the job notices at its next step
    kinds = [e.type for e in stored(app, job_id)]
    assert "done" not in kinds and "explanation" not in kinds
    # at most the one step that was being published while the cancel arrived may follow it
    assert kinds.index("cancelled") >= len(kinds) - 2


@pytest.mark.parametrize("settings", [{"OPTIMIZATION_STEP_DELAY_MS": 150, "STREAM_ABANDON_SECONDS": 1}])
def test_a_job_nobody_listens_to_cancels_itself(app: Flask, client: FlaskClient, merchandiser: dict[str, Any]) -> None:
    stream = Stream(start(client, merchandiser))
    job_id = stream.next_events()[0]["data"]["job_id"]
    stream.close()  # the client went away and nobody reconnects
    items = wait_for_stored(app, job_id, "cancelled")
    assert items[-1].type == "cancelled" and items[-1].data["reason"] == "abandoned"
    assert "done" not in [e.type for e in items]


def test_refusals_are_json_errors(
    client: FlaskClient,
    merchandiser: dict[str, Any],
    viewer: dict[str, Any],
    make_user: Callable[..., dict[str, Any]],
    admin: dict[str, Any],
) -> None:
    missing = start(client, merchandiser, device_id="NOPE")
    assert missing.status_code == 404 and missing.json["error"]["details"] == {"device_id": "NOPE"}
    bad = start(client, merchandiser, locked_slots=["Z9"])
    assert bad.status_code == 422
    assert bad.json["error"]["details"] == [
        {"field": "locked_slots", "reason": f"unknown slot 'Z9' for device {OFFICE}"}
    ]
    assert start(client, merchandiser, objective="speed").status_code == 422
    assert start(client, viewer).status_code == 403
    assert client.post("/api/planogram/stream-optimization", json={"device_id": OFFICE}).status_code == 401

    events = only_events(Stream(start(client, merchandiser)).rest())
    job_id = events[0]["data"]["job_id"]
    other = make_user("merchandiser")
    assert events_of(client, other, job_id).status_code == 403
    assert client.post(f"/api/planogram/optimizations/{job_id}/cancel", headers=other["headers"]).status_code == 403
    assert events_of(client, merchandiser, "nope").status_code == 404
    assert client.get(f"/api/planogram/optimizations/{job_id}/events").status_code == 401
    assert only_events(Stream(events_of(client, admin, job_id)).rest()) == events  # admins may read any job
    # cancelling a finished job changes nothing
    assert client.post(f"/api/planogram/optimizations/{job_id}/cancel", headers=merchandiser["headers"]).json == {
        "job_id": job_id,
        "cancel_requested": True,
    }
    assert only_events(Stream(events_of(client, merchandiser, job_id)).rest()) == events


def test_browser_session_needs_csrf_for_post_but_not_for_eventsource(app: Flask, merchandiser: dict[str, Any]) -> None:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    csrf = token.group(1)
    client.post(
        "/login", data={"email": merchandiser["email"], "password": merchandiser["password"], "csrf_token": csrf}
    )
    no_token = client.post("/api/planogram/stream-optimization", json={"device_id": OFFICE})
    assert no_token.status_code == 400 and no_token.json["error"]["code"] == "csrf_failed"
    response = client.post(
        "/api/planogram/stream-optimization", json={"device_id": OFFICE}, headers={"X-CSRFToken": csrf}, buffered=False
    )
    events = only_events(Stream(response).rest())
    assert events[-1]["event"] == "done"
    resumed = client.get(
        f"/api/planogram/optimizations/{events[0]['data']['job_id']}/events",
        headers={"Last-Event-ID": events[-2]["id"]},
        buffered=False,
    )  # what EventSource sends
    assert resumed.status_code == 200 and only_events(Stream(resumed).rest()) == events[-1:]


# --- explanation with an AI provider ----------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["anthropic"])
def test_ai_explanation_streams_as_prose(
    app: Flask, client: FlaskClient, merchandiser: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(text=json.dumps(AI_ANSWER), contains="Optimiser metrics")
    events = only_events(Stream(start(client, merchandiser)).rest())
    explanation = [e for e in events if e["event"] == "explanation"]
    assert explanation and all(e["data"]["fallback_used"] is False for e in explanation)
    assert explanation_text(events) == (
        "Chilled drinks move to the eye-level chilled rows, where they sell best.\n\n"
        "Objectives:\n- margin: — Margin per day rises.\n\n"
        "Key changes:\n- D1: empty → Still Water 500ml (DEMO-WATER-500) — Water sells here.\n\n"
        "Trade-offs:\n- Fewer facings for slow sellers.\n\n"
        "Risks:\n- Check the fresh food shelf life."
    )
    done = events[-1]["data"]
    assert done["explanation_fallback_used"] is False
    served = [c for c in fake.calls if "Optimiser metrics" in c.prompt]
    assert len(served) == 1 and served[0].stream
    # the prompt carries the engine's figures (2 decimals of the raw value; the wire rounds to 4 first)
    shown = re.search(r"including neighbour effects\): (-?[\d.]+) → (-?[\d.]+)", served[0].prompt)
    assert shown is not None
    assert float(shown[1]) == pytest.approx(done["current_objective"], abs=0.006)
    assert float(shown[2]) == pytest.approx(done["objective"], abs=0.006)
    ledger = client.get(f"/api/llm/requests/{done['request_id']}", headers=merchandiser["headers"])
    if ledger.status_code == 200:
        assert ledger.json["status"] == "ok" and ledger.json["prompt_name"] == "planogram_optimization"


@pytest.mark.parametrize("provider", ["anthropic"])
def test_provider_cut_mid_stream_falls_back_labelled(
    client: FlaskClient, merchandiser: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(error="cut", contains="Optimiser metrics")
    events = only_events(Stream(start(client, merchandiser)).rest())
    explanation = [e for e in events if e["event"] == "explanation"]
    ai_part = "".join(e["data"]["delta"] for e in explanation if not e["data"]["fallback_used"])
    fallback_part = "".join(e["data"]["delta"] for e in explanation if e["data"]["fallback_used"])
    assert ai_part and "This answer is cut off".startswith(ai_part[:10])
    assert fallback_part.startswith("\n\n" + LABEL)
    assert explanation[-1]["data"]["fallback_used"] is True
    assert events[-1]["event"] == "done" and events[-1]["data"]["explanation_fallback_used"] is True
    assert events[-1]["data"]["explanation_fallback_reason"] not in (None, "no_provider")  # the real reason


# --- placement feedback -----------------------------------------------------------------------------------


def feedback(client: FlaskClient, user: dict[str, Any], **body: Any) -> Any:
    return client.post(
        "/api/planogram/placement-feedback",
        json={"device_id": OFFICE, "sku": "DEMO-WATER-500", "slot": "e2", **body},
        headers=user["headers"],
    )


def test_placement_feedback_without_a_provider_is_rule_based(client: FlaskClient, viewer: dict[str, Any]) -> None:
    response = feedback(client, viewer)
    assert response.status_code == 200
    body = response.json
    assert body["fallback_used"] is True and body["provider_configured"] is False and body["cached"] is False
    assert body["feedback"].startswith("Rule-based feedback") and "Still Water 500ml" in body["feedback"]
    assert body["slot"] == "E2" and body["request_id"] and body["cost_usd"] == 0.0
    warm = feedback(client, viewer, slot="A2").json
    assert warm["verdict"] == "poor" and warm["score"] == 0
    assert feedback(client, viewer, device_id="NOPE").status_code == 404
    bad = feedback(client, viewer, slot="Z9")
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "slot"


@pytest.mark.parametrize("provider", ["anthropic"])
def test_placement_feedback_from_the_fast_tier_is_cached(
    client: FlaskClient, viewer: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(
        text=json.dumps(
            {
                "verdict": "good",
                "feedback": "Eye-level chilled slot: a strong spot.",
                "better_slots": [],
                "confidence": 0.9,
            }
        ),
        contains="Engine score",
    )
    first = feedback(client, viewer).json
    assert (first["feedback"], first["verdict"], first["fallback_used"], first["cached"]) == (
        "Eye-level chilled slot: a strong spot.",
        "good",
        False,
        False,
    )
    assert first["provider_configured"] is True and first["tier"] == "fast" and first["model"]
    assert first["cost_usd"] > 0 and first["request_id"]
    second = feedback(client, viewer).json
    assert second["cached"] is True and second["feedback"] == first["feedback"] and second["cost_usd"] == 0.0
    assert len([c for c in fake.calls if "Engine score" in c.prompt]) == 1


# --- change budget and product rules (issue 13) -----------------------------------------------------------


def test_stream_takes_the_change_budget_and_rules_and_prices_each_change(
    client: FlaskClient, merchandiser: dict[str, Any]
) -> None:
    response = start(
        client,
        merchandiser,
        objective="margin",
        max_changed_slots=8,
        max_new_skus=1,
        must_stock=["DEMO-WATER-500"],
        min_facings={"DEMO-WATER-500": 1},
        max_facings={"DEMO-COLA-330": 2},
    )
    assert response.status_code == 200
    events = only_events(Stream(response).rest())
    done = events[-1]
    assert done["event"] == "done", events[-1]
    changes = done["data"]["changes"]
    assert len(changes) == done["data"]["slots_changed"]
    assert all(set(c) == {"slot", "from", "to", "value_per_day"} for c in changes)
    values = [c["value_per_day"] for c in changes]
    assert values == sorted(values, reverse=True)  # most valuable change first
    final = done["data"]["planogram"]
    if changes:  # a proposal honours the rules (an unimproved run keeps today's planogram as it is)
        assert "DEMO-WATER-500" in final.values()
        assert list(final.values()).count("DEMO-COLA-330") <= 2
    assert done["data"]["slots_changed"] <= 8  # the budget binds the solver


def test_stream_rejects_a_bad_budget_or_rule_before_starting(client: FlaskClient, merchandiser: dict[str, Any]) -> None:
    negative = start(client, merchandiser, max_changed_slots=-1)
    assert negative.status_code == 422
    assert negative.json["error"]["details"][0]["field"] == "max_changed_slots"
    unknown = start(client, merchandiser, must_stock=["NO-SUCH-SKU"])
    assert unknown.status_code == 422
    assert unknown.json["error"]["details"] == [
        {"field": "must_stock/min_facings/max_facings", "reason": "unknown sku 'NO-SUCH-SKU'"}
    ]
