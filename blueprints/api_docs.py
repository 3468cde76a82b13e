"""The API's OpenAPI 3.1 document (GET /api/openapi.json) and a readable reference page (GET /api/docs)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template

from blueprints._openapi import api_doc, spec
from blueprints._web import public

bp = Blueprint("api_docs", __name__, url_prefix="/api")


@bp.get("/openapi.json")
@api_doc()
@public
def openapi() -> Response:
    """The OpenAPI 3.1 description of every /api operation (generated from the pydantic models)."""
    return jsonify(spec(current_app))


@bp.get("/docs")
@api_doc(hidden=True)
@public
def docs() -> str:
    """The reference page: every operation with its roles, parameters, body and answers (server-rendered: no
    script, so the strict CSP holds)."""
    document = spec(current_app)
    return render_template(
        "api_docs.html",
        doc=document,
        groups=_groups(document),
        schemas=sorted(document["components"]["schemas"].items()),
    )


def _groups(document: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Operations grouped by tag, in path order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            groups.setdefault(operation["tags"][0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "op": operation,
                    "body": _body_ref(operation),
                    "public": operation.get("security") == [],
                }
            )
    return sorted(groups.items())


def _body_ref(operation: dict[str, Any]) -> str | None:
    """The request body: a schema name, or the media type when it has no named schema."""
    content = operation.get("requestBody", {}).get("content", {})
    for media, item in content.items():
        ref = str(item.get("schema", {}).get("$ref", ""))
        return ref.rsplit("/", 1)[-1] if ref else str(media)
    return None


def pretty(value: Any) -> str:
    """Indented JSON for the page."""
    return json.dumps(value, indent=2, ensure_ascii=False)


bp.add_app_template_filter(pretty, "pretty_json")
