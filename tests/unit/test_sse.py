"""SSE wire format, the relay (first chunk, heartbeat, terminal events, cleanup) and streamed prose."""

from __future__ import annotations

import json
import threading

import pytest

from services.events import EventStream
from services.llm import DataStructurer
from services.merchandising.explain import ExplanationInput, ProseStream, prompt_context, prompt_variables, rule_based
from services.merchandising.stream import stage_by_row
from services.planogram import Cabinet, Move, Planogram
from services.sse import PING, RelaySettings, SSEEvent, relay

FAST = RelaySettings(heartbeat_s=15.0, block_s=0.05, max_idle_s=None)


def test_event_renders_exact_wire_text() -> None:
    event = SSEEvent("progress", {"step": 2, "text": "two\nlines", "name": "Café"}, "1700000000000-3")
    assert event.render() == (
        'id: 1700000000000-3\nevent: progress\ndata: {"step":2,"text":"two\\nlines","name":"Café"}\n\n'
    )
    assert SSEEvent("done", [1, None]).render() == "event: done\ndata: [1,null]\n\n"


def test_event_refuses_multi_line_names_and_non_json_numbers() -> None:
    with pytest.raises(ValueError, match="one line"):
        SSEEvent("bad\nevent", {})
    with pytest.raises(ValueError, match="one line"):
        SSEEvent("x", {}, "1\n2")
    with pytest.raises(ValueError):
        SSEEvent("x", {"v": float("nan")}).render()


def test_relay_sends_stored_events_at_once_and_stops_after_a_terminal_one(events: EventStream) -> None:
    first = events.publish("job", "started", {"job_id": "j"})
    events.publish("job", "progress", {"step": 1})
    events.publish("job", "done", {"ok": True})
    events.publish("job", "progress", {"step": 99})  # after the terminal event: never relayed
    chunks = list(relay(events, "job", None, FAST))
    assert chunks[0] == f'id: {first}\nevent: started\ndata: {{"job_id":"j"}}\n\n'
    assert [c.split("\n")[1] for c in chunks] == ["event: started", "event: progress", "event: done"]


def test_relay_resumes_after_an_id_and_flushes_headers_with_a_ping(events: EventStream) -> None:
    ids = [events.publish("job", "progress", {"step": i}) for i in range(3)]
    gen = relay(events, "job", ids[2], FAST)
    assert next(gen) == PING  # nothing new yet: the client still gets its headers at once
    events.publish("job", "cancelled", {"step": 2})
    rest = list(gen)
    assert len(rest) == 1 and rest[0].startswith("id: ") and "event: cancelled" in rest[0]
    resumed = list(relay(events, "job", ids[0], FAST))
    assert [json.loads(c.split("data: ")[1])["step"] for c in resumed] == [1, 2, 2]


def test_relay_pings_while_waiting_and_wakes_on_a_publish_from_another_thread(events: EventStream) -> None:
    events.publish("job", "started", {})
    settings = RelaySettings(heartbeat_s=0.02, block_s=0.01, max_idle_s=None)
    gen = relay(events, "job", None, settings)
    assert "event: started" in next(gen)
    assert next(gen) == PING
    publisher = threading.Thread(target=events.publish, args=("job", "error", {"code": "x", "message": "m"}))
    publisher.start()
    rest = list(gen)
    publisher.join()
    assert set(rest[:-1]) <= {PING} and "event: error" in rest[-1]


def test_relay_cleans_up_when_the_client_goes_away(events: EventStream) -> None:
    events.publish("job", "started", {})
    calls: list[str] = []
    gen = relay(events, "job", None, FAST, on_poll=lambda: calls.append("poll"), on_close=lambda: calls.append("close"))
    next(gen)
    events.publish("job", "progress", {"step": 1})
    next(gen)
    gen.close()  # type: ignore[attr-defined]  # what the WSGI server does when a write to the client fails
    assert calls[-1] == "close" and "poll" in calls


def test_relay_gives_up_after_max_idle(events: EventStream) -> None:
    events.publish("job", "started", {})
    chunks = list(relay(events, "job", None, RelaySettings(heartbeat_s=0.01, block_s=0.01, max_idle_s=0.03)))
    assert "event: started" in chunks[0] and set(chunks[1:]) <= {PING}


