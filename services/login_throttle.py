"""Per-account sign-in throttle: a growing delay after failed attempts, never a lock-out.

Password guessing against one account is slowed (after LOGIN_FREE_FAILURES failures each attempt waits
LOGIN_DELAY_BASE_SECONDS, doubling per further failure up to LOGIN_DELAY_MAX_SECONDS), but the account's
owner can always sign in with the right password - only later. The hard limit is per client address
(RATELIMIT_LOGIN, Flask-Limiter), which stops one address spraying many accounts. Failures are counted in
Redis when configured (shared by every worker), in process memory otherwise or while Redis is down; they
expire LOGIN_FAILURE_WINDOW_SECONDS after the last failure and reset on a successful sign-in. Under gevent
the wait is a greenlet sleep: it holds no worker and no database connection (it happens before any query).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from flask import current_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.runtime import backends

_local: dict[str, tuple[int, float]] = {}  # account key -> (failures, expires at)
_lock = threading.Lock()
sleep: Callable[[float], None] = time.sleep  # the wait (tests replace it to observe the delay)


def _key(email: str) -> str:
    return "pgw:login-failures:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def delay_for(failures: int, free: int, base: float, cap: float) -> float:
    """Seconds to wait before checking a password after `failures` recent failures."""
    if failures < free:
        return 0.0
    return float(min(base * 2 ** (failures - free), cap))


def failures(email: str) -> int:
    """Recent failed sign-ins for this account."""
    client = backends().redis
    if client is not None:
        try:
            return int(client.get(_key(email)) or 0)
        except (RedisConnectionError, RedisTimeoutError):
            pass
    with _lock:
        return failures_local(_key(email))


def wait_before_attempt(email: str) -> float:
    """Sleep for this account's current delay; return it."""
    config = current_app.config
    delay = delay_for(
        failures(email),
        int(config["LOGIN_FREE_FAILURES"]),
        float(config["LOGIN_DELAY_BASE_SECONDS"]),
        float(config["LOGIN_DELAY_MAX_SECONDS"]),
    )
    if delay:
        sleep(delay)
    return delay


def record(email: str, success: bool) -> None:
    """Count a failure (sliding expiry) or forget the account's failures after a success."""
    key, window = _key(email), int(current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    client = backends().redis
    if client is not None:
        try:
            if success:
                client.delete(key)
            else:
                pipe = client.pipeline(transaction=True)
                pipe.incr(key)
                pipe.expire(key, window)
                pipe.execute()
            return
        except (RedisConnectionError, RedisTimeoutError):
            pass
    with _lock:
        if success:
            _local.pop(key, None)
        else:
            count = failures_local(key)
            _local[key] = (count + 1, time.monotonic() + window)


def failures_local(key: str) -> int:
    """The in-process count for a key (caller holds the lock)."""
    count, expires = _local.get(key, (0, 0.0))
    return count if expires > time.monotonic() else 0
