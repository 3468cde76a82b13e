"""Background jobs: RQ on Redis when configured, a real-thread pool in one process otherwise."""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import redis

log = logging.getLogger("planogram.jobs")
ContextFactory = Callable[[], AbstractContextManager[Any]]


# What ``cancel`` did: a queued job will never run; a running one was asked to stop at its next check; an
# ended (or unknown) job had nothing left to cancel.
CANCELLED, STOPPING, ENDED = "cancelled", "stopping", "ended"


@dataclass(frozen=True, slots=True)
class JobPolicy:
    """How jobs run: timeout, retries after a failure, how long an ended job's status and result are kept."""

    timeout_s: int = 1800
    retries: int = 2
    retry_interval_s: int = 10
    result_ttl_s: int = 86_400


class JobRunner(Protocol):
    """Run a function (named by dotted path) in the background and let callers cancel it."""

    policy: JobPolicy

    def submit(
        self,
        func_path: str,
        *args: Any,
        job_id: str | None = None,
        background: bool = False,
        timeout_s: int | None = None,
        retries: int | None = None,
    ) -> str:
        """Start a job and return its id; ``background`` jobs (fleet figures, batches, model warm-up) never
        delay the interactive ones (a user waiting on an optimisation stream). ``timeout_s`` and ``retries``
        override the policy for this job (a retried job runs again from the start: it must be idempotent)."""
        ...

    def cancel(self, job_id: str) -> str:
        """Drop a queued job (CANCELLED) or ask a running one to stop (STOPPING; jobs poll ``is_cancelled``
        between steps); ENDED when there was nothing left to cancel."""
        ...

    def is_cancelled(self, job_id: str) -> bool:
        """Whether cancellation was requested."""
        ...

    def status(self, job_id: str) -> str:
        """One of queued, running, finished, failed, cancelled, unknown (never known, or its result expired)."""
        ...

    @property
    def queue_depth(self) -> int:
        """Jobs submitted and not started yet."""
        ...

    def waiting(self, func_path: str) -> list[str]:
        """Interactive jobs of ``func_path`` not started yet, in the order they will start (queue positions)."""
        ...


def background_queue(queue_name: str) -> str:
    """The RQ queue of a queue's background jobs (workers listen to both, this one last)."""
    return f"{queue_name}-background"


