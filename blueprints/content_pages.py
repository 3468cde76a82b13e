"""Browser pages of the content and email assistants and the review queue (data comes from the JSON API)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from services import catalog
from services.review import drafts as review

bp = Blueprint("content_pages", __name__)


@bp.before_request
def _require_login() -> Response | None:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
    return None


def _can(content_type: str) -> bool:
    return review.can_write(current_user, content_type)


@bp.get("/content")
def studio() -> str:
    products = catalog.list_products(1, 500, None, None)["items"]
    return render_template("content_studio.html", can_write=_can("caption"), products=products)


@bp.get("/email")
def email_assistant() -> str:
    return render_template("email_assistant.html", can_write=_can("email_reply"))


@bp.get("/review")
def review_queue() -> str:
    return render_template(
        "review_queue.html",
        types=review.CONTENT_TYPES,
        content_type=request.args.get("type", ""),
        status=request.args.get("status", "draft"),
    )


@bp.get("/review/<int:draft_id>")
def draft_editor(draft_id: int) -> str:
    draft = review.get_draft(draft_id)
    return render_template("review_editor.html", draft_id=draft.id, can_write=_can(draft.content_type))
