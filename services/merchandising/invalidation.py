"""Forget cached AI answers about devices whose planogram or sales changed, once the change commits."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from extensions import db

log = logging.getLogger(__name__)
PENDING_KEY = "planogram.cache_tags"


def device_tag(device_id: str) -> str:
    """The cache tag every AI answer about one device carries."""
    return f"device:{device_id}"


def forget_devices(device_ids: Iterable[str]) -> None:
    """Invalidate the devices' cached answers after the current transaction commits (never on rollback)."""
    tags = {device_tag(d) for d in device_ids}
    if not tags:
        return
    _listen_once()
    db.session.info.setdefault(PENDING_KEY, set()).update(tags)


def _listen_once() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    tags: set[str] | None = session.info.pop(PENDING_KEY, None)
    if not tags or not has_app_context():
        return
    from services.ai import EXTENSION_KEY

    pipeline = current_app.extensions.get(EXTENSION_KEY)
    if pipeline is None:
        return
    for tag in sorted(tags):
        try:
            removed = pipeline.cache.clear(tag=tag)
        except Exception:  # a cache outage must not fail the save that already committed
            log.exception("cache invalidation failed for %s", tag)
        else:
            if removed:
                log.info("cache invalidated", extra={"tag": tag, "entries": removed})


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
