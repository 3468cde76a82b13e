"""What must hold on every database backend (SQLite here, PostgreSQL under TEST_MODE=postgres).

Migrations run both ways; keys and counts hold 64 bits; sales imports in several batches stay all-or-nothing
and idempotent, or keep every valid row in valid-rows mode; on PostgreSQL, a COPY batch that meets a concurrent
import's rows falls back to ON CONFLICT.
"""

from __future__ import annotations

import io
import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import func, select, text

from extensions import db
from models import Device, Sale, SalesWeekly, User
from services.imports import sales_file
from tests.conftest import POSTGRES_MODE
from tests.csvdata import GOOD, write_folder
from tests.waiting import wait_for

BIG = 2**40  # past PostgreSQL's INTEGER (2**31 - 1), inside the API's 64 bits


def table_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) or 0 for t in db.metadata.sorted_tables}


def sales_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Sale)) or 0


def weekly_counts(app: Flask) -> dict[tuple[int, int, str], tuple[int, str]]:
    """sales_weekly as stored ((units, last day with a vend) per device, product and Monday), checked against
    the vends themselves (UTC days)."""
    with app.app_context():
        stored = {
            (d, p, week.isoformat()): (n, last.isoformat())
            for d, p, week, n, last in db.session.execute(select(SalesWeekly.__table__))
        }
        counted: dict[tuple[int, int, str], tuple[int, str]] = {}
        for device_pk, product_id, ts in db.session.execute(select(Sale.device_pk, Sale.product_id, Sale.ts)):
            day = ts.date()
            key = (device_pk, product_id, (day - timedelta(days=day.weekday())).isoformat())
            n, last = counted.get(key, (0, ""))
            counted[key] = (n + 1, max(last, day.isoformat()))
    assert stored == counted
    return stored


def units(counts: dict[tuple[int, int, str], tuple[int, str]]) -> int:
    return sum(n for n, _ in counts.values())


def test_migrations_downgrade_to_nothing_and_upgrade_back_to_the_models(app: Flask) -> None:
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        downgrade(revision="base")
        with db.engine.connect() as connection:
            assert set(db.inspect(connection).get_table_names()) <= {"alembic_version"}
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []


def test_ids_and_counts_past_32_bits_work(app: Flask, admin: dict[str, Any]) -> None:
    from services import auth

    with app.app_context():  # the next user id is past 2**32, as after years of sign-ups
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), :n)"), {"n": BIG})
        else:
            db.session.add(User(id=BIG, email="seed@example.com", password_hash="x", active=False))
        user = auth.create_user("late@example.com", "correct-horse-1", "admin")
        token = auth.issue_token(user, 1)
        db.session.commit()
        assert user.id > BIG
    headers = {"Authorization": f"Bearer {token}"}
    post = {"platform": "x", "text": "hello", "posted_at": "2026-11-01T10:00:00Z", "impressions": BIG}
    created = app.test_client().post("/api/content/posts", json=post, headers=headers)
    assert created.status_code == 201, created.json
    listed = app.test_client().get("/api/content/posts", headers=admin["headers"]).json
    assert [p["impressions"] for p in listed["items"]] == [BIG]


def test_a_rejected_import_undoes_batches_already_written(
    app: Flask, runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sales_file, "BATCH_ROWS", 2)  # five good rows: three batches before the bad row
    runner.invoke(args=["import-data", str(write_folder(tmp_path / "base", only=GOOD_CATALOG)), "--quiet"])
    bad = GOOD["sales.csv"] + "D1,2026-11-03T10:00:00Z,Z9,COLA,1.80,\n"
    result = runner.invoke(
        args=["import-data", str(write_folder(tmp_path / "bad", {"sales.csv": bad}, only=("sales.csv",)))]
    )
    assert result.exit_code == 1 and "sales.csv:7: column slot" in result.output
    assert sales_count(app) == 0 and weekly_counts(app) == {}


def test_batched_reimports_insert_only_the_new_vends(
    app: Flask, runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sales_file, "BATCH_ROWS", 2)
    runner.invoke(args=["import-data", str(write_folder(tmp_path / "base", only=GOOD_CATALOG)), "--quiet"])
    first = runner.invoke(args=["import-data", str(write_folder(tmp_path / "s1", only=("sales.csv",)))])
    assert "sales.csv: rows 5, inserted 5" in first.output
    before = weekly_counts(app)
    # the second vend is on Tuesday 3 November in UTC, the first on Wednesday 4 (the weeks are UTC weeks)
    more = GOOD["sales.csv"] + "D2,2026-11-04T09:00:00Z,B1,WATER,1.20,T9\nD1,2026-11-04T00:10:00+02:00,B1,COLA,1.80,\n"
    second = runner.invoke(
        args=["import-data", str(write_folder(tmp_path / "s2", {"sales.csv": more}, only=("sales.csv",)))]
    )
    assert second.exit_code == 0, second.output
    assert "sales.csv: rows 7, inserted 2" in second.output and "duplicates 5" in second.output
    assert sales_count(app) == 7
    after = weekly_counts(app)  # the duplicates counted once, the new vends added to their UTC week
    assert units(after) == 7 and units(before) == 5
    assert max(last for _, last in after.values()) == "2026-11-04"


