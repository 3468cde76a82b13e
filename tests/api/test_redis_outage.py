"""Redis as an optional dependency at run time: a real redis-server is stopped mid-test and started again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import LLMRequest
from services.ai import EXTENSION_KEY
from tests.api import content_fixtures as fx
from tests.api.content_fixtures import CAPTION_OK
from tests.redis_server import RedisServer

marketer = fx.marketer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (stopping it must not disturb the session's shared one)."""
    own = RedisServer(tmp_path).start()
    yield own
    own.stop()


@pytest.fixture
def app(make_llm_app: Callable[..., Flask], server: RedisServer) -> Flask:
    """Redis mode on the test's server, the fake provider, prompts and a small catalogue."""
    app = make_llm_app(REDIS_URL=server.url, RATELIMIT_STORAGE_URI=server.url, REDIS_RETRY_SECONDS=0.0, JOB_WORKERS=1)
    with app.app_context():
        fx.seed_catalog()
        db.session.commit()
    return app


def caption(client: Any, user: dict[str, Any], shot: str) -> Any:
    return client.post(
        "/api/content/caption", headers=user["headers"], json={"products": ["COLA"], "media_description": shot}
    )


def ledger_rows(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(LLMRequest)) or 0)


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.data[:300]
    assert response.json["error"]["code"] == "temporarily_unavailable"
    assert response.json["error"]["details"]["backend"] == "redis" and response.headers["Retry-After"]


def test_requests_degrade_while_redis_is_down_and_recover_when_it_returns(
    app: Flask, marketer: dict[str, Any], merchandiser: dict[str, Any], fake: FakeLLMServer, server: RedisServer
) -> None:
    client = app.test_client()
    fake.add(text=CAPTION_OK, times=None)
    assert caption(client, marketer, "before").status_code == 201  # the budget figure this process last saw

    server.stop()
    me = client.get("/api/auth/me", headers=marketer["headers"])
    assert me.status_code == 200  # rate limits counted in memory
    during = caption(client, marketer, "during the outage")
    assert during.status_code == 201, during.json
    assert not during.json["fallback_used"] and not during.json["cached"]  # local budget share, cache missed
    again = caption(client, marketer, "during the outage")
    assert again.json["cached"] is False  # nothing was stored while the cache was down
    assert_unavailable(
        client.post("/api/planogram/stream-optimization", headers=merchandiser["headers"], json={"device_id": "D1"})
    )
    assert_unavailable(
        client.post("/api/planogram/batch-optimize", headers=merchandiser["headers"], json={"device_ids": ["D1"]})
    )
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.is_json and "redis" in ready.json["failing"]
    assert client.get("/login").status_code == 200
    assert ledger_rows(app) == 3  # every call is on the ledger

    server.start()  # an empty Redis: nothing was persisted
    after = caption(client, marketer, "after the outage")
    assert after.status_code == 201 and not after.json["fallback_used"]
    assert client.get("/readyz").status_code == 200
    spent = app.extensions[EXTENSION_KEY].costs.snapshot()["spent_usd"]
    outage_and_after = during.json["cost_usd"] + again.json["cost_usd"] + after.json["cost_usd"]
    assert spent == pytest.approx(outage_and_after, abs=1e-6)  # the outage's spend was added back to Redis


def test_with_redis_down_from_the_start_ai_spends_nothing_and_nothing_answers_500(
    app: Flask, marketer: dict[str, Any], fake: FakeLLMServer, server: RedisServer
) -> None:
    server.stop()
    client = app.test_client()
    fake.add(text=CAPTION_OK, times=None)
    answer = caption(client, marketer, "no budget figure yet")
    assert answer.status_code == 201
    assert answer.json["fallback_used"] and answer.json["error_kind"] == "budget_exceeded"
    assert fake.calls == []  # never overshoot: no figure to reserve against, so no paid call
    assert client.get("/api/content/posts", headers=marketer["headers"]).status_code == 200
    assert client.get("/api/planogram/cache-stats", headers=marketer["headers"]).status_code in (200, 403)
    assert_unavailable(client.get("/api/planogram/optimizations/abc/events", headers=marketer["headers"]))
    assert ledger_rows(app) == 1


def test_a_queued_job_survives_a_restart_of_a_persisting_redis(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    import redis
    from rq import Queue

    from services import auth

    persisting = RedisServer(tmp_path, persist=True).start()
    try:
        app = make_app(REDIS_URL=persisting.url, RATELIMIT_STORAGE_URI=persisting.url, LLM_PROVIDER=None)
        with app.app_context():
            fx.seed_catalog()
            token = auth.issue_token(auth.create_user("m@example.com", "correct-horse-1", "merchandiser"), 1)
            db.session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        queued = app.test_client().post("/api/planogram/batch-optimize", headers=headers, json={"device_ids": ["D1"]})
        assert queued.status_code == 202

        before = len(Queue("planogram", connection=redis.Redis.from_url(persisting.url)))
        persisting.stop()
        persisting.start()
        after = Queue("planogram", connection=redis.Redis.from_url(persisting.url))
        assert before >= 1 and len(after) == before  # still there for `flask rq-worker` to run
        status = app.test_client().get(queued.json["status_url"], headers=headers)
        assert status.status_code == 200
    finally:
        persisting.stop()
