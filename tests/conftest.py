"""Layered fixtures: migrated template DB -> app -> client -> users and auth headers.

Set TEST_REDIS_URL to run Redis-backed tests against a real redis-server; set TEST_MODE=redis as well
to run the app-level tests with REDIS_URL (all shared state in Redis). TEST_MODE=postgres (with
TEST_DATABASE_URL, set by scripts/with-postgres.sh) puts every app's database on PostgreSQL instead of a
SQLite file; modes combine with a comma ("redis,postgres").
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings

from app import create_app
from config import BASE_DIR, TestConfig
from devtools.fake_llm import FakeLLMServer
from extensions import db
from tests.clock import FIXED_NOW
from tests.databases import PostgresDatabases, admin_url_from_environment

TEST_MODES = {mode.strip() for mode in os.environ.get("TEST_MODE", "").split(",") if mode.strip()}
REDIS_MODE = "redis" in TEST_MODES
POSTGRES_MODE = "postgres" in TEST_MODES

# Property tests: the same examples on every run and machine, no example database, and no deadline
# (a deadline is a timing assertion, which this suite does not make).
settings.register_profile("hermetic", derandomize=True, database=None, deadline=None)
settings.load_profile("hermetic")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With TEST_MODE=postgres, run only the tests that use a database (the rest ran the same in `make test`)."""
    if not POSTGRES_MODE:
        return
    keep = [item for item in items if "make_database" in getattr(item, "fixturenames", ())]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    """Every test starts at FIXED_NOW and the clock ticks on from there (shift it with ``clock.shift``).

    Only wall-clock reads move (datetime.now, date.today, time.time); monotonic timers stay real, so
    timeouts still work. Child processes and the browser keep their own clocks.
    """
    with time_machine.travel(FIXED_NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the throwaway redis-server started by `make test`; Redis tests skip only without it."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL not set (make test starts a redis-server and sets it)")
    return _own_database(url, os.environ.get("PYTEST_XDIST_WORKER", ""))


def _own_database(url: str, worker: str) -> str:
    """Under pytest-xdist each worker gets its own Redis database (tests flush theirs; gw0 -> db 1, ...)."""
    if not worker.startswith("gw"):
        return url
    base = url.rsplit("/", 1)[0] if url.rsplit("/", 1)[-1].isdigit() else url.rstrip("/")
    return f"{base}/{1 + int(worker[2:])}"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A clean Redis database for one test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeLLMServer]:
    """One fake Anthropic/OpenAI provider for the session (127.0.0.1, random port)."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The session's fake provider with a clean script for this test (and for the next one)."""
    fake_server.script.reset()
    yield fake_server
    fake_server.script.reset()


@pytest.fixture
def provider() -> str | None:
    """The provider `make_llm_app` wires: "anthropic", "openai" or None (rule-based only); tests parametrize it."""
    return "anthropic"


def llm_settings(provider: str | None, url: str) -> dict[str, Any]:
    """App settings that point ``provider``'s real SDK at the fake server at ``url``."""
    if provider == "anthropic":
        return {
            "LLM_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": url,
            "LLM_TIMEOUT_SECONDS": 5.0,
        }
    if provider == "openai":
        return {
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": f"{url}/v1",
            "LLM_TIMEOUT_SECONDS": 5.0,
        }
    return {"LLM_PROVIDER": None}


@pytest.fixture
def make_llm_app(make_app: Callable[..., Flask], fake: FakeLLMServer, provider: str | None) -> Callable[..., Flask]:
    """Factory: an app wired to the fake provider (``provider``) with the real prompts/ synced; keywords override."""
    from services.prompts import PromptRegistry

    def factory(**overrides: Any) -> Flask:
        app = make_app(**{**llm_settings(provider, fake.url), **overrides})
        with app.app_context():
            PromptRegistry(BASE_DIR / "prompts").sync()
            db.session.commit()
        return app

    return factory


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated once per session with Flask-Migrate; each test gets a copy."""
    from flask_migrate import upgrade

    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", INSTANCE_PATH=str(folder)))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresDatabases]:
    """The PostgreSQL cluster of TEST_DATABASE_URL, with a migrated template database (TEST_MODE=postgres)."""
    if not POSTGRES_MODE:
        pytest.skip("TEST_MODE=postgres not set (make test-postgres sets it)")
    from flask_migrate import upgrade

    databases = PostgresDatabases(admin_url_from_environment())
    template = databases.create()
    instance = str(tmp_path_factory.mktemp("pg-template"))
    app = create_app(TestConfig(SQLALCHEMY_DATABASE_URI=databases.url_of(template), INSTANCE_PATH=instance))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    databases.template = template
    yield databases
    databases.drop(template)


@pytest.fixture
def make_database(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Factory: the URL of a fresh migrated database (a SQLite file, or a PostgreSQL clone in that mode)."""
    made: list[str] = []
    databases: PostgresDatabases | None = request.getfixturevalue("postgres") if POSTGRES_MODE else None

    def factory() -> str:
        if databases is not None:
            made.append(databases.create(template=databases.template))
            return databases.url_of(made[-1])
        path = tmp_path / f"app{len(made)}.db"
        shutil.copy(request.getfixturevalue("template_db"), path)
        made.append(str(path))
        return f"sqlite:///{path}"

    yield factory
    for name in made if databases is not None else []:
        databases.drop(name)


