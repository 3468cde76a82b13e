"""One blueprint module owns each URL prefix, so a newcomer finds a route from its URL alone."""

from __future__ import annotations

from collections import defaultdict

from flask import Flask


def owners_by_prefix(app: Flask) -> dict[str, set[str]]:
    """URL prefix (``/api/<first part>``, or the first part of a page URL) -> blueprint modules serving it."""
    owners: dict[str, set[str]] = defaultdict(set)
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        parts = rule.rule.strip("/").split("/")
        prefix = "/" + "/".join(parts[:2] if parts[0] == "api" else parts[:1])
        owners[prefix].add(app.view_functions[rule.endpoint].__module__)
    return owners


def test_every_url_prefix_is_served_by_one_blueprint_module(app: Flask) -> None:
    owners = owners_by_prefix(app)
    shared = {prefix: sorted(modules) for prefix, modules in owners.items() if len(modules) > 1}
    assert not shared
    assert owners["/api/planogram"] == {"blueprints.planogram"}
    assert owners["/api/jobs"] == {"blueprints.jobs"}
    assert owners["/api/monitoring"] == {"blueprints.monitoring"}
