"""Event streams and job runners behave the same in memory and in Redis."""

from __future__ import annotations

import threading
from contextlib import nullcontext

import redis

from services.events import EventStream
from services.jobs import CANCELLED, ENDED, STOPPING, JobPolicy, RQJobRunner, ThreadJobRunner
from tests.waiting import wait_for

RESULTS: list[tuple[str, int]] = []


def record_job(label: str, value: int) -> None:
    """A job function addressable by dotted path."""
    RESULTS.append((label, value))


ATTEMPTS: list[str] = []


def failing_job() -> None:
    ATTEMPTS.append("failing")
    raise RuntimeError("boom")


def fails_once() -> None:
    ATTEMPTS.append("once")
    if ATTEMPTS.count("once") == 1:
        raise RuntimeError("first attempt")


def test_publish_and_read_in_order_and_resume_after_id(events: EventStream) -> None:
    ids = [events.publish("job1", "progress", {"step": i}) for i in range(5)]
    assert len(set(ids)) == 5
    found = events.read("job1", None)
    assert [e.data["step"] for e in found] == [0, 1, 2, 3, 4]
    assert [e.id for e in found] == ids
    resumed = events.read("job1", ids[2])
    assert [e.data["step"] for e in resumed] == [3, 4]
    assert events.read("job1", ids[-1]) == []
    assert events.exists("job1") and not events.exists("other")


def test_streams_are_isolated(events: EventStream) -> None:
    events.publish("a", "x", {"n": 1})
    events.publish("b", "y", {"n": 2})
    assert [e.type for e in events.read("a", None)] == ["x"]
    assert [e.type for e in events.read("b", None)] == ["y"]


def test_blocking_read_wakes_on_publish(events: EventStream) -> None:
    first = events.publish("job", "started", {})
    timer = threading.Timer(0.2, lambda: events.publish("job", "done", {"ok": True}))
    timer.start()
    found = events.read("job", first, block_ms=5000)
    timer.join()
    assert [e.type for e in found] == ["done"] and found[0].data == {"ok": True}


def test_blocking_read_times_out_empty(events: EventStream) -> None:
    assert events.read("silent", None, block_ms=50) == []


def test_thread_runner_runs_jobs_and_reports_failure_after_its_retries() -> None:
    runner = ThreadJobRunner(nullcontext, workers=2, policy=JobPolicy(retries=2))
    RESULTS.clear()
    ATTEMPTS.clear()
    job = runner.submit("tests.unit.test_events_jobs.record_job", "thread", 7)
    bad = runner.submit("tests.unit.test_events_jobs.failing_job")
    once = runner.submit("tests.unit.test_events_jobs.failing_job", retries=0)
    runner.shutdown()
    assert RESULTS == [("thread", 7)]
    assert runner.status(job) == "finished" and runner.status(bad) == "failed" and runner.status(once) == "failed"
    assert ATTEMPTS.count("failing") == 3 + 1  # bad: the first run and two retries; once: no retry
    assert runner.status("nope") == "unknown"


def test_thread_runner_retries_a_job_until_it_succeeds() -> None:
    runner = ThreadJobRunner(nullcontext, workers=1, policy=JobPolicy(retries=2))
    ATTEMPTS.clear()
    job = runner.submit("tests.unit.test_events_jobs.fails_once")
    runner.shutdown()
    assert runner.status(job) == "finished" and ATTEMPTS == ["once", "once"]


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
    SimpleWorker(["test-queue"], connection=redis_client).work(burst=True)  # runs the job in this thread
    assert runner.status(job) == "finished" and runner.cancel(job) == ENDED
    assert RESULTS == [("rq", 3)]


def test_thread_runner_cancels_a_queued_job_before_it_runs_and_flags_a_running_one() -> None:
    runner = ThreadJobRunner(nullcontext, workers=1)
    GATE.clear()
    STARTED.clear()
    RESULTS.clear()
    running = runner.submit("tests.unit.test_events_jobs.gated_job")
    assert STARTED.wait(10), "the one worker never took the first job"  # safety net, not a timing check
    queued = runner.submit("tests.unit.test_events_jobs.record_job", "never", 1)
    assert runner.cancel(queued) == CANCELLED and runner.status(queued) == "cancelled"
    assert runner.cancel(running) == STOPPING and runner.is_cancelled(running)
    GATE.set()
    runner.shutdown()
    assert RESULTS == [] and runner.status(queued) == "cancelled" and runner.queue_depth == 0
    assert runner.cancel(running) == ENDED


def test_thread_runner_forgets_ended_jobs_after_the_result_ttl() -> None:
    runner = ThreadJobRunner(nullcontext, workers=1, policy=JobPolicy(result_ttl_s=0))
    first = runner.submit("tests.unit.test_events_jobs.record_job", "a", 1)
    wait_for(lambda: runner.status(first) == "finished", "the first job ran")
    runner.submit("tests.unit.test_events_jobs.record_job", "b", 2)  # statuses are pruned on submit
    assert runner.status(first) == "unknown"
    runner.shutdown()


