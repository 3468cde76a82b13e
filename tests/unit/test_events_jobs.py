"""Event streams and job runners behave the same in memory and in Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import nullcontext

import pytest
import redis

from services.events import EventStream, MemoryEventStream, RedisEventStream
from services.jobs import RQJobRunner, ThreadJobRunner
from tests.waiting import wait_for

RESULTS: list[tuple[str, int]] = []


def record_job(label: str, value: int) -> None:
    """A job function addressable by dotted path."""
    RESULTS.append((label, value))


def failing_job() -> None:
    raise RuntimeError("boom")


@pytest.fixture(params=["memory", "redis"])
def stream(request: pytest.FixtureRequest) -> Iterator[EventStream]:
    if request.param == "memory":
        yield MemoryEventStream(ttl_seconds=60)
    else:
        client: redis.Redis = request.getfixturevalue("redis_client")
        yield RedisEventStream(client, ttl_seconds=60)


def test_publish_and_read_in_order_and_resume_after_id(stream: EventStream) -> None:
    ids = [stream.publish("job1", "progress", {"step": i}) for i in range(5)]
    assert len(set(ids)) == 5
    events = stream.read("job1", None)
    assert [e.data["step"] for e in events] == [0, 1, 2, 3, 4]
    assert [e.id for e in events] == ids
    resumed = stream.read("job1", ids[2])
    assert [e.data["step"] for e in resumed] == [3, 4]
    assert stream.read("job1", ids[-1]) == []
    assert stream.exists("job1") and not stream.exists("other")


def test_streams_are_isolated(stream: EventStream) -> None:
    stream.publish("a", "x", {"n": 1})
    stream.publish("b", "y", {"n": 2})
    assert [e.type for e in stream.read("a", None)] == ["x"]
    assert [e.type for e in stream.read("b", None)] == ["y"]


def test_blocking_read_wakes_on_publish(stream: EventStream) -> None:
    first = stream.publish("job", "started", {})
    timer = threading.Timer(0.2, lambda: stream.publish("job", "done", {"ok": True}))
    timer.start()
    events = stream.read("job", first, block_ms=5000)
    timer.join()
    assert [e.type for e in events] == ["done"] and events[0].data == {"ok": True}


def test_blocking_read_times_out_empty(stream: EventStream) -> None:
    assert stream.read("silent", None, block_ms=50) == []


def test_thread_runner_runs_cancels_and_reports_failure() -> None:
    runner = ThreadJobRunner(nullcontext, workers=2)
    RESULTS.clear()
    job = runner.submit("tests.unit.test_events_jobs.record_job", "thread", 7)
    bad = runner.submit("tests.unit.test_events_jobs.failing_job")
    runner.cancel(job)
    runner.shutdown()
    assert RESULTS == [("thread", 7)]
    assert runner.status(job) == "finished" and runner.status(bad) == "failed"
    assert runner.is_cancelled(job) and not runner.is_cancelled(bad)
    assert runner.status("nope") == "unknown"


GATE = threading.Event()
STARTED = threading.Event()


def gated_job() -> None:
    STARTED.set()
    GATE.wait(10)


def test_thread_runner_queue_depth_counts_jobs_not_started() -> None:
    runner = ThreadJobRunner(nullcontext, workers=1)
    GATE.clear()
    STARTED.clear()
    first = runner.submit("tests.unit.test_events_jobs.gated_job")
    assert STARTED.wait(10), "the one worker never took the first job"  # safety net, not a timing check
    runner.submit("tests.unit.test_events_jobs.gated_job")
    runner.submit("tests.unit.test_events_jobs.gated_job")
    assert runner.status(first) == "running" and runner.queue_depth == 2
    GATE.set()
    runner.shutdown()
    assert runner.queue_depth == 0


def test_rq_runner_enqueues_for_a_worker(redis_client: redis.Redis) -> None:
    from rq import SimpleWorker

    runner = RQJobRunner(redis_client, queue_name="test-queue")
    RESULTS.clear()
    job = runner.submit("tests.unit.test_events_jobs.record_job", "rq", 3, job_id="job-abc")
    assert job == "job-abc" and runner.status(job) == "queued" and runner.queue_depth == 1
    runner.cancel(job)
    assert runner.is_cancelled(job)
    SimpleWorker(["test-queue"], connection=redis_client).work(burst=True)  # runs the job in this thread
    assert runner.status(job) == "finished"
    assert RESULTS == [("rq", 3)]


def test_thread_runner_background_jobs_never_hold_up_interactive_ones() -> None:
    runner = ThreadJobRunner(nullcontext, workers=1, background_workers=1)
    GATE.clear()
    STARTED.clear()
    RESULTS.clear()
    slow = runner.submit("tests.unit.test_events_jobs.gated_job", background=True)  # e.g. the fleet's figures
    assert STARTED.wait(10), "the background thread never took its job"
    runner.submit("tests.unit.test_events_jobs.record_job", "user", 1)
    assert runner.status(slow) == "running"
    wait_for(lambda: RESULTS == [("user", 1)], "the interactive job ran while the background one was busy")
    GATE.set()
    runner.shutdown()
    assert runner.status(slow) == "finished"


def test_rq_runner_sends_background_jobs_to_the_queue_workers_take_last(redis_client: redis.Redis) -> None:
    from rq import Queue

    runner = RQJobRunner(redis_client, queue_name="test-lanes")
    runner.submit("tests.unit.test_events_jobs.record_job", "bg", 1, job_id="bg-1", background=True)
    runner.submit("tests.unit.test_events_jobs.record_job", "user", 2, job_id="user-1")
    assert Queue("test-lanes", connection=redis_client).job_ids == ["user-1"]
    assert Queue("test-lanes-background", connection=redis_client).job_ids == ["bg-1"]
    assert runner.queue_depth == 2
