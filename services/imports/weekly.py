"""Vends per device, product and UTC week (`sales_weekly`): recounted from `sales` for the weeks an import touched.

The fleet priors (services/merchandising/data.py) read this table instead of every vend: a machine sells about
one unit of a product a day, so a week's row stands for about four vends (a daily table held 0.65 rows per
vend on the generated fleet). A recount (delete the devices' rows for those weeks, insert the grouped count of
their vends) is exact whatever the import held: duplicates the unique `dedup_key` skipped, vends already
stored, a file imported twice. It runs in the import's transaction, so a rejected import changes nothing.
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
from models import Sale, SalesWeekly

CHUNK = 500  # devices per statement (bound parameters stay well inside every backend's limit)


class utc_day(FunctionElement[date]):
    """The UTC calendar day of a timestamp column (SQLite stores UTC text, PostgreSQL timestamptz)."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


class utc_week(FunctionElement[date]):
    """The Monday of a timestamp column's UTC week."""

    type = Date()
    inherit_cache = True
    name = "utc_week"


@compiles(utc_day)
def _day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(utc_week)
def _week_sqlite(element: utc_week, compiler: Any, **kw: Any) -> str:
    # 'weekday 0' moves to the next Sunday (or stays on one); six days back is that week's Monday.
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(utc_week, "postgresql")
def _week_postgresql(element: utc_week, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_trunc('week', timezone('UTC', {compiler.process(element.clauses, **kw)})) AS DATE)"


def monday(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


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
    """Recount `sales_weekly` for each device over the weeks of its [first, last] day, in the session's
    transaction.

    Devices go CHUNK at a time over the chunk's widest span: recounting a week with nothing new is exact
    too, and two statements per chunk beat two per device (a fleet's first import has a span per device)."""
    pks = sorted(spans)
    for chunk in _chunks(pks):
        _recount(chunk, monday(min(spans[pk][0] for pk in chunk)), monday(max(spans[pk][1] for pk in chunk)))


def _recount(pks: list[int], first_week: date, last_week: date) -> None:
    start = datetime.combine(first_week, time(), UTC)
    end = datetime.combine(last_week + timedelta(days=7), time(), UTC)
    db.session.execute(
        delete(SalesWeekly)
        .where(SalesWeekly.device_pk.in_(pks), SalesWeekly.week >= first_week, SalesWeekly.week <= last_week)
        .execution_options(synchronize_session=False)
    )
    week = utc_week(Sale.ts)
    counts = (
        select(Sale.device_pk, Sale.product_id, week, func.count(), func.max(utc_day(Sale.ts)))
        .where(Sale.device_pk.in_(pks), Sale.ts >= start, Sale.ts < end)
        .group_by(Sale.device_pk, Sale.product_id, week)
    )
    columns = ["device_pk", "product_id", "week", "units", "last_day"]
    db.session.execute(insert(SalesWeekly).from_select(columns, counts))


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]