@pytest.fixture
def make_app(
    tmp_path: Path, make_database: Callable[[], str], request: pytest.FixtureRequest
) -> Iterator[Callable[..., Flask]]:
    """Factory: a fresh app on a copy of the migrated database, in embedded or Redis mode."""
    created: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        settings: dict[str, Any] = {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "WARNING",
        }
        if REDIS_MODE:
            url = request.getfixturevalue("redis_url")
            redis.Redis.from_url(url).flushdb()
            settings["REDIS_URL"] = url
            settings["RATELIMIT_STORAGE_URI"] = url
        settings.update(overrides)
        if "SQLALCHEMY_DATABASE_URI" not in settings:
            settings["SQLALCHEMY_DATABASE_URI"] = make_database()
        app = create_app(TestConfig(**settings))
        created.append(app)
        return app

    yield factory
    from services.ai import EXTENSION_KEY

    for app in created:
        app.extensions[EXTENSION_KEY].close()  # the SDK clients' pooled connections to the fake server
        with app.app_context():
            db.session.remove()
            _await_checkins(db.engine.pool)
            db.engine.dispose()


def _await_checkins(pool: Any, safety_net_s: float = 10.0) -> None:
    """Give a request still finishing in a served app's thread (browser tests) the moment to return its
    connection, so dispose() closes it: a connection returned after dispose() is closed only by the garbage
    collector, and psycopg warns about that (a warning is an error here)."""
    give_up = time.monotonic() + safety_net_s
    pause = threading.Event()
    while getattr(pool, "checkedout", lambda: 0)() and time.monotonic() < give_up:
        pause.wait(0.02)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The default test app."""
    return make_app()


@contextmanager
def thread_rq_worker(app: Flask) -> Iterator[None]:
    """An RQ worker serving ``app``'s Redis queue from a thread (a `flask rq-worker` of any machine)."""
    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    from services.runtime import backends

    class ThreadWorker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty

        def _install_signal_handlers(self) -> None:  # signals belong to the main thread
            pass

    stop = threading.Event()

    def loop() -> None:
        with app.app_context():
            while not stop.is_set():
                ThreadWorker(["planogram", "planogram-background"], connection=backends().redis).work(
                    burst=True, with_scheduler=False
                )
                stop.wait(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


@pytest.fixture
def rq_worker(app: Flask) -> Iterator[None]:
    """With Redis, jobs wait for an RQ worker on any machine: run one in a thread for the test (no-op in
    embedded mode, where jobs run in the app's own threads)."""
    if not REDIS_MODE:
        yield
        return
    with thread_rq_worker(app):
        yield


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., dict[str, Any]]:
    """Factory: create a user with a role and return its email, password and bearer headers."""
    from services import auth

    def factory(role: str = "viewer", email: str | None = None, password: str = "correct-horse-1") -> dict[str, Any]:
        email = email or f"{role}-{os.urandom(3).hex()}@example.com"
        with app.app_context():
            user = auth.create_user(email, password, role)
            token = auth.issue_token(user, 1)
            db.session.commit()
        return {"email": email, "password": password, "token": token, "headers": {"Authorization": f"Bearer {token}"}}

    return factory


@pytest.fixture
def admin(make_user: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_user("admin")


@pytest.fixture
def viewer(make_user: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_user("viewer")


@pytest.fixture
def merchandiser(make_user: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_user("merchandiser")
