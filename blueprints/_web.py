"""Web-layer plumbing shared by blueprints: auth guard, role checks, JSON parsing, error bodies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from blueprints._input import PayloadTooLarge, check_values, load_json
from blueprints._openapi import check_parsed
from extensions import csrf
from models import User
from services import auth as auth_service
from services.errors import AppError, Forbidden, ServiceUnavailable, Unauthorized, ValidationFailed

log = logging.getLogger("planogram.web")
F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def public(view: F) -> F:
    """Mark a view as reachable without authentication."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow the view only to users with one of ``roles`` (admins always pass)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = api_user()
            if user.role != "admin" and user.role not in roles:
                raise Forbidden(
                    f"Your role '{user.role}' cannot do this",
                    details={"required_roles": sorted({*roles, "admin"})},
                )
            return view(*args, **kwargs)

        # Read by the API document (blueprints/_openapi.py).
        wrapper.required_roles = sorted({*roles, "admin"})  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def api_user() -> User:
    """Return the authenticated user of this request (the guard guarantees one on /api)."""
    user = g.get("user")
    if user is None:
        raise Unauthorized("Authentication required")
    return user  # type: ignore[no-any-return]


def json_body() -> dict[str, Any]:
    """The request's JSON object, read once and guarded (size, nesting, NaN/overflow, object only)."""
    cached = g.get("json_body")
    if cached is None:
        limit = int(current_app.config["JSON_MAX_BYTES"])
        if (request.content_length or 0) > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes", details={"max_bytes": limit})
        cached = g.json_body = load_json(request.get_data(cache=True), limit)
    return cached  # type: ignore[no-any-return]


def parse_json(model: type[M]) -> M:
    """Parse the JSON body into ``model``; problems become a 422 (413 when too large) naming each field."""
    _check_declared("body", model)
    payload = json_body()
    check_values(payload)
    return validate(model, payload)


def parse_query(model: type[M]) -> M:
    """Parse query-string arguments into ``model``."""
    _check_declared("query", model)
    args = request.args.to_dict()
    check_values(args)
    return validate(model, args)


def _check_declared(kind: str, model: type[BaseModel]) -> None:
    """Under test, an /api view must parse the model it declared for the API document (@api_doc)."""
    if current_app.testing and request.path.startswith("/api/"):
        check_parsed(current_app.view_functions.get(request.endpoint or ""), kind, model)


def validate(model: type[M], payload: Any) -> M:
    """Validate data against a pydantic model, mapping its errors to field-level details; the parsed values
    must also fit the database (64-bit ints, dates in range)."""
    try:
        parsed = model.model_validate(payload)
    except PydanticValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]) or None, "reason": err["msg"]} for err in exc.errors()
        ]
        raise ValidationFailed("Invalid request", details=details) from None
    check_values(parsed.model_dump())
    return parsed


# Probes answer JSON too (a load balancer or operator reads their errors, not a browser).
JSON_PATHS = frozenset({"/healthz", "/readyz"})
# A backend that stopped answering: the request may work again in a moment, so 503 (with Retry-After), not 500.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OperationalError,
    PoolTimeoutError,
)
RETRY_AFTER_S = 5


def _is_api() -> bool:
    return request.path.startswith("/api/") or request.path in JSON_PATHS


def _view_is_public(app: Flask) -> bool:
    view = app.view_functions.get(request.endpoint or "")
    return bool(view is not None and getattr(view, "is_public", False))


def init_guard(app: Flask) -> None:
    """Authenticate every /api request (bearer token or session + CSRF) unless the view is public."""

    @app.before_request
    def _authenticate() -> None:
        g.user = None
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            user = auth_service.user_for_token(header[7:].strip())
            if user is None and _is_api() and not _view_is_public(app):
                raise Unauthorized("Invalid or expired API token")
            g.user = user
            return
        if current_user.is_authenticated:
            g.user = current_user._get_current_object()
        if g.user is None and _is_api() and request.endpoint is not None and not _view_is_public(app):
            raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'")
        # Cookie sessions ride along with any request a browser sends: writes need the CSRF token.
        if request.method not in SAFE_METHODS and not (_is_api() and _view_is_public(app)):
            csrf.protect()


def _error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def _backend_down(exc: Exception) -> Response | tuple[str, int]:
    """Redis or the database stopped answering mid-request: a clear, retryable 503."""
    backend = "database" if isinstance(exc, (OperationalError, PoolTimeoutError)) else "redis"
    log.warning("backend unavailable: %s (%s)", backend, type(exc).__name__)
    return _outage_response(
        ServiceUnavailable(
            f"A shared service ({backend}) is not answering; please try again in a few seconds",
            details={"backend": backend, "request_id": g.get("request_id")},
        )
    )


def _outage_response(exc: ServiceUnavailable) -> Response | tuple[str, int]:
    if not _is_api():
        return error_page(503, exc.message)
    response = jsonify(exc.to_dict())
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


ERROR_TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not for your role",
    404: "Page not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "File too large",
    422: "Cannot do that",
    500: "Server error",
    503: "Temporarily unavailable",
}


def error_page(status: int, message: str) -> Response | tuple[str, int]:
    """The styled HTML error page with the request id to quote (plain text if even that cannot render)."""
    rid = g.get("request_id")
    try:
        return render_template(
            "error.html", status=status, title=ERROR_TITLES.get(status, "Error"), message=message, request_id=rid
        ), status
    except Exception:  # the page itself failed (e.g. the database is down): still answer, still quote the id
        log.exception("error page failed")
        return Response(f"Error {status}. Request id: {rid}", status=status, mimetype="text/plain")


def init_error_handlers(app: Flask) -> None:
    """Every /api error is JSON with a code, a message and details; never HTML or a stack trace."""

    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> Response | tuple[str, int]:
        if not _is_api():
            return error_page(exc.status, exc.message)
        response = jsonify(exc.to_dict())
        response.status_code = exc.status
        return response

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return _error_response(400, "csrf_failed", exc.description or "CSRF check failed")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | HTTPException | tuple[str, int]:
        if not _is_api() and exc.code != 429:
            if exc.code is None or exc.code < 400:  # redirects raised as exceptions pass through
                return exc
            return error_page(exc.code, exc.description or exc.name)
        code = (exc.name or "error").lower().replace(" ", "_")
        response = _error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 429:
            response = _error_response(429, "rate_limited", f"Rate limit exceeded ({exc.description})")
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable) -> Response | tuple[str, int]:
        return _outage_response(exc)

    for outage in OUTAGE_ERRORS:
        app.register_error_handler(outage, _backend_down)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error")
        if not _is_api():
            return error_page(500, "Something went wrong on our side; the error is logged.")
        return _error_response(500, "internal_error", "Internal server error", {"request_id": g.get("request_id")})
