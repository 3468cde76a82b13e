"""Connection discipline: a request gives its pooled DB connection back before a slow call.

A SQLAlchemy Session holds one pooled connection from its first query until commit/rollback. A request
that read a few rows and then waits 30 s for an AI provider (or streams for minutes) would keep that
connection idle the whole time; with more such requests than the pool holds, everyone else - including
the ledger's own short session - waits for a connection until `pool_timeout` and fails. So before a
provider call the pipeline calls `release_connection()`: a session that has only *read* ends its
transaction (its objects expire and reload on next access, on a fresh short checkout). A session that
has already written keeps its connection - rolling back would lose the write - and the call is logged,
because the services' rule is "call the AI before writing" (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from extensions import db

log = logging.getLogger(__name__)
WROTE_KEY = "planogram.wrote"


def install() -> None:
    """Track, per session, whether its transaction wrote anything (once per process)."""
    if event.contains(Session, "after_flush", _after_flush):
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _on_execute)
    event.listen(Session, "after_transaction_end", _after_transaction_end)


def _after_flush(session: Session, _context: Any) -> None:
    session.info[WROTE_KEY] = True


def _on_execute(state: ORMExecuteState) -> None:
    if not state.is_select:  # bulk UPDATE/DELETE/INSERT and text() statements count as writes
        state.session.info[WROTE_KEY] = True


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: its writes are committed or gone
        session.info.pop(WROTE_KEY, None)


def has_writes(session: Session) -> bool:
    """Whether the session holds changes that ending its transaction now would lose."""
    return bool(session.new or session.dirty or session.deleted or session.info.get(WROTE_KEY))


def release_connection() -> bool:
    """End the current app context's read-only transaction so its connection returns to the pool.

    Returns whether a connection was given back. No app context, no session yet, no open transaction, or
    pending writes: nothing to do (the last is logged, as it pins a connection across the slow call).
    """
    if not has_app_context() or not db.session.registry.has():
        return False
    session = db.session()
    if not session.in_transaction():
        return False
    if has_writes(session):
        log.warning("slow call made while the session holds uncommitted writes: its connection stays checked out")
        return False
    session.rollback()  # read-only: nothing is lost; loaded objects reload on their next attribute access
    return True
