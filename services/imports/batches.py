"""Where validated sales batches go: COPY on PostgreSQL (in a helper thread), INSERT ... ON CONFLICT elsewhere.

Both write inside the import's one transaction, skip vends already stored (the unique `dedup_key`), and
report per batch how many rows were new, so a rejected import rolls everything back and a re-import of
the same file inserts nothing.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from psycopg import pq
from psycopg.errors import UniqueViolation
from sqlalchemy.dialects import sqlite

from extensions import db
from models import Sale
from services.db_session import WROTE_KEY

COLUMNS = ("device_pk", "ts", "slot_code", "product_id", "price", "transaction_id", "dedup_key")
# Dropped at commit or rollback; created once per transaction, emptied before each batch.
CREATE_STAGING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS sales_import ON COMMIT DROP AS SELECT device_pk, ts, "
    "slot_code, product_id, price, transaction_id, dedup_key FROM sales WITH NO DATA"
)
MOVE_NEW_ROWS = (
    "INSERT INTO sales (device_pk, ts, slot_code, product_id, price, transaction_id, dedup_key) "
    "SELECT device_pk, ts, slot_code, product_id, price, transaction_id, dedup_key FROM sales_import "
    "ON CONFLICT (dedup_key) DO NOTHING"
)
COPY_INTO = {table: f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN" for table in ("sales", "sales_import")}
Rows = list[dict[str, Any]]


@dataclass
class Written:
    """One batch's outcome: rows sent, rows new to the table, and the devices they were for."""

    rows: int
    inserted: int
    devices: set[str] = field(default_factory=set)


class BatchSink(Protocol):
    """Accepts batches; `close` waits for every write and returns their outcomes in order."""

    def write(self, batch: Rows, devices: set[str]) -> None: ...

    def close(self) -> list[Written]: ...


class InsertSink:
    """Executemany INSERT ... ON CONFLICT (dedup_key) DO NOTHING on the session (SQLite)."""

    def __init__(self) -> None:
        self._stmt = sqlite.insert(Sale.__table__).on_conflict_do_nothing(index_elements=["dedup_key"])
        self._done: list[Written] = []

    def write(self, batch: Rows, devices: set[str]) -> None:
        result = db.session.execute(self._stmt, batch)
        self._done.append(Written(len(batch), max(int(getattr(result, "rowcount", 0) or 0), 0), devices))

    def close(self) -> list[Written]:
        return self._done


class CopySink:
    """COPY on the session's own psycopg connection, from a helper thread (PostgreSQL).

    The caller parses the next batch while the server checks and indexes this one (the two halves of the
    work take about as long each, and run on two cores). Only the helper touches the connection until
    `close` returns; the caller must not use the session in between."""

    def __init__(self) -> None:
        self._driver: Any = db.session.connection().connection.driver_connection
        db.session.info[WROTE_KEY] = True  # raw statements bypass the session's write tracking
        self._queue: queue.Queue[tuple[Rows, set[str]] | None] = queue.Queue(maxsize=1)
        self._done: list[Written] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sales-copy", daemon=True)
        self._thread.start()

    def write(self, batch: Rows, devices: set[str]) -> None:
        if self._error is None:
            self._queue.put((batch, devices))

    def close(self) -> list[Written]:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._done

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain: the import fails anyway
            try:
                self._done.append(Written(len(item[0]), copy_batch(self._driver, item[0]), item[1]))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread by close()
                self._error = exc


def copy_batch(driver: Any, batch: Rows) -> int:
    """COPY ``batch`` in through ``driver`` (a psycopg connection inside a transaction); return the rows inserted.

    A batch none of whose keys is stored yet (a first import) is copied straight into `sales`; otherwise, or
    when a concurrent import stored one of them meanwhile, through a temporary table and ON CONFLICT."""
    with driver.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM sales WHERE dedup_key = ANY(%s))", [[row["dedup_key"] for row in batch]]
        )
        if not cursor.fetchone()[0]:
            # The import's transaction is open (the statement above ran in it), so this is a savepoint.
            assert driver.info.transaction_status == pq.TransactionStatus.INTRANS
            try:
                with driver.transaction():
                    _copy_rows(cursor, "sales", batch)
                return len(batch)
            except UniqueViolation:
                pass  # a concurrent import stored some of these: the savepoint undid this batch only
        cursor.execute(CREATE_STAGING)
        cursor.execute("TRUNCATE sales_import")
        _copy_rows(cursor, "sales_import", batch)
        cursor.execute(MOVE_NEW_ROWS)
        return max(int(cursor.rowcount), 0)


def _copy_rows(cursor: Any, table: str, batch: Rows) -> None:
    """COPY ``batch`` into ``table`` ("sales" or "sales_import")."""
    with cursor.copy(COPY_INTO[table]) as copy:
        for row in batch:
            copy.write_row([row[name] for name in COLUMNS])


def open_sink() -> BatchSink:
    """The sink for the session's database: COPY on PostgreSQL, executemany INSERT elsewhere."""
    if db.session.get_bind().dialect.name == "postgresql":
        return CopySink()
    return InsertSink()
