"""Background jobs: RQ on Redis when configured, a real-thread pool in one process otherwise."""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

import redis

log = logging.getLogger("planogram.jobs")
ContextFactory = Callable[[], AbstractContextManager[Any]]


class JobRunner(Protocol):
    """Run a function (named by dotted path) in the background and let callers cancel it."""

    def submit(self, func_path: str, *args: Any, job_id: str | None = None, background: bool = False) -> str:
        """Start a job and return its id; ``background`` jobs (fleet figures, batches, model warm-up) never
        delay the interactive ones (a user waiting on an optimisation stream)."""
        ...

    def cancel(self, job_id: str) -> None:
        """Ask a job to stop; jobs poll ``is_cancelled`` between steps."""
        ...

    def is_cancelled(self, job_id: str) -> bool:
        """Whether cancellation was requested."""
        ...

    def status(self, job_id: str) -> str:
        """One of queued, running, finished, failed, unknown."""
        ...

    @property
    def queue_depth(self) -> int:
        """Jobs submitted and not started yet."""
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
    figures or a model warm-up."""

    def __init__(self, context: ContextFactory, workers: int = 2, background_workers: int = 1) -> None:
        self._context = context
        self._pool = _NativeThreads(workers)
        self._background = _NativeThreads(max(1, background_workers))
        # Shared by request greenlets and job threads: a native lock (held for a dict update, never across a
        # wait), since a gevent lock contended from another OS thread can end in LoopExit.
        self._lock = native("_thread", "allocate_lock")()
        self._status: dict[str, str] = {}
        self._cancelled: set[str] = set()
        self._waiting = 0

    def submit(self, func_path: str, *args: Any, job_id: str | None = None, background: bool = False) -> str:
        job_id = job_id or uuid.uuid4().hex
        func = resolve(func_path)
        with self._lock:
            self._status[job_id] = "queued"
            self._waiting += 1
        (self._background if background else self._pool).submit(self._run, job_id, func, args)
        return job_id

    def _run(self, job_id: str, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        with self._lock:
            self._status[job_id] = "running"
            self._waiting -= 1
        try:
            with self._context():
                func(*args)
        except Exception:
            log.exception("job failed", extra={"job_id": job_id})
            outcome = "failed"
        else:
            outcome = "finished"
        with self._lock:
            self._status[job_id] = outcome

    def cancel(self, job_id: str) -> None:
        with self._lock:
            self._cancelled.add(job_id)

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

    def shutdown(self) -> None:
        """Stop accepting jobs and wait for running ones."""
        self._pool.shutdown()
        self._background.shutdown()


class RQJobRunner:
    """Redis runner: jobs go to an RQ queue served by ``flask rq-worker`` on any machine.

    Background jobs go to a second queue that workers take from only when the first is empty."""

    def __init__(self, client: redis.Redis, queue_name: str = "planogram", timeout_s: int = 1800) -> None:
        from rq import Queue

        self._r = client
        self._queue = Queue(queue_name, connection=client, default_timeout=timeout_s)
        self._background = Queue(background_queue(queue_name), connection=client, default_timeout=timeout_s)

    def submit(self, func_path: str, *args: Any, job_id: str | None = None, background: bool = False) -> str:
        queue = self._background if background else self._queue
        job = queue.enqueue(func_path, *args, job_id=job_id or uuid.uuid4().hex)
        return str(job.id)

    def cancel(self, job_id: str) -> None:
        self._r.set(f"pgw:job-cancel:{job_id}", "1", ex=86_400)

    def is_cancelled(self, job_id: str) -> bool:
        return bool(self._r.exists(f"pgw:job-cancel:{job_id}"))

    def status(self, job_id: str) -> str:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            state = Job.fetch(job_id, connection=self._r).get_status()
        except NoSuchJobError:
            return "unknown"
        mapping = {"queued": "queued", "started": "running", "finished": "finished", "failed": "failed"}
        return mapping.get(str(getattr(state, "value", state)), str(getattr(state, "value", state)))

    @property
    def queue_depth(self) -> int:
        """Jobs waiting in the queues."""
        return int(self._queue.count) + int(self._background.count)
