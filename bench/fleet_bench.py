"""Nightly fleet run at scale: generate a fleet, import it, re-optimise it with 1, 2 and 4 RQ workers.

Run from the project root (needs a Redis; `scripts/with-redis.sh` starts a throwaway one):

    scripts/with-redis.sh bash -c '.venv/bin/python bench/fleet_bench.py --redis "$TEST_REDIS_URL" \
        [--devices 2000] [--batch-devices 200] [--workers 1,2,4] [--database-url postgresql+psycopg://...]'

The fleet is ``--devices`` machines (6x10 slots, 80 products, a planogram per machine, ~25 vends a day for
90 days that follow the planogram, 5 venue types). It is imported through the product's importer, then the
nightly batch (the job ``POST /api/planogram/batch-optimize`` and ``flask batch-optimize`` start) runs over the
first ``--batch-devices`` machines once per worker count, on that many ``flask rq-worker`` processes started
and idle before the clock starts. Per-device CPU is the CPU time of the workers and their work horses (from
/proc, counted from when they are idle) divided by the devices optimised, so it holds on a machine shared with
other work; the 20,000-machine figure is extrapolated from it, not measured.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from bench.batch_bench import _rq_workers
from bench.import_bench import timed_import
from config import TestConfig
from extensions import db

ROWS, COLS, PRODUCTS, DAYS, VENDS_PER_DAY = 6, 10, 80, 90, 25
VENUES = ("office", "school", "gym", "hospital", "station")
END = datetime(2026, 11, 30, tzinfo=UTC)


def write_fleet(folder: Path, devices: int, seed: int = 5) -> int:
    """Products, devices, planograms and vends that follow each machine's planogram; returns the vend count."""
    rng = random.Random(seed)
    popularity = [1.0 / (1 + i) ** 0.8 for i in range(PRODUCTS)]
    with (folder / "products.csv").open("w") as f:
        f.write("sku,name,category,price,unit_cost,width_mm,height_mm,depth_mm,temperature\n")
        for i in range(PRODUCTS):
            f.write(f"P{i:03d},Product {i},cat{i % 8},{1.5 + i % 5:.2f},0.60,60,150,60,ambient\n")
    with (folder / "devices.csv").open("w") as f:
        f.write("device_id,name,venue_type,cabinet_type,rows,columns\n")
        for d in range(devices):
            f.write(f"D{d:05d},Machine {d},{VENUES[d % len(VENUES)]},ambient,{ROWS},{COLS}\n")
    slots = [f"{r}{c}" for r in "ABCDEF"[:ROWS] for c in range(1, COLS + 1)]
    vends = 0
    start = END - timedelta(days=DAYS)
    with (folder / "planograms.csv").open("w") as plan, (folder / "sales.csv").open("w") as sales:
        plan.write("device_id,slot,sku\n")
        sales.write("device_id,timestamp,slot,sku,price,transaction_id\n")
        for d in range(devices):
            carried = rng.choices(range(PRODUCTS), weights=popularity, k=len(slots))
            for slot, sku in zip(slots, carried, strict=True):
                plan.write(f"D{d:05d},{slot},P{sku:03d}\n")
            weights = [
                popularity[sku] * (1.6 if slot[0] in "BC" else 1.0) for slot, sku in zip(slots, carried, strict=True)
            ]
            for day in range(DAYS):
                for _ in range(rng.randint(VENDS_PER_DAY - 8, VENDS_PER_DAY + 8)):
                    i = rng.choices(range(len(slots)), weights=weights)[0]
                    ts = start + timedelta(days=day, seconds=rng.randrange(7 * 3600, 22 * 3600))
                    sales.write(
                        f"D{d:05d},{ts.isoformat(timespec='seconds')},{slots[i]},P{carried[i]:03d},"
                        f"{1.5 + carried[i] % 5:.2f},T{d}-{vends}\n"
                    )
                    vends += 1
    return vends


def run_batch(app: Any, env: dict[str, str], redis_url: str, ids: list[str], workers: int) -> dict[str, Any]:
    """One nightly run over ``ids`` on ``workers`` idle RQ workers: wall time, CPU per device, results."""
    from services.merchandising import batch as planogram_jobs

    with app.app_context():
        procs = _rq_workers(env, redis_url, workers)
        cpu_before = sum(_process_cpu(proc.pid) for proc in procs)
        started = time.perf_counter()
        job_id = planogram_jobs.start_batch(ids, "margin", user_id=0, parts=workers)
        db.session.remove()
        while (status := planogram_jobs.job_status(job_id, 0, True))["status"] in ("queued", "running"):
            time.sleep(0.25)
        wall = time.perf_counter() - started
        time.sleep(0.5)  # the last work horse is reaped by its worker (its CPU joins the worker's)
        cpu = sum(_process_cpu(proc.pid) for proc in procs) - cpu_before
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
    results = status["results"]
    return {
        "workers": workers,
        "wall": wall,
        "cpu_per_device": cpu / max(len(results), 1),
        "ok": sum(1 for r in results if r["ok"]),
        "status": status["status"],
        "uplift": statistics.median(r["result"]["uplift_pct"] or 0.0 for r in results if r["ok"]),
    }


def _process_cpu(pid: int) -> float:
    """CPU seconds of a process and its reaped children (its work horses), from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--batch-devices", type=int, default=200, help="machines re-optimised per worker count")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--redis", required=True, help="Redis URL for the RQ workers")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        vends = write_fleet(folder, args.devices)
        print(f"generated {args.devices:,} machines, {vends:,} vends in {time.perf_counter() - t0:.0f} s")
        url = args.database_url or f"sqlite:///{folder / 'fleet.db'}"
        env = {"DATABASE_URL": url, "INSTANCE_PATH": tmp, "LOG_LEVEL": "WARNING", "MODEL_WARMUP": "0"}
        app = create_app(
            TestConfig(
                SQLALCHEMY_DATABASE_URI=url,
                INSTANCE_PATH=tmp,
                LOG_LEVEL="WARNING",
                REDIS_URL=args.redis,
                RATELIMIT_STORAGE_URI=args.redis,
            )
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        seconds, _ = timed_import(app, folder)
        print(f"import: {seconds:.1f} s ({vends / seconds:,.0f} vends/s)")
        ids = [f"D{d:05d}" for d in range(min(args.batch_devices, args.devices))]
        runs = [run_batch(app, env, args.redis, ids, int(w)) for w in args.workers.split(",")]
    _report(runs, len(ids), os.getloadavg()[0])


def _report(runs: list[dict[str, Any]], devices: int, load: float) -> None:
    print(f"nightly batch over {devices} machines (load average at the end {load:.1f}):")
    print("workers  wall s  machines/s  CPU-s/machine  speed-up  ok  median uplift")
    for r in runs:
        print(
            f"{r['workers']:7d}  {r['wall']:6.1f}  {devices / r['wall']:10.2f}  {r['cpu_per_device']:13.2f}  "
            f"{runs[0]['wall'] / r['wall']:8.2f}  {r['ok']:3d}  {r['uplift']:+.1f} %"
        )
    cpu = statistics.median(r["cpu_per_device"] for r in runs)
    per100 = 100 * cpu / 2
    print(
        f"per-machine CPU (median over runs) {cpu:.2f} s -> 100 machines on 2 cores >= {per100:.0f} s "
        f"(target 30 s); 20,000 machines on 8 worker cores >= {20_000 * cpu / 8 / 60:.0f} min (target 60 min)"
    )


if __name__ == "__main__":
    main()
