"""Copy a whole install from one database to another (a SQLite install moving to PostgreSQL).

Both databases must be at the same migration; the target must be empty (just migrated). Tables go over in
foreign-key order and rows in primary-key order (versions point at earlier versions), with their ids, in one
transaction; afterwards each serial sequence on PostgreSQL continues after the largest copied id, so new rows
never collide with copied ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, Table, create_engine, func, inspect, select, text

from extensions import db
from services.errors import Conflict, ValidationFailed

BATCH_ROWS = 5_000
Progress = Callable[[str, int], None]


@dataclass
class CopyReport:
    """Rows copied per table."""

    revision: str
    rows: dict[str, int] = field(default_factory=dict)


def _revision(connection: Connection) -> str:
    """The database's migration ("" when never migrated)."""
    if not inspect(connection).has_table("alembic_version"):
        return ""
    return str(connection.scalar(text("SELECT version_num FROM alembic_version")) or "")


def copy_database(source_url: str, target: Engine, progress: Progress | None = None) -> CopyReport:
    """Copy every table of ``source_url`` into ``target`` (migrated, empty); all or nothing."""
    source = create_engine(source_url)
    try:
        with source.connect() as reader, target.begin() as writer:
            report = CopyReport(_check(reader, writer))
            for table in db.metadata.sorted_tables:
                report.rows[table.name] = _copy_table(reader, writer, table, progress)
            if writer.dialect.name == "postgresql":
                _restart_sequences(writer)
        return report
    finally:
        source.dispose()


def _check(reader: Connection, writer: Connection) -> str:
    """Same migration on both sides and an empty target; return the revision."""
    have, want = _revision(reader), _revision(writer)
    if not want or have != want:
        raise ValidationFailed(
            f"The source is at migration {have or 'none'} and the target at {want or 'none'}: run "
            "`flask db upgrade` on both (the same code version) first",
            details={"source": have, "target": want},
        )
    filled = [t.name for t in db.metadata.sorted_tables if writer.scalar(select(func.count()).select_from(t))]
    if filled:
        raise Conflict(
            "The target database already holds data: copy into a freshly migrated, empty database",
            code="target_not_empty",
            details={"tables": filled},
        )
    return want


def _copy_table(reader: Connection, writer: Connection, table: Table, progress: Progress | None) -> int:
    """Stream one table's rows across in primary-key order; return how many."""
    copied = 0
    rows = reader.execution_options(stream_results=True).execute(select(table).order_by(*table.primary_key))
    for chunk in rows.mappings().partitions(BATCH_ROWS):
        writer.execute(table.insert(), [dict(row) for row in chunk])
        copied += len(chunk)
        if progress is not None:
            progress(table.name, len(chunk))
    return copied


def _restart_sequences(writer: Connection) -> None:
    """Point every serial sequence past the largest copied id (inserting explicit ids does not advance them)."""
    for table in db.metadata.sorted_tables:
        for column in table.primary_key:
            sequence = writer.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name})
            if sequence:
                top = writer.scalar(select(func.max(column)))
                writer.execute(
                    text("SELECT setval(:s, :v, :called)"), {"s": sequence, "v": top or 1, "called": top is not None}
                )
