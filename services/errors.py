"""Typed application errors: each maps to one HTTP status and a stable error code."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error the API reports as ``{"error": {"code", "message", "details"}}``."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON error body."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(AppError):
    """The request or uploaded data broke a rule; ``details`` says where."""

    status = 422
    code = "validation_error"


class Unauthorized(AppError):
    """No valid credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    """Authenticated but the role does not allow it."""

    status = 403
    code = "forbidden"


class NotFound(AppError):
    """The named resource does not exist."""

    status = 404
    code = "not_found"


class Conflict(AppError):
    """The resource changed since the client read it (stale save) or would be duplicated."""

    status = 409
    code = "conflict"


class ServiceUnavailable(AppError):
    """A backend the request needs (Redis, the database) is not answering; retrying shortly may work."""

    status = 503
    code = "temporarily_unavailable"
