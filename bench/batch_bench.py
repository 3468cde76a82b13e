"""Fleet batch optimisation through the job path: N devices (6x10, 80 products), embedded thread workers.

Run from the project root: ``.venv/bin/python bench/batch_bench.py [--devices 100] [--parts 2]``.
Imports a generated fleet (90 days of vends) into a fresh SQLite DB, starts the same job that
``POST /api/planogram/batch-optimize`` starts, waits for it and prints devices/second.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from bench.import_bench import timed_import, write_files
from config import TestConfig
from extensions import db


def _planograms(folder: Path, devices: int) -> None:
    rng = random.Random(3)
    with (folder / "planograms.csv").open("w") as f:
        f.write("device_id,slot,sku\n")
        for d in range(devices):
            for r in "ABCDEF":
                for c in range(1, 11):
                    f.write(f"D{d:03d},{r}{c},P{rng.randrange(80):03d}\n")


def _rq_workers(env: dict[str, str], redis_url: str, count: int) -> list[subprocess.Popen[bytes]]:
    """`flask rq-worker` processes on the bench database, already idle and listening (as in production)."""
    import redis
    from rq import Worker

    flask = str(Path(sys.executable).with_name("flask"))
    full = {**os.environ, **env, "REDIS_URL": redis_url, "FLASK_APP": "app:create_app"}
    workers = [
        subprocess.Popen(
            [flask, "rq-worker"],
            env=full,
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 60
    while Worker.count(connection=client) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--parts", type=int, default=2)
    parser.add_argument("--redis", help="run the job on `flask rq-worker` processes (one per part) on this Redis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_files(folder, rows=args.devices * 25 * 90, devices=args.devices)
        _planograms(folder, args.devices)
        env = {"DATABASE_URL": f"sqlite:///{folder / 'b.db'}", "INSTANCE_PATH": tmp, "LOG_LEVEL": "WARNING"}
        extra = {"REDIS_URL": args.redis, "RATELIMIT_STORAGE_URI": args.redis} if args.redis else {}
        app = create_app(
            TestConfig(
                SQLALCHEMY_DATABASE_URI=env["DATABASE_URL"],
                INSTANCE_PATH=tmp,
                LOG_LEVEL="WARNING",
                JOB_WORKERS=args.parts,
                **extra,
            )
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        seconds, _ = timed_import(app, folder)
        print(f"imported {args.devices} devices, {args.devices * 25 * 90:,} vends in {seconds:.1f} s")
        with app.app_context():
            from services.merchandising import batch as planogram_jobs

            ids = [f"D{d:03d}" for d in range(args.devices)]
            workers = _rq_workers(env, args.redis, args.parts) if args.redis else []
            started = time.perf_counter()
            job_id = planogram_jobs.start_batch(ids, "margin", user_id=0, parts=args.parts)
            db.session.remove()
            while True:
                status = planogram_jobs.job_status(job_id, 0, True)
                if status["status"] != "running" and status["status"] != "queued":
                    break
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            for worker in workers:
                worker.terminate()
                worker.wait(30)
        ok = sum(1 for r in status["results"] if r["ok"])
        mode = f"{args.parts} rq-worker processes" if args.redis else f"{args.parts} in-process worker threads"
        print(
            f"batch: {args.devices} devices in {elapsed:.1f} s = {args.devices / elapsed:.2f} devices/s "
            f"({ok} ok, {mode}, status {status['status']})"
        )
        target = "PASS" if elapsed <= 30 and args.devices >= 100 else "see figures"
        print(f"target: 100 devices <= 30 s on 2 cores -> {target}")


if __name__ == "__main__":
    main()