def test_valid_rows_mode_writes_every_valid_batch_and_reports_the_rest(
    app: Flask, runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.imports import run_import
    from services.imports.report import VALID_ROWS

    monkeypatch.setattr(sales_file, "BATCH_ROWS", 2)  # the bad rows fall between batches already written
    runner.invoke(args=["import-data", str(write_folder(tmp_path / "base", only=GOOD_CATALOG)), "--quiet"])
    lines = GOOD["sales.csv"].splitlines(keepends=True)
    bad = "D1,2026-11-03T10:00:00Z,Z9,COLA,1.80,\n"
    mixed = "".join(lines[:3]) + bad + "".join(lines[3:]) + bad.replace("Z9", "A1").replace("1.80", "x")
    with app.app_context():
        report = run_import({"sales.csv": io.BytesIO(mixed.encode())}, mode=VALID_ROWS)
        db.session.commit()
        stats = report.as_dict()["files"]["sales.csv"]
    assert report.as_dict()["status"] == "partial" and stats["inserted"] == 5 and stats["rejected"] == 2
    assert {(e["line"], e["column"]) for e in report.errors} == {(4, "slot"), (8, "price")}
    assert sales_count(app) == 5 and units(weekly_counts(app)) == 5


def test_the_migration_fills_sales_weekly_from_the_vends_already_stored(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    from flask_migrate import downgrade, upgrade

    runner.invoke(args=["import-data", str(write_folder(tmp_path / "all")), "--quiet"])
    imported = weekly_counts(app)
    with app.app_context():
        downgrade(revision="0006_llmbatch")
        upgrade()
    assert weekly_counts(app) == imported and units(imported) == sales_count(app) > 0


GOOD_CATALOG = ("products.csv", "devices.csv", "slots.csv", "planograms.csv")


def waiting_on_a_lock(app: Flask) -> bool:
    """Whether a session of the app's database waits for a lock (a new transaction each time: PostgreSQL
    keeps one snapshot of pg_stat_activity per transaction)."""
    with db.engine.connect() as probe:
        return bool(
            probe.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        )


@pytest.mark.skipif(not POSTGRES_MODE, reason="COPY is PostgreSQL's (TEST_MODE=postgres)")
def test_copy_meeting_a_concurrent_imports_rows_counts_only_its_own(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    from services.imports import run_import

    app = make_app()
    write_folder(tmp_path / "all")
    with app.app_context():
        run_import({n: io.BytesIO(GOOD[n].encode()) for n in GOOD_CATALOG})
        db.session.commit()
    extra = "D2,2026-11-05T09:00:00Z,B1,WATER,1.20,T7\n"
    outcome: dict[str, Any] = {}

    def second_import() -> None:  # its COPY waits on the first import's uncommitted keys, then finds them taken
        with app.app_context():
            report = run_import({"sales.csv": io.BytesIO((GOOD["sales.csv"] + extra).encode())})
            db.session.commit()
            outcome.update(report.as_dict()["files"]["sales.csv"])

    with app.app_context():
        run_import({"sales.csv": io.BytesIO(GOOD["sales.csv"].encode())})  # not committed yet
        thread = threading.Thread(target=second_import)
        thread.start()
        try:
            wait_for(lambda: waiting_on_a_lock(app), "the second import waits for the first one's rows")
        finally:
            db.session.commit()
            thread.join(timeout=60)
    assert outcome["inserted"] == 1 and outcome["duplicates"] == 5
    assert sales_count(app) == 6


def test_copy_database_moves_a_sqlite_install_and_new_rows_follow_the_copied_ids(
    make_app: Callable[..., Flask], template_db: Path, tmp_path: Path
) -> None:
    from services import auth
    from services.demo import seed_demo
    from services.merchandising.store import current_assignment, save_version
    from tests.clock import DEMO_END

    source_path = tmp_path / "old-install.db"
    shutil.copy(template_db, source_path)
    old = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{source_path}")
    with old.app_context():
        seed_demo(seed=3, days=7, end=DEMO_END)
        auth.issue_token(auth.create_user("owner@example.com", "correct-horse-1", "admin"), 1)
        db.session.commit()
        before = table_counts()
    new = make_app()  # a freshly migrated database on this run's backend
    result = new.test_cli_runner().invoke(args=["copy-database", f"sqlite:///{source_path}"])
    assert result.exit_code == 0, result.output
    with new.app_context():
        after = table_counts()
        assert after == before and after["sales"] > 0 and after["posts"] > 0
        assert auth.verify_credentials("owner@example.com", "correct-horse-1") is not None
        device = db.session.scalar(select(Device).limit(1))
        assert device is not None
        save_version(device, current_assignment(device), author_id=None, source="manual")  # new version + items
        assert auth.create_user("second@example.com", "correct-horse-1", "viewer").id > 0
        db.session.commit()
    again = new.test_cli_runner().invoke(args=["copy-database", f"sqlite:///{source_path}"])
    assert again.exit_code != 0 and "already holds data" in again.output
    unmigrated = new.test_cli_runner().invoke(args=["copy-database", f"sqlite:///{tmp_path / 'nothing.db'}"])
    assert unmigrated.exit_code != 0 and "flask db upgrade" in unmigrated.output
