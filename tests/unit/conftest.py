"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from services.events import EventStream, MemoryEventStream, RedisEventStream


@pytest.fixture(params=["memory", "redis"])
def stream(request: pytest.FixtureRequest) -> Iterator[EventStream]:
    """A job event stream, once in process memory and once on the suite's real Redis."""
    if request.param == "memory":
        yield MemoryEventStream(ttl_seconds=60)
    else:
        client: redis.Redis = request.getfixturevalue("redis_client")
        yield RedisEventStream(client, ttl_seconds=60)
