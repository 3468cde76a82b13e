"""Marketing content assistant API under /api/content (arrives with the content issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("content", __name__, url_prefix="/api/content")
