"""Two app servers, one state: two apps on the same Redis and database (PostgreSQL under TEST_MODE=postgres).

A stream started on one resumes on the other with Last-Event-ID; rate limits and the LLM budget are counted
once for both; a job queued by one is served by a worker of neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from devtools.fake_llm import FakeLLMServer
from extensions import db
from services import auth
from services.ai import EXTENSION_KEY
from services.demo import seed_demo
from services.merchandising.data import DATA, MODELS
from tests.api import content_fixtures as fx
from tests.api.test_stream_optimization import OFFICE, Stream, events_of, only_events
from tests.clock import DEMO_END
from tests.conftest import thread_rq_worker

Pair = tuple[Flask, Flask]


@pytest.fixture
def make_pair(
    make_llm_app: Callable[..., Flask], make_database: Callable[[], str], redis_url: str, redis_client: redis.Redis
) -> Callable[..., Pair]:
    """Factory: two apps sharing one database and one (emptied) Redis, as two gunicorn servers would."""

    def factory(**settings: Any) -> Pair:
        shared = {
            "SQLALCHEMY_DATABASE_URI": make_database(),
            "REDIS_URL": redis_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            **settings,
        }
        return make_llm_app(**shared), make_llm_app(**shared)

    return factory


@pytest.fixture
def token(make_pair: Callable[..., Pair]) -> Iterator[Callable[[Flask, str], dict[str, str]]]:
    """Factory: bearer headers for a new user of ``app``'s database."""

    def factory(app: Flask, role: str) -> dict[str, str]:
        with app.app_context():
            user = auth.create_user(f"{role}@example.com", "correct-horse-1", role)
            value = auth.issue_token(user, 1)
            db.session.commit()
        return {"Authorization": f"Bearer {value}"}

    yield factory


def test_a_stream_started_on_one_server_resumes_on_the_other(
    make_pair: Callable[..., Pair], token: Callable[[Flask, str], dict[str, str]]
) -> None:
    first, second = make_pair(OPTIMIZATION_STEP_DELAY_MS=50)
    MODELS.clear()
    DATA.clear()
    with first.app_context():
        seed_demo(seed=4, days=45, end=DEMO_END)
        db.session.commit()
    user = {"headers": token(first, "merchandiser")}
    with thread_rq_worker(first):
        response = first.test_client().post(
            "/api/planogram/stream-optimization", json={"device_id": OFFICE}, headers=user["headers"], buffered=False
        )
        stream = Stream(response)
        seen = only_events(stream.until(lambda e: e.get("event") == "progress"))
        stream.close()  # the load balancer sends the reconnect elsewhere
        job_id = seen[0]["data"]["job_id"]
        rest = only_events(
            Stream(events_of(second.test_client(), user, job_id, {"Last-Event-ID": seen[-1]["id"]})).rest()
        )
    assert rest[0]["event"] == "progress" and rest[0]["data"]["step"] == seen[-1]["data"]["step"] + 1
    assert rest[-1]["event"] == "done"
    everything = only_events(Stream(events_of(first.test_client(), user, job_id)).rest())
    assert everything == seen + rest  # one job, one stream, whichever server relays it


def test_rate_limits_count_requests_on_both_servers(
    make_pair: Callable[..., Pair], token: Callable[[Flask, str], dict[str, str]]
) -> None:
    first, second = make_pair(RATELIMIT_DEFAULT="4 per minute")
    headers = token(first, "viewer")
    answers = [
        app.test_client().get("/api/devices", headers=headers).status_code
        for app in (first, second, first, second, first, second)
    ]
    assert answers == [200, 200, 200, 200, 429, 429]


def test_the_llm_budget_is_spent_once_for_both_servers(
    make_pair: Callable[..., Pair], fake: FakeLLMServer, token: Callable[[Flask, str], dict[str, str]]
) -> None:
    first, second = make_pair()
    with first.app_context():
        fx.seed_catalog()
        db.session.commit()
    headers = token(first, "marketer")
    fake.add(text=fx.CAPTION_OK, times=None)
    body = {"products": ["COLA"], "media_description": "lobby"}
    one = first.test_client().post("/api/content/caption", json=body, headers=headers)
    two = second.test_client().post("/api/content/caption", json={**body, "media_description": "gym"}, headers=headers)
    assert one.status_code == two.status_code == 201 and not one.json["fallback_used"]
    total = one.json["cost_usd"] + two.json["cost_usd"]
    assert total > 0
    for app in (first, second):  # each server sees both calls' spend
        assert app.extensions[EXTENSION_KEY].costs.snapshot()["spent_usd"] == pytest.approx(total, abs=1e-6)
