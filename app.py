"""Application factory: configuration, one init call per integration, blueprints and CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

import models  # noqa: F401  (registers every table with the metadata before migrations run)
from blueprints._input import BoundedIntConverter
from config import BASE_DIR, Config, engine_options, instance_secret
from extensions import csrf, db, limiter, login_manager, migrate
from logs import configure_logging, init_request_ids
from services.processes import single_threaded_blas


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    """Build a configured Flask application; nothing is created at import time."""
    settings = config.as_dict() if isinstance(config, Config) else {**Config().as_dict(), **(config or {})}
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], instance_relative_config=False)
    app.config.update(settings)
    app.url_map.converters["int"] = BoundedIntConverter  # before any route: ids beyond 64 bits are a 404
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(
            str(settings["SQLALCHEMY_DATABASE_URI"]),
            int(settings["DB_POOL_SIZE"]),
            int(settings["DB_MAX_OVERFLOW"]),
            float(settings["DB_POOL_TIMEOUT"]),
        ),
        **settings.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path))
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_JSON"])
    single_threaded_blas()  # every process running the app runs the engine beside its siblings

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    init_login(app)
    limiter.init_app(app)
    init_request_ids(app)
    init_web(app)
    init_runtime(app)
    init_monitoring(app)
    init_llm(app)
    register_blueprints(app)
    register_cli(app)
    return app


def init_login(app: Flask) -> None:
    """Browser sessions via Flask-Login."""
    from services.auth import get_user

    login_manager.init_app(app)
    login_manager.login_view = "auth.login_page"

    def load(user_id: str) -> object:
        user = get_user(int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None  # a deactivated user's session ends

    login_manager.user_loader(load)


def init_web(app: Flask) -> None:
    """Authentication guard, JSON error bodies for /api, styled error pages, the role menu and security headers
    on every response."""
    from blueprints._security import init_security_headers
    from blueprints._web import init_error_handlers, init_guard
    from blueprints.navigation import init_navigation

    init_guard(app)
    init_error_handlers(app)
    init_security_headers(app)
    init_navigation(app)


def init_runtime(app: Flask) -> None:
    """Redis-or-memory backends for events and jobs."""
    from services.runtime import init_backends

    init_backends(app)


def init_monitoring(app: Flask) -> None:
    """Prometheus metrics (HTTP hooks) and the alert monitor; before init_llm, whose ledger sink feeds them."""
    from services.monitoring import init_monitoring as build

    build(app)


def init_llm(app: Flask) -> None:
    """The LLM pipeline (needs the runtime backends for its Redis client); ConfigError stops start-up."""
    from services.ai import init_llm as build

    build(app)


def register_blueprints(app: Flask) -> None:
    """Mount every blueprint."""
    from blueprints import (
        api_docs,
        auth,
        catalog,
        content,
        content_pages,
        drafts,
        email,
        fleet,
        jobs,
        llm,
        monitoring,
        pages,
        planogram,
    )

    for module in (
        auth,
        catalog,
        planogram,
        jobs,
        fleet,
        content,
        email,
        llm,
        monitoring,
        pages,
        drafts,
        content_pages,
        api_docs,
    ):
        app.register_blueprint(module.bp)


def register_cli(app: Flask) -> None:
    """Register ``flask`` sub-commands."""
    from cli import register

    register(app)