ANSWER = {
    "summary": "Cold drinks move to eye level, where they sell best.",
    "objectives": [{"name": "margin", "before": 39.26, "after": 51.32, "explanation": "More margin per day."}],
    "key_changes": [{"slot": "B2", "from_sku": "CHIPS", "to_sku": "COLA", "reason": "Cola sells more here."}],
    "trade_offs": ["Fewer crisps facings."],
    "risks": ["Check the chilled row temperature."],
    "confidence": 0.8,
}
NAMES = {"COLA": "Cola 330ml", "CHIPS": "Crisps"}
PROSE = (
    "Cold drinks move to eye level, where they sell best.\n\n"
    "Objectives:\n- margin: 39.26 → 51.32 — More margin per day.\n\n"
    "Key changes:\n- B2: Crisps → Cola 330ml — Cola sells more here.\n\n"
    "Trade-offs:\n- Fewer crisps facings.\n\n"
    "Risks:\n- Check the chilled row temperature."
)


def _product(sku: str | None) -> str:
    return "empty" if sku is None else NAMES.get(sku, sku)


@pytest.mark.parametrize("size", [1, 3, 17, 10_000])
def test_prose_stream_deltas_add_up_to_the_final_prose(size: int) -> None:
    raw = json.dumps(ANSWER)
    prose = ProseStream(_product)
    pieces = [prose.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
    pieces.append(prose.finish())
    assert "".join(pieces) == PROSE == prose.text
    if size < 20:
        assert sum(1 for p in pieces if p) >= 5  # the text really arrives progressively
        assert not any("{" in p or '"' in p for p in pieces)  # never raw JSON


def test_prose_stream_handles_code_fences_and_plain_prose() -> None:
    fenced = ProseStream(_product)
    out = fenced.feed("```json\n" + json.dumps({"summary": "Short."}) + "\n```") + fenced.finish()
    assert out == "Short."
    plain = ProseStream(_product)
    assert plain.feed("Just ") + plain.feed("words.") + plain.finish() == "Just words."


def _input(changes: tuple[tuple[Move, float], ...]) -> ExplanationInput:
    return ExplanationInput(
        "D1",
        "Demo office",
        "margin",
        48,
        40.0,
        50.0,
        100.0,
        110.0,
        40.0,
        50.0,
        True,
        changes,
        ("A1",),
        {"COLA": "Cola 330ml"},
    )


def test_rule_based_explanation_is_labelled_and_built_from_the_numbers() -> None:
    text = rule_based(_input(((Move("B2", None, "COLA"), 1.5), (Move("C3", "COLA", None), 0.25))))
    assert text.startswith("Rule-based explanation") and "no AI was used" in text
    assert "from 40.00 to 50.00 per day (+10.00, +25.0 %)" in text and "2 of 48 slots" in text
    assert "- B2: empty → Cola 330ml (COLA) (+1.50 per day)" in text and "locked slots kept: A1" in text
    assert "no changes are suggested" in rule_based(_input(()))
    variables = prompt_variables(_input(((Move("B2", None, "COLA"), 1.5),)))
    assert set(variables) == {"device_name", "objective", "metrics", "constraints"}
    assert "40.00 → 50.00" in variables["metrics"]


def test_explanation_changes_are_fitted_to_the_token_budget_least_valuable_cut_first() -> None:
    changes = tuple((Move(f"B{i}", None, "COLA"), 10.0 - i / 10) for i in range(1, 61))
    (block,) = prompt_context(_input(changes))
    assert block.name == "changes" and len(block.lines) == 60  # every change, best first
    assert block.lines[0] == "B1: empty → Cola 330ml (COLA); value of this change +9.90 per day"
    fitted = DataStructurer().fit([block], 300)
    kept = fitted.texts["changes"].splitlines()
    assert fitted.truncated == ("changes",) and fitted.tokens <= 300
    assert kept[0] == block.lines[0] and kept[:-1] == list(block.lines[: len(kept) - 1])  # a prefix: the best
    assert kept[-1].startswith("<!-- ") and "more changes lines truncated" in kept[-1]
    assert DataStructurer().fit([block], 4000).truncated == ()  # the fast tier's budget holds 60 changes


def test_stage_by_row_ends_at_the_target_with_true_objectives() -> None:
    cabinet = Cabinet.uniform("D", 3, 2)
    before = Planogram.of({"A1": "x", "B1": "y", "C1": "z"})
    after = Planogram.of({"A1": "y", "B1": "x", "C2": "z"})

    def value(p: Planogram) -> float:
        return float(sum(ord(s[0]) * (i + 1) for i, (s, _sku) in enumerate(p.assignments)))

    stages = stage_by_row(cabinet, before, after, value)
    assert len(stages) == 3 and stages[-1][0] == after
    assert all(v == value(p) for p, v in stages)
    single = stage_by_row(cabinet, before, Planogram.of({"A1": "q", "B1": "y", "C1": "z"}), value)
    assert len(single) == 1
