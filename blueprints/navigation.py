"""The main menu: which pages each role sees (pages a role cannot use stay out of its menu)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, url_for
from flask_login import current_user

from models import ROLES

EVERYONE = frozenset(ROLES)


@dataclass(frozen=True, slots=True)
class NavItem:
    """One menu link: the endpoint it opens, the roles that see it, endpoints that mark it current."""

    endpoint: str
    label: str
    roles: frozenset[str]
    current_for: tuple[str, ...] = ()

    def is_current(self, endpoint: str | None) -> bool:
        """Whether the page being shown belongs to this menu entry."""
        return endpoint is not None and (endpoint == self.endpoint or endpoint in self.current_for)


# Viewers read everything (the pages say read-only); each working role sees the pages of its job.
MENU: tuple[NavItem, ...] = (
    NavItem(
        "pages.index",
        "Fleet",
        EVERYONE,
        ("pages.device", "pages.device_editor", "pages.visit_sheet", "pages.route_sheet"),
    ),
    NavItem("pages.products", "Products", EVERYONE),
    NavItem("pages.import_page", "Import", frozenset({"merchandiser", "admin"})),
    NavItem("content_pages.studio", "Content", frozenset({"marketer", "admin", "viewer"})),
    NavItem("content_pages.email_assistant", "Email", frozenset({"agent", "admin", "viewer"})),
    NavItem(
        "content_pages.review_queue",
        "Review",
        frozenset({"marketer", "agent", "admin", "viewer"}),
        ("content_pages.draft_editor",),
    ),
    NavItem("monitoring.dashboards.overview", "Monitoring", frozenset({"admin"}), ("monitoring.dashboards.prompts",)),
    NavItem("pages.users", "Users", frozenset({"admin"})),
)


def menu_for(role: str) -> list[NavItem]:
    """The menu entries a role sees, in menu order."""
    return [item for item in MENU if role in item.roles]


def init_navigation(app: Flask) -> None:
    """Give every template the signed-in user's menu as ``menu`` [(item, url)]."""

    @app.context_processor
    def _menu() -> dict[str, object]:
        if not current_user.is_authenticated:
            return {"menu": []}
        return {"menu": [(item, url_for(item.endpoint)) for item in menu_for(current_user.role)]}
