"""The API contract: which pydantic models each /api view reads and answers, and the OpenAPI 3.1 document
built from them.

Views declare their models once with ``@api_doc(body=..., query=..., response=...)``; the shared parsing helpers
(``parse_json``/``parse_query``) check under test that the model a view parses is the one it declared, so the
document cannot drift from the code. ``build_spec`` walks the Flask url_map and turns every /api route into an
operation: request body and query parameters from pydantic's JSON Schema, the success body where a response
model exists (a JSON object otherwise), and the documented error shape for 4XX and 503.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from blueprints._input import INT64_MAX

F = TypeVar("F", bound=Callable[..., Any])
Model = type[BaseModel]
REF = "#/components/schemas/{model}"
EXTENSION_KEY = "planogram.openapi"
METHODS = ("get", "post", "put", "patch", "delete")
_PATH_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


@dataclass(frozen=True, slots=True)
class Contract:
    """What one view reads and answers."""

    body: Model | None = None
    query: Model | None = None
    response: Model | None = None
    status: int = 200
    upload: bool = False  # multipart/form-data files
    stream: bool = False  # text/event-stream answer
    hidden: bool = False  # not an API operation (the docs page)


# One server-sent event as an SSE parser reads it (id / event / data lines; data is the event's JSON).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["data"],
}


def api_doc(**fields: Any) -> Callable[[F], F]:
    """Declare a view's request and response models (see ``Contract``)."""
    contract = Contract(**fields)

    def decorator(view: F) -> F:
        view.api_contract = contract  # type: ignore[attr-defined]
        return view

    return decorator


def contract_of(view: Callable[..., Any] | None) -> Contract | None:
    """The contract a view declared, if any."""
    return getattr(view, "api_contract", None)


def check_parsed(view: Callable[..., Any] | None, kind: str, model: Model) -> None:
    """Fail loudly (under test) when a view parses a model it did not declare: the document would be wrong."""
    contract = contract_of(view)
    declared = getattr(contract, kind, None) if contract else None
    if declared is not model:
        name = getattr(view, "__name__", "?")
        raise AssertionError(f"view {name} parses {kind} {model.__name__} but declares {declared!r} (@api_doc)")


# --- the document -----------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """The error object: a stable code, a readable message and where it went wrong."""

    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every /api error: ``{"error": {code, message, details}}``."""

    error: ErrorDetail


def spec(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI document, built once per app."""
    cached = app.extensions.get(EXTENSION_KEY)
    if cached is None:
        cached = app.extensions[EXTENSION_KEY] = build_spec(app)
    return cached


def build_spec(app: Flask) -> dict[str, Any]:
    """Walk the url_map: every /api route with its declared models becomes an OpenAPI 3.1 operation."""
    routes = [
        (rule, app.view_functions[rule.endpoint]) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
    ]
    routes = [(rule, view) for rule, view in routes if not getattr(contract_of(view), "hidden", False)]
    refs, schemas = _schemas(view for _rule, view in routes)
    paths: dict[str, dict[str, Any]] = {}
    for rule, view in sorted(routes, key=lambda rv: rv[0].rule):
        path, parameters = _path(rule.rule)
        for method in sorted(m.lower() for m in rule.methods or ()):
            if method in METHODS:
                paths.setdefault(path, {})[method] = _operation(rule.endpoint, view, parameters, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Planogram AI workbench API",
            "version": str(app.config.get("API_VERSION", "1")),
            "description": "JSON API of the workbench. Authenticate with `Authorization: Bearer <token>` "
            "(POST /api/auth/token) or a browser session (writes need the CSRF token). "
            'Errors are `{"error": {code, message, details}}`.',
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (pgw_…)"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "browser session; writes need the X-CSRFToken header",
                },
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


def _schemas(views: Iterable[Callable[..., Any]]) -> tuple[dict[tuple[Model, str], dict[str, Any]], dict[str, Any]]:
    """JSON Schemas of every declared model (requests in validation mode, responses in serialization mode)."""
    wanted: set[tuple[Model, str]] = {(ErrorBody, "serialization")}
    for view in views:
        contract = contract_of(view)
        if contract is None:
            continue
        wanted |= {(m, "validation") for m in (contract.body, contract.query) if m is not None}
        if contract.response is not None:
            wanted.add((contract.response, "serialization"))
    ordered = sorted(wanted, key=lambda item: (item[0].__module__, item[0].__qualname__, item[1]))
    refs, defs = models_json_schema(ordered, ref_template=REF)  # type: ignore[arg-type]
    keyed = {(model, mode): schema for (model, mode), schema in refs.items()}
    return keyed, dict(defs.get("$defs", {}))  # type: ignore[return-value]


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """The OpenAPI path of a werkzeug rule and its path parameters."""
    parameters: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        name, converter = match["name"], match["conv"] or "default"
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
            if converter == "int"
            else {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        )
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _PATH_ARG.sub(replace, rule), parameters


def _operation(
    endpoint: str,
    view: Callable[..., Any],
    path_params: list[dict[str, Any]],
    refs: dict[tuple[Model, str], dict[str, Any]],
    schemas: dict[str, Any],
) -> dict[str, Any]:
    """One operation: summary, roles, parameters, request body and responses."""
    contract = contract_of(view) or Contract()
    doc = (view.__doc__ or "").strip()
    roles = getattr(view, "required_roles", None)
    operation: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "tags": [endpoint.split(".", 1)[0]],
        "summary": doc.splitlines()[0] if doc else endpoint.rsplit(".", 1)[-1].replace("_", " "),
    }
    if roles:
        operation["description"] = f"Roles: {', '.join(roles)}."
        operation["x-required-roles"] = list(roles)
    if getattr(view, "is_public", False):
        operation["security"] = []
    query = _query_parameters(contract.query, refs, schemas) if contract.query else []
    if path_params or query:
        operation["parameters"] = [*path_params, *query]
    if contract.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(contract.body, "validation")]}},
        }
    elif contract.upload:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "format": "binary"},
                        "description": "CSV files; the file names decide their type",
                    }
                }
            },
        }
    operation["responses"] = _responses(contract, refs)
    return operation


def _query_parameters(
    model: Model, refs: dict[tuple[Model, str], dict[str, Any]], schemas: dict[str, Any]
) -> list[dict[str, Any]]:
    """A query model's fields as query parameters (a query string cannot say null, so null is left out)."""
    ref = refs[(model, "validation")]["$ref"]
    schema = schemas[ref.rsplit("/", 1)[-1]]
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
        if prop.get("default", ...) is None:
            prop.pop("default")
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _responses(contract: Contract, refs: dict[tuple[Model, str], dict[str, Any]]) -> dict[str, Any]:
    """The success answer and the error shape for 4XX and 503."""
    error = {"application/json": {"schema": refs[(ErrorBody, "serialization")]}}
    if contract.status == 204:
        success: dict[str, Any] = {"description": "done, no content"}
    elif contract.stream:
        success = {
            "description": "server-sent events (started, queued, progress, explanation, done | error | cancelled)",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        }
    else:
        body = refs[(contract.response, "serialization")] if contract.response else {"type": "object"}
        success = {"description": "success", "content": {"application/json": {"schema": body}}}
    return {
        str(contract.status): success,
        "4XX": {
            "description": "the request was refused (bad input, auth, role, not found, conflict, rate limit)",
            "content": error,
        },
        "503": {
            "description": "a shared service (Redis, the database) is not answering; retry after Retry-After",
            "content": error,
        },
    }
