"""CPU-bound pure work in child processes, callable from any thread (also under gevent).

Embedded mode runs jobs in OS threads of the web process; their pure-Python/numpy work competes with
the serving greenlets for the GIL, so request latency grows with every running optimisation. Sending
the engine call to a spawned child process keeps the web process's GIL free: the job thread only waits
on a pipe. With Redis the jobs already run in RQ worker processes and call the engine directly.
"""

from __future__ import annotations

import contextlib
import copyreg
import logging
import multiprocessing
import os
import types
from multiprocessing.connection import Connection
from typing import Any

from threadpoolctl import threadpool_limits

from services.jobs import native, resolve

log = logging.getLogger("planogram.jobs")


def _mapping_proxy(items: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(items)


# Engine models keep read-only index maps; let them cross the process boundary (rebuilt from a dict).
copyreg.pickle(types.MappingProxyType, lambda m: (_mapping_proxy, (dict(m),)))


class ChildCrashed(RuntimeError):
    """The child process died while working (it is replaced on the next call)."""


# Children run below the web process's priority: on a busy machine the optimiser's CPU yields to request
# serving (the first event of a stream, a drag-and-score), not the other way round.
CHILD_NICENESS = 10


def single_threaded_blas() -> None:
    """Keep BLAS to one thread in this process and the processes it starts, for good.

    The engine's matrices are small (a fit's Hessian is about 150 x 150) and every process that runs it
    (gunicorn worker, RQ work horse, optimiser child) already shares the cores with its siblings. OpenBLAS's
    own thread pool busy-waits between calls: 100 inverses of a 150 x 150 matrix took 0.27 s of CPU with
    its two threads and 0.04 s with one, on an idle 2-core machine. numpy and scipy each carry their own
    OpenBLAS; threadpoolctl limits the ones loaded now, the variables the ones loaded later (OpenBLAS reads
    them when it loads: scipy.linalg is often first imported inside a job).
    """
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    threadpool_limits(limits=1, user_api="blas")


def _serve(conn: Connection, niceness: int = CHILD_NICENESS) -> None:
    """Child process loop: call ``module.function`` with the arguments sent, answer (ok, value)."""
    with contextlib.suppress(OSError):  # not permitted here: run at the parent's priority
        os.nice(niceness)
    single_threaded_blas()
    while True:
        try:
            func_path, args = conn.recv()
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, resolve(func_path)(*args))
        except Exception as exc:  # noqa: BLE001 (sent back and re-raised in the parent)
            answer = (False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # noqa: BLE001 (an unpicklable result or exception)
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Child:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a threaded (or gevent) process
        self.conn, child_end = ctx.Pipe()
        for end in (self.conn, child_end):  # gevent's socketpair hands out non-blocking sockets
            os.set_blocking(end.fileno(), True)
        self.process = ctx.Process(target=_serve, args=(child_end,), daemon=True, name="planogram-cpu")
        self.process.start()
        child_end.close()

    def stop(self) -> None:
        self.conn.close()
        self.process.kill()
        self.process.join(timeout=5)


class ProcessPool:
    """Up to ``size`` long-lived child processes, started on demand; ``call`` blocks only its own thread."""

    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._idle: Any = native("queue", "SimpleQueue")()
        self._lock = native("_thread", "allocate_lock")()
        self._started = 0
        self.prestarted = False  # set once `prestart` has every child up (or gave up on one)

    def call(self, func_path: str, *args: Any) -> Any:
        """Run ``func_path(*args)`` in a child and return its result (or raise its exception)."""
        child = self._checkout()
        try:
            child.conn.send((func_path, args))
            ok, value = child.conn.recv()
        except (EOFError, OSError) as exc:
            self._discard(child)
            raise ChildCrashed(f"the worker process died ({exc!r})") from exc
        except BaseException:
            self._discard(child)  # the answer may still be in flight: never reuse this pipe
            raise
        self._idle.put(child)
        if not ok:
            raise value
        return value

    def prestart(self, func_path: str) -> None:
        """Start every child now and run ``func_path()`` in each (its imports), so no caller pays for a spawn."""
        children: list[_Child] = []
        try:
            self._spawn_all(children)
            for child in children:
                try:
                    child.conn.send((func_path, ()))
                    child.conn.recv()  # a value or an exception: either way the child is up and imported
                except (EOFError, OSError):
                    self._discard(child)
                    continue
                self._idle.put(child)
        finally:
            self.prestarted = True  # also when a spawn failed: calls then start children on demand

    def _spawn_all(self, children: list[_Child]) -> None:
        """Spawn children up to the pool's size (they import in parallel while the caller waits on the first)."""
        while True:
            with self._lock:
                if self._started >= self._size:
                    return
                self._started += 1
            try:
                children.append(_Child())
            except BaseException:
                with self._lock:
                    self._started -= 1
                raise

    def _checkout(self) -> _Child:
        with self._lock:
            spawn = self._idle.empty() and self._started < self._size
            if spawn:
                self._started += 1
        if not spawn:
            child: _Child = self._idle.get()
            return child
        try:
            return _Child()
        except BaseException:
            with self._lock:
                self._started -= 1
            raise

    def _discard(self, child: _Child) -> None:
        child.stop()
        with self._lock:
            self._started -= 1


_POOLS: dict[int, ProcessPool] = {}


def shared_pool(size: int) -> ProcessPool:
    """The process-wide pool of this size (children are reused by every app in the process)."""
    pool = _POOLS.get(size)
    if pool is None:
        pool = _POOLS.setdefault(size, ProcessPool(size))
    return pool
