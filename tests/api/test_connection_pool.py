"""Connection discipline under load: concurrent AI requests on a tiny pool never stall it or lose ledger rows."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from devtools.fake_llm import FakeLLMServer
from extensions import db
from models import GeneratedContent, LLMRequest
from services.ai import EXTENSION_KEY
from services.db_session import has_writes, release_connection
from services.llm import LedgerRecord
from tests.api import content_fixtures as fx
from tests.api.content_fixtures import CAPTION_OK

marketer = fx.marketer
CALLS = 16  # more concurrent provider calls than the pool has connections (2), overflow 0


@pytest.fixture
def app(make_llm_app: Callable[..., Flask]) -> Flask:
    """The fake provider behind a pool of 2 connections that gives up after 3 s (a stall shows as errors)."""
    app = make_llm_app(LLM_TIMEOUT_SECONDS=10.0, DB_POOL_SIZE=2, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=3.0)
    with app.app_context():
        fx.seed_catalog()
        db.session.commit()
    return app


def test_concurrent_ai_requests_on_a_small_pool_all_succeed_and_every_call_is_on_the_ledger(
    app: Flask, marketer: dict[str, Any], fake: FakeLLMServer
) -> None:
    fake.add(text=CAPTION_OK, times=None)
    fake.script.latency_s = 0.5  # every provider answer takes 0.5 s: 16 calls overlap on 2 connections

    def caption(n: int) -> Any:
        with app.test_client() as client:  # one client per thread: each request has its own context
            return client.post(
                "/api/content/caption",
                headers=marketer["headers"],
                json={"products": ["COLA"], "media_description": f"shot number {n}"},
            )

    with ThreadPoolExecutor(max_workers=CALLS) as threads:
        answers = list(threads.map(caption, range(CALLS)))

    assert [r.status_code for r in answers] == [201] * CALLS, [r.json for r in answers if r.status_code != 201]
    assert all(not r.json["fallback_used"] for r in answers)
    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(LLMRequest).where(LLMRequest.feature == "caption"))
        drafts = db.session.scalar(select(func.count()).select_from(GeneratedContent))
        stored = set(db.session.scalars(select(LLMRequest.id)))
    assert rows == CALLS and drafts == CALLS
    assert {r.json["request_id"] for r in answers} <= stored
    assert app.extensions[EXTENSION_KEY].ledger.inner.backlog == 0


def test_release_gives_back_a_read_only_connection_but_never_drops_a_write(app: Flask) -> None:
    with app.app_context():
        db.session.scalar(select(func.count()).select_from(LLMRequest))
        assert db.session().in_transaction()
        assert release_connection() is True and not db.session().in_transaction()
        assert release_connection() is False  # nothing held any more

        db.session.add(
            GeneratedContent(
                content_type="caption",
                status="draft",
                ai_content="x",
                content="x",
                edit_distance=0,
                fallback_used=True,
                version=1,
            )
        )
        db.session.flush()
        assert has_writes(db.session())
        assert release_connection() is False and db.session().in_transaction()  # the write survives
        db.session.commit()
        assert not has_writes(db.session())
        assert db.session.scalar(select(func.count()).select_from(GeneratedContent)) == 1


def record(request_id: str) -> LedgerRecord:
    from datetime import UTC, datetime

    moment = datetime(2025, 3, 1, 12, tzinfo=UTC)
    return LedgerRecord(
        request_id,
        "caption",
        "anthropic",
        "m",
        "fast",
        "caption",
        1,
        "A",
        1,
        1,
        0,
        0.0,
        1.0,
        "ok",
        None,
        False,
        False,
        None,
        moment,
        moment,
    )


def test_a_ledger_row_that_cannot_be_written_now_is_written_by_the_next_successful_write(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = app.extensions[EXTENSION_KEY].ledger.inner
    real_insert = sink._insert
    outage = {"on": True}

    def flaky_insert(row: LedgerRecord, user_id: int | None) -> None:
        if outage["on"]:
            raise OperationalError("INSERT", {}, Exception("database is restarting"))
        real_insert(row, user_id)

    monkeypatch.setattr(sink, "_insert", flaky_insert)
    sink.record(record("r1"))
    sink.record(record("r2"))
    assert sink.backlog == 2
    outage["on"] = False
    sink.record(record("r3"))
    assert sink.backlog == 0
    with app.app_context():
        assert set(db.session.scalars(select(LLMRequest.id))) == {"r1", "r2", "r3"}
    sink.record(record("r3"))  # a repeat of a stored row (commit outcome unknown earlier) is not an error
    assert sink.backlog == 0
