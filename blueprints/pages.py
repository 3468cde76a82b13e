"""Server-rendered pages for signed-in users."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from pydantic import BaseModel, Field
from werkzeug.wrappers import Response

from blueprints._web import error_page, parse_query, validate
from models import ROLES
from services import catalog, demo_fleet
from services.imports import templates as import_templates
from services.merchandising import editor, fleet
from services.merchandising import visit_sheets as visit_sheet
from services.merchandising.editor import EDIT_ROLES

bp = Blueprint("pages", __name__)
IMPORT_ROLES = frozenset({"merchandiser", "admin"})


@bp.before_request
def _require_login() -> Response | None:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
    return None


@bp.get("/")
def index() -> str:
    return render_template(
        "fleet.html", fleet=fleet.overview(), can_optimise=current_user.role in EDIT_ROLES, demo=demo_fleet.presence()
    )


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
    state = editor.editor_state(
        device_id, current_user.role, bool(current_app.config.get("LLM_PROVIDER")), current_app.config["CURRENCY"]
    )
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
    return render_template(
        "import.html",
        can_import=current_user.role in IMPORT_ROLES,
        demo=demo_fleet.presence(),
        templates=import_templates.names(),
    )


@bp.get("/users")
def users() -> str | tuple[str, int] | Response:
    if current_user.role != "admin":
        return error_page(403, "Managing users is for admins.")
    return render_template("users.html", roles=list(ROLES))


class SheetQuery(BaseModel):
    version: int | None = Field(default=None, ge=1, description="saved version (default: the active one)")
    job: str | None = Field(default=None, min_length=1, max_length=64, description="fleet batch job")


class RouteQuery(BaseModel):
    devices: str = Field(min_length=1, max_length=4000, description="comma-separated device ids")
    job: str | None = Field(default=None, min_length=1, max_length=64)

    def ids(self) -> list[str]:
        return [d.strip() for d in self.devices.split(",") if d.strip()]


class ProposalForm(BaseModel):
    proposal: dict[str, str | None] = Field(max_length=1000)


def _source(query: SheetQuery) -> visit_sheet.Source:
    return visit_sheet.Source(
        version=query.version, job_id=query.job, user_id=current_user.id, is_admin=current_user.role == "admin"
    )


def _csv(body: str, filename: str) -> Response:
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/devices/<device_id>/visit-sheet")
def visit_sheet_page(device_id: str) -> str:
    query = parse_query(SheetQuery)
    sheet = visit_sheet.device_sheet(device_id, _source(query))
    return render_template(
        "visit_sheet.html",
        sheet=sheet,
        csv_url=url_for("pages.visit_sheet_csv", device_id=device_id, **query.model_dump(exclude_none=True)),
    )


@bp.post("/devices/<device_id>/visit-sheet")
def visit_sheet_preview(device_id: str) -> str:
    """The editor's unsaved proposal (form field ``proposal``: JSON slot -> sku) as a visit sheet."""
    try:
        payload = json.loads(request.form.get("proposal", ""))
    except ValueError:
        payload = None
    form = validate(ProposalForm, {"proposal": payload})
    source = visit_sheet.Source(proposal=form.proposal)
    sheet = visit_sheet.device_sheet(device_id, source)
    return render_template("visit_sheet.html", sheet=sheet, csv_data=visit_sheet.sheet_csv(sheet))


@bp.get("/devices/<device_id>/visit-sheet.csv")
def visit_sheet_csv(device_id: str) -> Response:
    sheet = visit_sheet.device_sheet(device_id, _source(parse_query(SheetQuery)))
    return _csv(visit_sheet.sheet_csv(sheet), f"visit-sheet-{device_id}.csv")


@bp.get("/route")
def route_sheet() -> str:
    query = parse_query(RouteQuery)
    route = visit_sheet.route_sheet(query.ids(), query.job, current_user.id, current_user.role == "admin")
    return render_template(
        "route_sheet.html", route=route, csv_url=url_for("pages.pick_list_csv", **query.model_dump(exclude_none=True))
    )


@bp.get("/route/pick-list.csv")
def pick_list_csv() -> Response:
    query = parse_query(RouteQuery)
    route = visit_sheet.route_sheet(query.ids(), query.job, current_user.id, current_user.role == "admin")
    return _csv(visit_sheet.pick_list_csv(route), "pick-list.csv")
