"""Server-rendered pages for signed-in users."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from blueprints._web import error_page
from models import ROLES
from services import catalog, editor, fleet
from services.editor import EDIT_ROLES

bp = Blueprint("pages", __name__)
IMPORT_ROLES = frozenset({"merchandiser", "admin"})


@bp.before_request
def _require_login() -> Response | None:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
    return None


@bp.get("/")
def index() -> str:
    return render_template("fleet.html", fleet=fleet.overview(), can_optimise=current_user.role in EDIT_ROLES)


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
    page = max(request.args.get("page", 1, type=int) or 1, 1)
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
    return render_template("import.html", can_import=current_user.role in IMPORT_ROLES)


@bp.get("/users")
def users() -> str | tuple[str, int] | Response:
    if current_user.role != "admin":
        return error_page(403, "Managing users is for admins.")
    return render_template("users.html", roles=list(ROLES))
