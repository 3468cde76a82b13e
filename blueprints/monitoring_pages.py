"""Admin dashboards (nested in the monitoring blueprint): usage and cost, prompts A/B and providers."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from blueprints._web import error_page

bp = Blueprint("dashboards", __name__, url_prefix="/monitoring")
REFRESH_SECONDS = 30


@bp.before_request
def _admins_only() -> Response | tuple[str, int] | None:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
    if current_user.role != "admin":
        return error_page(403, "Monitoring is for admins.")
    return None


@bp.get("/")
def overview() -> str:
    return render_template(
        "monitoring.html",
        refresh_seconds=REFRESH_SECONDS,
        budget_usd=current_app.config["LLM_DAILY_BUDGET_USD"],
        provider=current_app.config.get("LLM_PROVIDER"),
    )


@bp.get("/prompts")
def prompts() -> str:
    return render_template(
        "monitoring_prompts.html",
        refresh_seconds=REFRESH_SECONDS,
        min_reviews=current_app.config["AB_MIN_REVIEWS"],
    )
