"""Flask extensions, created unbound and bound to the app in create_app."""

from __future__ import annotations

import hashlib

from flask import current_app, request, session
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import registry as orm_registry


class Base(DeclarativeBase):
    """Declarative base shared by every model."""

    # Keys (`Mapped[int]` without an explicit type: ids and foreign keys) are 64-bit on every backend, as the
    # API promises (ids up to 2**63 - 1): BIGINT on PostgreSQL, INTEGER (already 64-bit) on SQLite, where only
    # INTEGER PRIMARY KEY autoincrements. Migrations declare them as sa.BigInteger().with_variant(sa.Integer(),
    # "sqlite"); 0005_postgres widened the older ones.
    registry = orm_registry(type_annotation_map={int: BigInteger().with_variant(Integer(), "sqlite")})


def rate_limit_key() -> str:
    """Limit per API token, else per logged-in user, else per client address."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer ") and len(auth) > 7:
        return "tok:" + hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:24]
    user_id = session.get("_user_id")
    if user_id:
        return f"user:{user_id}"
    return f"ip:{request.remote_addr or 'unknown'}"


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()


def default_rate_limit() -> str:
    """Read per app, so each app (and each test app) gets its own configured limit."""
    return str(current_app.config["RATELIMIT_DEFAULT"])


limiter = Limiter(key_func=rate_limit_key, default_limits=[default_rate_limit])
