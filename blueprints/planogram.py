"""Planogram analysis API under /api/planogram (engine endpoints arrive with the engine issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("planogram", __name__, url_prefix="/api/planogram")
