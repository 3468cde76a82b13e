"""Gunicorn settings: gevent workers for SSE. Imports no app code (gevent must patch first)."""

import glob
import multiprocessing
import os
import tempfile
from typing import Any

bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = "gevent"
# Embedded mode keeps cache, limits and job events in process memory: one worker only.
_default_workers = min(4, multiprocessing.cpu_count() * 2) if os.environ.get("REDIS_URL") else 1
workers = int(os.environ.get("WEB_CONCURRENCY", _default_workers))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
preload_app = False
# SSE connections stay open; heartbeats every <=15 s keep them alive, so a long timeout is safe.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 75
accesslog = None  # the app logs each request as a JSON line with its request id
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Prometheus multiprocess mode: workers write metrics to mmap files here and /metrics merges them. It must be
# in the environment before a worker imports prometheus_client, hence here, in the master, before forking.
# The directory persists across config reloads (HUP) and is emptied once when the master starts.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="planogram-metrics-")


def on_starting(server: Any) -> None:
    """Start from a fresh metrics directory: files of an earlier run would be merged into this one's figures."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


def child_exit(server: Any, worker: Any) -> None:
    """A worker died: drop its live-gauge files (its counters stay, as Prometheus counters must)."""
    # Imported here, not at the top: the master stays free of libraries until it forks its first workers.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
