"""Customer email reply drafts under /api/email (arrives with the email issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("email", __name__, url_prefix="/api/email")
