"""Acceptance metrics of generated content: how often humans approve AI drafts, how much they edit, what it costs.

The monitoring dashboard imports `acceptance_metrics`. A draft counts as *accepted* when it is approved or used,
as *reviewed* when it is accepted or rejected. Cost is the ledger cost of every LLM request behind a draft: the
generation itself (`generated_content.request_id`) plus the chat turns that revised it (assistant messages of
the draft's conversation), each request counted once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, select, union

from extensions import db
from models import GeneratedContent, LLMMessage, LLMRequest

GroupBy = Literal["feature", "prompt"]
GROUP_BYS: tuple[str, ...] = ("feature", "prompt")
ACCEPTED = ("approved", "used")
GroupKey = tuple[str, str | None, int | None, str | None]


def acceptance_metrics(
    start: datetime | None = None, end: datetime | None = None, group_by: str = "prompt"
) -> list[dict[str, Any]]:
    """Per feature, or per prompt name + version + variant: counts, acceptance %, mean edit distance, cost.

    `start` is inclusive and `end` exclusive, both on the draft's creation time. Rows are ordered by feature,
    prompt name, version and variant (missing values first).
    """
    if group_by not in GROUP_BYS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}, not {group_by!r}")
    window = _window(start, end)
    groups: dict[GroupKey, dict[str, Any]] = {}
    draft_group: dict[int, GroupKey] = {}
    rows = db.session.execute(
        select(
            GeneratedContent.id,
            GeneratedContent.content_type,
            GeneratedContent.prompt_name,
            GeneratedContent.prompt_version,
            GeneratedContent.prompt_variant,
            GeneratedContent.status,
            GeneratedContent.edit_distance,
        ).where(*window)
    )
    for draft_id, feature, name, version, variant, status, distance in rows:
        key: GroupKey = (feature, None, None, None) if group_by == "feature" else (feature, name, version, variant)
        draft_group[draft_id] = key
        group = groups.setdefault(key, _empty(key))
        group["generated"] += 1
        group[status if status in ("approved", "used", "rejected") else "pending"] += 1
        if status in ACCEPTED and distance is not None:
            group["_distances"].append(distance)
    for draft_id, cost in _draft_costs(window):
        if draft_id in draft_group:
            groups[draft_group[draft_id]]["_cost"] += cost
    return [_finish(groups[key]) for key in sorted(groups, key=_order)]


def _window(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if start is not None:
        clauses.append(GeneratedContent.created_at >= start)
    if end is not None:
        clauses.append(GeneratedContent.created_at < end)
    return clauses


def _draft_costs(window: list[ColumnElement[bool]]) -> Iterable[tuple[int, float]]:
    """(draft id, ledger cost) per distinct request behind each draft in the window."""
    own = select(GeneratedContent.id.label("draft_id"), GeneratedContent.request_id.label("request_id")).where(
        GeneratedContent.request_id.is_not(None), *window
    )
    chat = (
        select(GeneratedContent.id.label("draft_id"), LLMMessage.request_id.label("request_id"))
        .join(LLMMessage, LLMMessage.conversation_id == GeneratedContent.conversation_id)
        .where(LLMMessage.request_id.is_not(None), *window)
    )
    pairs = union(own, chat).subquery()  # UNION (not ALL): a request shared by both paths counts once
    query = select(pairs.c.draft_id, LLMRequest.cost_usd).join(LLMRequest, LLMRequest.id == pairs.c.request_id)
    return ((int(draft_id), float(cost or 0.0)) for draft_id, cost in db.session.execute(query))


def _empty(key: GroupKey) -> dict[str, Any]:
    feature, name, version, variant = key
    return {
        "feature": feature,
        "prompt_name": name,
        "prompt_version": version,
        "variant": variant,
        "generated": 0,
        "approved": 0,
        "used": 0,
        "rejected": 0,
        "pending": 0,
        "_distances": [],
        "_cost": 0.0,
    }


def _finish(group: dict[str, Any]) -> dict[str, Any]:
    distances: list[int] = group.pop("_distances")
    cost = round(group.pop("_cost"), 8)
    accepted = group["approved"] + group["used"]
    reviewed = accepted + group["rejected"]
    group["acceptance_pct"] = round(100.0 * accepted / reviewed, 2) if reviewed else None
    group["mean_edit_distance"] = round(sum(distances) / len(distances), 2) if distances else None
    group["cost_usd"] = cost
    group["cost_per_accepted_usd"] = round(cost / accepted, 8) if accepted else None
    return group


def _order(key: GroupKey) -> tuple[str, str, int, str]:
    feature, name, version, variant = key
    return (feature, name or "", version if version is not None else -1, variant or "")
