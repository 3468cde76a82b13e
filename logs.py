"""Structured logging: one JSON line per event, each carrying the current request id."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import IO, Any

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("planogram.http")


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Stamp every record, from any logger, with the request id of the request (or job) that made it."""
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


def configure_logging(level: str, json_lines: bool, stream: IO[str] | None = None) -> None:
    """Send all logs to stderr (or ``stream``), as JSON lines unless told otherwise; idempotent."""
    logging.setLogRecordFactory(_record_with_request_id)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_planogram", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._planogram = True  # type: ignore[attr-defined]
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def new_request_id() -> str:
    """Return a fresh request id."""
    return uuid.uuid4().hex


def init_request_ids(app: Flask) -> None:
    """Give every request an id (the client's X-Request-ID if well-formed), echo it, log the request."""

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else new_request_id()
        g.request_id = rid
        g.request_started = time.perf_counter()
        request_id_var.set(rid)

    @app.after_request
    def _finish(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
            elapsed = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed, 2),
                    "endpoint": request.endpoint,
                },
            )
        return response

    @app.teardown_request
    def _clear(_exc: BaseException | None) -> None:
        request_id_var.set(None)
