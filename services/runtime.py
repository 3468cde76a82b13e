"""Shared-state backends chosen once at start-up: Redis when REDIS_URL is set, memory otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask, current_app

from services.events import EventStream, MemoryEventStream, RedisEventStream
from services.jobs import JobPolicy, JobRunner, RQJobRunner, ThreadJobRunner

EXTENSION_KEY = "planogram.backends"


@dataclass
class Backends:
    """The process's handles on shared state; every consumer goes through these interfaces."""

    mode: str  # "redis" or "embedded"
    redis: redis.Redis | None
    events: EventStream
    jobs: JobRunner


def job_policy(config: Mapping[str, Any]) -> JobPolicy:
    """The job settings of a configuration."""
    return JobPolicy(
        timeout_s=int(config["JOB_TIMEOUT_SECONDS"]),
        retries=int(config["JOB_RETRIES"]),
        retry_interval_s=int(config["JOB_RETRY_INTERVAL_SECONDS"]),
        result_ttl_s=int(config["JOB_RESULT_TTL_SECONDS"]),
    )


def build_backends(app: Flask) -> Backends:
    """Create the backends for this app's configuration."""
    url = app.config.get("REDIS_URL")
    ttl = int(app.config["EVENT_STREAM_TTL_SECONDS"])
    policy = job_policy(app.config)
    if url:
        # Short connect timeout: with Redis down a request fails over (or answers 503) at once instead of
        # hanging; the read timeout stays above the event streams' 2 s blocking reads.
        client = redis.Redis.from_url(url, health_check_interval=30, socket_connect_timeout=1.0, socket_timeout=10.0)
        return Backends("redis", client, RedisEventStream(client, ttl_seconds=ttl), RQJobRunner(client, policy=policy))
    return Backends(
        "embedded",
        None,
        MemoryEventStream(ttl_seconds=ttl),
        ThreadJobRunner(app.app_context, workers=int(app.config["JOB_WORKERS"]), policy=policy),
    )


def init_backends(app: Flask) -> None:
    """Attach the backends to the app (and count the requests being handled, which job threads yield to)."""
    from services import serving_gate

    app.extensions[EXTENSION_KEY] = build_backends(app)
    serving_gate.init_app(app)


def backends() -> Backends:
    """Return the current app's backends."""
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
