"""Vends per device, product and UTC day (`sales_daily`): recounted from `sales` for the days an import touched.

The fleet priors (services/merchandising/data.py) read this table instead of every vend. A recount (delete the
device's rows for those days, insert the grouped count of its vends) is exact whatever the import held:
duplicates the unique `dedup_key` skipped, vends that were already stored, a file imported twice. It runs in
the import's transaction, so a rejected import leaves the counts as they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date

from extensions import db
from models import Sale, SalesDaily

CHUNK = 500  # devices per statement (bound parameters stay well inside every backend's limit)


class utc_day(FunctionElement[date]):
    """The UTC calendar day of a timestamp column (SQLite stores UTC text, PostgreSQL timestamptz)."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day)
def _day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


class DayRanges:
    """The first and last UTC day seen per device primary key, while an import reads its vends."""

    def __init__(self) -> None:
        self.spans: dict[int, tuple[date, date]] = {}

    def add(self, device_pk: int, ts: datetime) -> None:
        day = ts.date()  # import timestamps are UTC (services/imports/fields.timestamp)
        span = self.spans.get(device_pk)
        if span is None:
            self.spans[device_pk] = (day, day)
        elif not span[0] <= day <= span[1]:
            self.spans[device_pk] = (min(span[0], day), max(span[1], day))


def recount(spans: Mapping[int, tuple[date, date]]) -> None:
    """Recount `sales_daily` for each device over its [first, last] day, in the session's transaction."""
    by_span: dict[tuple[date, date], list[int]] = {}
    for device_pk, span in spans.items():
        by_span.setdefault(span, []).append(device_pk)
    for (first, last), pks in sorted(by_span.items()):
        for chunk in _chunks(sorted(pks)):
            _recount(chunk, first, last)


def _recount(pks: list[int], first: date, last: date) -> None:
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    db.session.execute(
        delete(SalesDaily)
        .where(SalesDaily.device_pk.in_(pks), SalesDaily.day >= first, SalesDaily.day <= last)
        .execution_options(synchronize_session=False)
    )
    day = utc_day(Sale.ts)
    counts = (
        select(Sale.device_pk, Sale.product_id, day, func.count())
        .where(Sale.device_pk.in_(pks), Sale.ts >= start, Sale.ts < end)
        .group_by(Sale.device_pk, Sale.product_id, day)
    )
    db.session.execute(insert(SalesDaily).from_select(["device_pk", "product_id", "day", "units"], counts))


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]
