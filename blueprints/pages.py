"""Server-rendered pages for signed-in users."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from services import catalog, demo_fleet, editor

bp = Blueprint("pages", __name__)


@bp.before_request
def _require_login() -> Response | None:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
    return None


@bp.get("/")
def index() -> str:
    return render_template("fleet.html", devices=catalog.list_devices(), demo=demo_fleet.presence())


@bp.get("/devices/<device_id>")
def device(device_id: str) -> str:
    found = catalog.get_device(device_id)
    return render_template(
        "device.html",
        device=catalog.device_detail(found),
        planogram=catalog.planogram_detail(found),
    )


@bp.get("/devices/<device_id>/editor")
def device_editor(device_id: str) -> str:
    state = editor.editor_state(device_id, current_user.role, bool(current_app.config.get("LLM_PROVIDER")),
                                current_app.config["CURRENCY"])
    return render_template("editor.html", state=state, device=state["device"])


@bp.get("/products")
def products() -> str:
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 1_000_000)  # an absurd page is the last one
    category = request.args.get("category") or None
    search = request.args.get("q") or None
    return render_template(
        "products.html",
        result=catalog.list_products(page, 50, category, search),
        categories=catalog.categories(),
        category=category,
        q=search or "",
    )


@bp.get("/import")
def import_page() -> str:
    return render_template("import.html", demo=demo_fleet.presence())
