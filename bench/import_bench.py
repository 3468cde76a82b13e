"""Import benchmark: generate a 1,000,000-row sales.csv and time `run_import` on a fresh database.

Run from the project root: ``.venv/bin/python bench/import_bench.py [--rows N]`` (SQLite), or on a
throwaway PostgreSQL cluster (sales rows go in with COPY there):
``PG_DURABLE=1 scripts/with-postgres.sh .venv/bin/python bench/import_bench.py --postgres``.
Prints rows/s for the first import and for a full re-import (every row a duplicate).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from config import TestConfig
from extensions import db
from services.imports import run_import

DEVICES = 40
ROWS, COLS = 6, 10
PRODUCTS = 80


def write_files(folder: Path, rows: int, seed: int = 1, devices: int = DEVICES) -> None:
    """Write products, devices and a sales file of ``rows`` vends."""
    rng = random.Random(seed)
    with (folder / "products.csv").open("w") as f:
        f.write("sku,name,category,price,unit_cost,width_mm,height_mm,depth_mm,temperature\n")
        for i in range(PRODUCTS):
            f.write(f"P{i:03d},Product {i},cat{i % 8},{1 + i % 5 + 0.5:.2f},0.60,60,150,60,ambient\n")
    with (folder / "devices.csv").open("w") as f:
        f.write("device_id,name,venue_type,cabinet_type,rows,columns\n")
        for d in range(devices):
            f.write(f"D{d:03d},Machine {d},office,ambient,{ROWS},{COLS}\n")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = 365 * 86400 / rows
    with (folder / "sales.csv").open("w") as f:
        f.write("device_id,timestamp,slot,sku,price,transaction_id\n")
        for n in range(rows):
            ts = (start + timedelta(seconds=n * step)).isoformat(timespec="seconds")
            slot = f"{chr(65 + rng.randrange(ROWS))}{rng.randrange(COLS) + 1}"
            sku = rng.randrange(PRODUCTS)
            f.write(f"D{rng.randrange(devices):03d},{ts},{slot},P{sku:03d},{1 + sku % 5 + 0.5:.2f},T{n}\n")


def timed_import(app: Flask, folder: Path) -> tuple[float, dict[str, Any]]:
    """Run one import of every file in ``folder``; return seconds and the report."""
    with app.app_context():
        streams = {p.name: p.open("rb") for p in folder.glob("*.csv")}
        started = time.perf_counter()
        report = run_import(streams)
        db.session.commit()
        elapsed = time.perf_counter() - started
        for s in streams.values():
            s.close()
    return elapsed, report.as_dict()


def database_url(folder: Path, postgres: bool) -> str:
    """A SQLite file in ``folder``, or the empty database of scripts/with-postgres.sh (TEST_DATABASE_URL)."""
    if not postgres:
        return f"sqlite:///{folder / 'bench.db'}"
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("--postgres: run through scripts/with-postgres.sh, which sets TEST_DATABASE_URL")
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true", help="import into TEST_DATABASE_URL (PostgreSQL)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        write_files(folder, args.rows)
        size_mb = (folder / "sales.csv").stat().st_size / 1e6
        print(f"generated {args.rows:,} sales rows ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        app = create_app(
            TestConfig(
                SQLALCHEMY_DATABASE_URI=database_url(folder, args.postgres),
                INSTANCE_PATH=str(folder),
                LOG_LEVEL="WARNING",
            )
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            print(f"database: {db.engine.dialect.name}")
        first, report = timed_import(app, folder)
        sales = report["files"]["sales.csv"]
        print(f"first import:  {first:6.1f} s  {args.rows / first:10,.0f} rows/s  inserted {sales['inserted']:,}")
        again, report = timed_import(app, folder)
        sales = report["files"]["sales.csv"]
        print(
            f"re-import:     {again:6.1f} s  {args.rows / again:10,.0f} rows/s  duplicates {sales['duplicates']:,}"
            f"  inserted {sales['inserted']:,}"
        )
        limit = 30 if args.postgres else 60
        target = "PASS" if first * 1_000_000 / args.rows <= limit else "FAIL"
        print(f"target: 1,000,000 rows <= {limit} s -> {target} ({first:.1f} s for {args.rows:,} rows)")


if __name__ == "__main__":
    main()