def resolve(func_path: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (or dotted) and return the function."""
    module_name, _, attr = func_path.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


def native(module: str, name: str) -> Any:
    """The unpatched stdlib object even when gevent has monkey-patched the process."""
    try:
        from gevent import monkey

        return monkey.get_original(module, name)
    except ImportError:  # gevent is optional outside gunicorn
        return getattr(importlib.import_module(module), name)


class _NativeThreads:
    """Real OS threads fed by a native queue, even under gevent, so CPU work never runs on the serving hub.

    ``submit`` never blocks the caller: gevent's own threadpool makes the submitting greenlet wait for a
    free thread, which held a request (and its DB connection) for as long as the running jobs took.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._queue: Any = native("queue", "SimpleQueue")()
        self._start_lock = native("_thread", "allocate_lock")()
        self._exited: list[Any] = []

    def submit(self, func: Callable[..., Any], *args: Any) -> None:
        if not self._exited:  # threads start with the first job: most apps (tests, CLI) never run one
            with self._start_lock:
                while len(self._exited) < self._workers:
                    exited = native("_thread", "allocate_lock")()
                    exited.acquire()
                    native("_thread", "start_new_thread")(self._loop, (exited,))
                    self._exited.append(exited)
        self._queue.put((func, args))

    def _loop(self, exited: Any) -> None:
        try:
            while (item := self._queue.get()) is not None:
                func, args = item
                func(*args)
        finally:
            exited.release()

    def shutdown(self) -> None:
        """Let queued jobs finish, then stop the threads and wait for them."""
        for _ in self._exited:
            self._queue.put(None)
        for lock in self._exited:
            lock.acquire()


class ThreadJobRunner:
    """Embedded runner: one process, jobs run in a pool with the app context pushed.

    Background jobs have threads of their own, so a user's optimisation never queues behind the fleet's
    figures or a model warm-up. Same interface as RQJobRunner: a failed job is retried at once in its thread
    (up to the policy's retries), a queued job can be cancelled, statuses are forgotten ``result_ttl_s`` after the job
    ended. The timeout is not enforced here (a thread cannot be killed); jobs stop at their own checks."""

    def __init__(
        self, context: ContextFactory, workers: int = 2, background_workers: int = 1, policy: JobPolicy | None = None
    ) -> None:
        self._context = context
        self.policy = policy or JobPolicy()
        self._pool = _NativeThreads(workers)
        self._background = _NativeThreads(max(1, background_workers))
        # Shared by request greenlets and job threads: a native lock (held for a dict update, never across a
        # wait), since a gevent lock contended from another OS thread can end in LoopExit.
        self._lock = native("_thread", "allocate_lock")()
        self._status: dict[str, str] = {}
        self._ended: dict[str, float] = {}  # job id -> monotonic time it ended (for result_ttl_s)
        self._cancelled: set[str] = set()
        self._waiting = 0
        self._queued: dict[str, str] = {}  # interactive jobs not started yet (insertion order = start order)

    def submit(
        self,
        func_path: str,
        *args: Any,
        job_id: str | None = None,
        background: bool = False,
        timeout_s: int | None = None,
        retries: int | None = None,
    ) -> str:
        job_id = job_id or uuid.uuid4().hex
        func = resolve(func_path)
        left = self.policy.retries if retries is None else retries
        with self._lock:
            self._forget_expired()
            self._status[job_id] = "queued"
            self._waiting += 1
            if not background:
                self._queued[job_id] = func_path
        (self._background if background else self._pool).submit(self._run, job_id, func, args, left)
        return job_id

    def _run(self, job_id: str, func: Callable[..., Any], args: tuple[Any, ...], retries: int) -> None:
        with self._lock:
            if self._status.get(job_id) == CANCELLED:
                return  # left the queue (and its depth) when cancelled
            self._waiting -= 1
            self._queued.pop(job_id, None)
            self._status[job_id] = "running"
        outcome = "failed"
        for attempt in range(retries + 1):  # retried in the same thread, at once (RQ waits retry_interval_s)
            if attempt and self.is_cancelled(job_id):
                break
            try:
                with self._context():
                    func(*args)
            except Exception:
                log.exception("job failed", extra={"job_id": job_id, "retries_left": retries - attempt})
            else:
                outcome = "finished"
                break
        with self._lock:
            self._status[job_id] = outcome
            self._ended[job_id] = time.monotonic()

    def _forget_expired(self) -> None:
        """Drop statuses of jobs that ended more than result_ttl_s ago (called with the lock held)."""
        cutoff = time.monotonic() - self.policy.result_ttl_s
        for job_id in [j for j, ended in self._ended.items() if ended < cutoff]:
            del self._ended[job_id]
            self._status.pop(job_id, None)
            self._cancelled.discard(job_id)

    def cancel(self, job_id: str) -> str:
        with self._lock:
            self._cancelled.add(job_id)
            state = self._status.get(job_id)
            if state == "queued":
                self._waiting -= 1
                self._queued.pop(job_id, None)
                self._status[job_id] = CANCELLED
                self._ended[job_id] = time.monotonic()
                return CANCELLED
            return STOPPING if state == "running" else ENDED

    def is_cancelled(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def status(self, job_id: str) -> str:
        with self._lock:
            return self._status.get(job_id, "unknown")

    @property
    def queue_depth(self) -> int:
        """Jobs submitted and not started yet (the metrics gauge, as RQJobRunner's)."""
        with self._lock:
            return self._waiting

    def waiting(self, func_path: str) -> list[str]:
        with self._lock:
            return [job_id for job_id, path in self._queued.items() if path == func_path]

    def shutdown(self) -> None:
        """Stop accepting jobs and wait for running ones."""
        self._pool.shutdown()
        self._background.shutdown()


# RQ's job statuses as this interface names them (a job waiting for a retry is queued again).
_RQ_STATUS = {
    "queued": "queued",
    "deferred": "queued",
    "scheduled": "queued",
    "started": "running",
    "finished": "finished",
    "failed": "failed",
    "canceled": CANCELLED,
    "stopped": CANCELLED,
}


class RQJobRunner:
    """Redis runner: jobs go to an RQ queue served by ``flask rq-worker`` on any machine.

    Background jobs go to a second queue that workers take from only when the first is empty. The policy
    becomes RQ's job timeout (the work horse is killed past it), ``Retry`` (a failed or killed job is queued
    again after ``retry_interval_s``, by the workers' scheduler) and the result/failure TTL."""

    def __init__(self, client: redis.Redis, queue_name: str = "planogram", policy: JobPolicy | None = None) -> None:
        from rq import Queue

        self._r = client
        self.policy = policy or JobPolicy()
        timeout = self.policy.timeout_s
        self._queue = Queue(queue_name, connection=client, default_timeout=timeout)
        self._background = Queue(background_queue(queue_name), connection=client, default_timeout=timeout)

    def submit(
        self,
        func_path: str,
        *args: Any,
        job_id: str | None = None,
        background: bool = False,
        timeout_s: int | None = None,
        retries: int | None = None,
    ) -> str:
        from rq import Retry

        queue = self._background if background else self._queue
        left = self.policy.retries if retries is None else retries
        job = queue.enqueue(
            func_path,
            *args,
            job_id=job_id or uuid.uuid4().hex,
            job_timeout=timeout_s or self.policy.timeout_s,
            result_ttl=self.policy.result_ttl_s,
            failure_ttl=self.policy.result_ttl_s,
            retry=Retry(max=left, interval=self.policy.retry_interval_s) if left > 0 else None,
        )
        return str(job.id)

    def cancel(self, job_id: str) -> str:
        from rq.exceptions import InvalidJobOperation, NoSuchJobError
        from rq.job import Job

        # The flag first: a job a worker takes at this very moment still stops at its first check.
        self._r.set(f"pgw:job-cancel:{job_id}", "1", ex=max(self.policy.result_ttl_s, 86_400))
        state = self.status(job_id)
        if state == "queued":
            try:
                Job.fetch(job_id, connection=self._r).cancel()
                return CANCELLED
            except (NoSuchJobError, InvalidJobOperation):
                state = self.status(job_id)
        return STOPPING if state == "running" else ENDED

    def is_cancelled(self, job_id: str) -> bool:
        return bool(self._r.exists(f"pgw:job-cancel:{job_id}"))

    def status(self, job_id: str) -> str:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            state = Job.fetch(job_id, connection=self._r).get_status()
        except NoSuchJobError:
            return "unknown"
        name = str(getattr(state, "value", state))
        return _RQ_STATUS.get(name, name)

    @property
    def queue_depth(self) -> int:
        """Jobs waiting in the queues."""
        return int(self._queue.count) + int(self._background.count)

    def waiting(self, func_path: str) -> list[str]:
        # Job hashes in one pipelined read; a job deleted meanwhile comes back as None.
        return [job.id for job in self._queue.get_jobs() if job is not None and job.func_name == func_path]
