"""Users, password checks and API tokens (only token hashes are stored)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models import ROLES, ApiToken, User
from models._types import utcnow
from services import login_throttle
from services.db_session import release_connection
from services.errors import Conflict, NotFound, ValidationFailed

TOKEN_PREFIX = "pgw_"  # noqa: S105 (a public prefix that makes leaked tokens easy to scan for)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A real hash to compare against when the user does not exist, so timing does not reveal accounts.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8


def hash_token(token: str) -> str:
    """Return the stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """Return the canonical (trimmed, lower-case) email."""
    return email.strip().lower()


def create_user(email: str, password: str, role: str, name: str = "") -> User:
    """Create a user after validating email, password length and role."""
    email = normalise_email(email)
    problems = []
    if not _EMAIL.match(email):
        problems.append({"field": "email", "reason": "not a valid email address"})
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append({"field": "password", "reason": f"must be at least {MIN_PASSWORD_LENGTH} characters"})
    if role not in ROLES:
        problems.append({"field": "role", "reason": f"must be one of {', '.join(ROLES)}"})
    if problems:
        raise ValidationFailed("Invalid user", details=problems)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with email {email} already exists", details={"field": "email"})
    user = User(
        email=email, name=name or email.split("@")[0], password_hash=generate_password_hash(password), role=role
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password (hashed)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("Password too short", details=[{"field": "password", "reason": "too short"}])
    user.password_hash = generate_password_hash(password)


def set_role(user_id: int, role: str, acting_user_id: int | None = None) -> User:
    """Change a user's role (an admin cannot take their own admin role away: someone must stay admin)."""
    if role not in ROLES:
        raise ValidationFailed("Invalid role", details=[{"field": "role", "reason": f"must be one of {ROLES}"}])
    user = _existing(user_id)
    if user.id == acting_user_id and role != user.role:
        raise Conflict("You cannot change your own role", details={"field": "role"})
    user.role = role
    return user


def set_active(user_id: int, active: bool, acting_user_id: int | None = None) -> User:
    """Deactivate (no sign-in, tokens stop working) or reactivate a user; never yourself."""
    user = _existing(user_id)
    if user.id == acting_user_id and not active:
        raise Conflict("You cannot deactivate yourself", details={"field": "active"})
    user.active = active
    return user


def update_user(user_id: int, role: str | None, active: bool | None, acting_user_id: int) -> User:
    """Apply an admin's change of role and/or active flag (404 for an unknown user)."""
    user = _existing(user_id)
    if role is not None:
        set_role(user_id, role, acting_user_id)
    if active is not None:
        set_active(user_id, active, acting_user_id)
    return user


def _existing(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


def verify_credentials(email: str, password: str) -> User | None:
    """Return the active user whose password matches, else None; repeated failures on one account slow its
    next attempts down (services/login_throttle) without ever refusing the right password."""
    email = normalise_email(email)
    login_throttle.wait_before_attempt(email)  # before any query: the wait holds no DB connection
    user: User | None = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        login_throttle.record(email, success=False)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        login_throttle.record(email, success=False)
        return None
    login_throttle.record(email, success=True)
    user.last_login_at = utcnow()
    return user


def issue_token(user: User, ttl_days: int, name: str = "api") -> str:
    """Create an API token for the user and return its plaintext (shown once)."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        token_hash=hash_token(plaintext),
        prefix=plaintext[:10],
        name=name,
        expires_at=utcnow() + timedelta(days=ttl_days),
    )
    db.session.add(token)
    db.session.flush()
    return plaintext


_TOUCHED: dict[str, datetime] = {}  # token hash -> when this process last wrote its last_used_at
TOUCH_EVERY = timedelta(minutes=1)


def _claim_touch(token_hash: str, now: datetime) -> bool:
    """Whether this request writes the token's last use: one write a minute per process, not one per request
    of a burst (20 streams started at once each queued a write transaction; SQLite writes one at a time)."""
    last = _TOUCHED.get(token_hash)
    if last is not None and now - TOUCH_EVERY < last <= now:
        return False
    _TOUCHED[token_hash] = now  # no wait between the check and the set: atomic for greenlets and threads
    if len(_TOUCHED) > 10_000:
        _TOUCHED.clear()
    return True


def user_for_token(plaintext: str) -> User | None:
    """Return the active user owning a valid (unexpired, unrevoked) token."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None  # not one of ours (e.g. the metrics scraper's token): no database lookup
    # The owner in the same query (one round trip on every bearer request, not two).
    query = select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.token_hash == hash_token(plaintext))
    token = db.session.scalar(query)
    now = utcnow()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    owner: User = token.user
    if not owner.active:
        return None
    # Touch at most once a minute, in its own short transaction: the request's session stays read-only
    # (on SQLite a pending write there would hold the write lock until the request ends).
    if (token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY) and _claim_touch(token.token_hash, now):
        # Give the session's connection back first: never hold one pooled connection while waiting for another.
        token_id, engine = token.id, db.engine
        release_connection()

        def touch() -> None:
            with engine.begin() as connection:
                connection.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))

        off_the_hub(touch)
    return owner


def off_the_hub(func: Callable[[], None]) -> None:
    """Run a blocking database write in a real thread when gevent serves: the request's greenlet waits for it,
    the hub goes on serving the others (SQLite's lock waits and fsync block the whole OS thread; the first
    request of a burst held 20 others back for ~60 ms with its token write)."""
    try:
        from gevent import get_hub, monkey
    except ImportError:  # gevent is optional outside gunicorn
        func()
        return
    if not monkey.is_module_patched("threading"):
        func()
        return
    get_hub().threadpool.apply(func)


def revoke_token(plaintext: str) -> bool:
    """Revoke a token; return whether it existed."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext)))
    if token is None:
        return False
    token.revoked_at = utcnow()
    return True


def list_users() -> list[User]:
    """Return all users ordered by email."""
    return list(db.session.scalars(select(User).order_by(User.email)))


def get_user(user_id: int) -> User | None:
    """Return a user by id."""
    return db.session.get(User, user_id)
