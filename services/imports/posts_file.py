"""posts.csv: published social posts with engagement, upserted by a content key (re-imports update figures)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select

from extensions import db
from models import PLATFORMS, SocialPost
from services.imports import fields
from services.imports.catalog_files import Cell
from services.imports.reader import CsvFile, FileSpec, open_text
from services.imports.report import ImportRejected, ImportReport

POSTS = FileSpec(
    "posts.csv",
    ("platform", "text", "posted_at"),
    ("media_description", "products", "impressions", "likes", "comments", "shares", "clicks"),
)
ENGAGEMENT = ("impressions", "likes", "comments", "shares", "clicks")
MAX_TEXT = 5000
_SKU_SPLIT = re.compile(r"[;|,\s]+")


def post_key(platform: str, posted_at: datetime, text: str) -> str:
    """The natural key of a post: the same platform, time and text is the same post."""
    raw = f"{platform}|{posted_at.isoformat()}|{text.strip()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def sku_list(value: str) -> list[str]:
    """Skus separated by ';', '|', ',' or spaces; duplicates dropped, order kept."""
    return list(dict.fromkeys(s for s in _SKU_SPLIT.split(value.strip()) if s))


def import_posts(stream: IO[bytes], demo: bool = False, user_id: int | None = None) -> ImportReport:
    """Validate the whole file, then upsert every row; any error rejects the file and changes nothing."""
    report = ImportReport()
    csv_file = CsvFile(POSTS, open_text(stream), report)
    rows = _parse(csv_file, report)
    if not report.ok:
        raise ImportRejected(report)
    upsert_posts(rows, report, demo, user_id)
    return report


def _parse(csv_file: CsvFile, report: ImportReport) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for line, row in csv_file.rows():
        report.stats(POSTS.name).rows += 1
        cell = Cell(report, POSTS.name, line, row)
        values: dict[str, Any] = {
            "platform": cell.get("platform", lambda v: fields.choice(v, PLATFORMS)),
            "text": cell.get("text", lambda v: fields.text(v, MAX_TEXT)),
            "posted_at": cell.get("posted_at", fields.timestamp),
            "media_description": row.get("media_description", "").strip()[:MAX_TEXT],
            "products": sku_list(row.get("products", "")),
        }
        for name in ENGAGEMENT:
            values[name] = cell.opt(name, lambda v: fields.integer(v, 0, 10**10), 0, "no figure given")
        if not cell.ok:
            continue
        key = post_key(values["platform"], values["posted_at"], values["text"])
        if key in out:
            report.stats(POSTS.name).duplicates += 1  # the later row's figures win, like a re-import
        out[key] = values
    return out


def upsert_posts(rows: dict[str, dict[str, Any]], report: ImportReport, demo: bool, user_id: int | None) -> None:
    """Insert new posts; update the figures of known ones. Flushes only."""
    stats = report.stats(POSTS.name)
    existing = (
        {p.content_key: p for p in db.session.scalars(select(SocialPost).where(SocialPost.content_key.in_(list(rows))))}
        if rows
        else {}
    )
    for key, values in rows.items():
        post = existing.get(key)
        if post is None:
            db.session.add(SocialPost(content_key=key, is_demo=demo, created_by_id=user_id, **values))
            stats.inserted += 1
            continue
        changed = {k: v for k, v in values.items() if k != "posted_at" and getattr(post, k) != v}
        for name, value in changed.items():
            setattr(post, name, value)
        if changed:
            stats.updated += 1
        else:
            stats.unchanged += 1
    db.session.flush()
