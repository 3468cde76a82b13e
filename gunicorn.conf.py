"""Gunicorn settings: gevent workers for SSE. Imports no app code (gevent must patch first)."""

import multiprocessing
import os

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