def test_rq_runner_applies_the_policy_and_cancels_a_queued_job(redis_client: redis.Redis) -> None:
    from rq import SimpleWorker
    from rq.job import Job

    policy = JobPolicy(timeout_s=120, retries=3, retry_interval_s=5, result_ttl_s=600)
    runner = RQJobRunner(redis_client, queue_name="test-policy", policy=policy)
    RESULTS.clear()
    runner.submit("tests.unit.test_events_jobs.record_job", "kept", 1, job_id="p-1")
    runner.submit("tests.unit.test_events_jobs.record_job", "dropped", 2, job_id="p-2", timeout_s=7, retries=0)
    first, second = Job.fetch("p-1", connection=redis_client), Job.fetch("p-2", connection=redis_client)
    assert (first.timeout, first.retries_left, first.retry_intervals) == (120, 3, [5])
    assert (first.result_ttl, first.failure_ttl) == (600, 600)
    assert (second.timeout, second.retries_left) == (7, None)
    assert runner.cancel("p-2") == CANCELLED and runner.status("p-2") == "cancelled" and runner.queue_depth == 1
    SimpleWorker(["test-policy"], connection=redis_client).work(burst=True)
    assert RESULTS == [("kept", 1)] and runner.status("p-1") == "finished"
    assert 0 < redis_client.ttl("rq:job:p-1") <= 600  # the result expires with the policy
    assert runner.cancel("p-1") == ENDED and runner.cancel("missing") == ENDED


def test_rq_runner_retries_a_failed_job_then_marks_it_failed(redis_client: redis.Redis) -> None:
    from rq import SimpleWorker

    runner = RQJobRunner(redis_client, queue_name="test-retry", policy=JobPolicy(retries=2, retry_interval_s=0))
    ATTEMPTS.clear()
    runner.submit("tests.unit.test_events_jobs.failing_job", job_id="r-1")
    runner.submit("tests.unit.test_events_jobs.fails_once", job_id="r-2")
    SimpleWorker(["test-retry"], connection=redis_client).work(burst=True)  # a retry is queued again at once
    assert runner.status("r-1") == "failed" and runner.status("r-2") == "finished"
    assert ATTEMPTS.count("failing") == 3 and ATTEMPTS.count("once") == 2


def sleeping_job() -> None:
    threading.Event().wait(30)  # interrupted by the worker's timeout


def test_rq_runner_kills_a_job_past_its_timeout(redis_client: redis.Redis) -> None:
    from rq import SimpleWorker
    from rq.job import Job

    runner = RQJobRunner(redis_client, queue_name="test-timeout", policy=JobPolicy(retries=0))
    runner.submit("tests.unit.test_events_jobs.sleeping_job", job_id="t-1", timeout_s=1)
    SimpleWorker(["test-timeout"], connection=redis_client).work(burst=True)
    assert runner.status("t-1") == "failed"
    result = Job.fetch("t-1", connection=redis_client).latest_result()
    assert result is not None and "JobTimeoutException" in (result.exc_string or "")


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


def test_thread_runner_lists_waiting_jobs_of_a_function_in_start_order() -> None:
    runner = ThreadJobRunner(nullcontext, workers=1)
    GATE.clear()
    STARTED.clear()
    busy = runner.submit("tests.unit.test_events_jobs.gated_job", job_id="busy")
    assert STARTED.wait(10), "the one worker never took the first job"
    runner.submit("tests.unit.test_events_jobs.gated_job", job_id="second")
    runner.submit("tests.unit.test_events_jobs.record_job", "other", 1, job_id="other")
    runner.submit("tests.unit.test_events_jobs.gated_job", job_id="third")
    runner.submit("tests.unit.test_events_jobs.gated_job", job_id="bg", background=True)
    # running and background jobs hold no place in the interactive queue; other functions are not listed
    assert runner.waiting("tests.unit.test_events_jobs.gated_job") == ["second", "third"]
    GATE.set()
    runner.shutdown()
    assert runner.status(busy) == "finished" and runner.waiting("tests.unit.test_events_jobs.gated_job") == []


def test_rq_runner_lists_waiting_jobs_of_a_function_in_start_order(redis_client: redis.Redis) -> None:
    runner = RQJobRunner(redis_client, queue_name="test-waiting")
    for job_id in ("a", "b"):
        runner.submit("tests.unit.test_events_jobs.record_job", job_id, 1, job_id=job_id)
    runner.submit("tests.unit.test_events_jobs.failing_job", job_id="c")
    runner.submit("tests.unit.test_events_jobs.record_job", "bg", 1, job_id="bg", background=True)
    assert runner.waiting("tests.unit.test_events_jobs.record_job") == ["a", "b"]
