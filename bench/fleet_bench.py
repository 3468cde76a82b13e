"""Nightly fleet batch at scale: N machines x D days from the project's generator, imported, then optimised by
1, 2, 4 ... `flask rq-worker` processes; per-device CPU, wall time and scaling, extrapolated to 20,000 machines.

Run from the project root (throwaway Redis and PostgreSQL, as in production):
``scripts/with-redis.sh scripts/with-postgres.sh .venv/bin/python bench/fleet_bench.py --devices 2000``
(without ``--sqlite`` the database is TEST_DATABASE_URL; with it a SQLite file). Data come from
``services.planogram.synthetic.generate_fleet`` (operator planograms, 6x10 cabinets, 80 products, the vends
ending yesterday). Each worker count runs on fresh worker processes with no fitted model cached anywhere
(MODEL_WARMUP off, Redis model keys deleted), so every device pays load + fleet priors + fit + optimise.
CPU is the workers' own CPU plus their work horses' (``/proc/<pid>/stat`` utime+stime+cutime+cstime);
the database server's and this script's are not counted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from config import TestConfig
from extensions import db
from services.imports import run_import
from services.planogram.synthetic import Fleet, generate_fleet

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
TARGET_DEVICES, TARGET_CORES, TARGET_S = 20_000, 8, 3600


@dataclass
class Run:
    """One batch: worker processes, wall seconds, worker CPU seconds, devices optimised."""

    workers: int
    wall_s: float
    cpu_s: float
    ok: int


def write_fleet(fleet: Fleet, folder: Path) -> int:
    """The fleet as the five import CSVs; returns the number of vends."""
    with (folder / "products.csv").open("w") as f:
        f.write("sku,name,category,price,unit_cost,width_mm,height_mm,depth_mm,temperature\n")
        for p in fleet.products:
            f.write(
                f"{p.sku},{p.name},{p.category},{p.price:.2f},{p.unit_cost:.2f},{p.width_mm:g},"
                f"{p.height_mm:g},{p.depth_mm:g},{p.temperature}\n"
            )
    with (
        (folder / "devices.csv").open("w") as dev,
        (folder / "slots.csv").open("w") as slots,
        (folder / "planograms.csv").open("w") as plans,
    ):
        dev.write("device_id,name,venue_type,cabinet_type,rows,columns,service_interval_days\n")
        slots.write("device_id,slot,width_mm,height_mm,depth_mm,capacity,zone\n")
        plans.write("device_id,slot,sku\n")
        for d in fleet.devices:
            cab = d.cabinet
            dev.write(
                f"{cab.device_id},Machine {cab.device_id},{cab.venue_type},{cab.cabinet_type},{cab.rows},"
                f"{cab.cols},{cab.service_interval_days:g}\n"
            )
            for s in cab.slots:
                slots.write(
                    f"{cab.device_id},{s.code},{s.width_mm:g},{s.height_mm:g},{s.depth_mm:g},{s.capacity},{s.zone}\n"
                )
            for code, sku in d.planogram.assignments:
                plans.write(f"{cab.device_id},{code},{sku}\n")
    return _write_sales(fleet, folder / "sales.csv")


def _write_sales(fleet: Fleet, path: Path) -> int:
    vends = 0
    with path.open("w") as f:
        f.write("device_id,timestamp,slot,sku,price,transaction_id\n")
        for d in fleet.devices:
            s = d.sales
            for ts, slot, sku, price, txn in zip(
                s.ts.tolist(), s.slot.tolist(), s.sku.tolist(), s.price.tolist(), s.txn.tolist(), strict=True
            ):
                when = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                tid = f"{s.device_id}-{txn}" if txn >= 0 else ""
                f.write(f"{s.device_id},{when},{s.slot_codes[slot]},{s.skus[sku]},{price:.2f},{tid}\n")
            vends += len(s.ts)
    return vends


def _cpu_s(pid: int) -> float:
    """utime + stime + cutime + cstime of a process (its reaped children included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS


def _start_workers(env: dict[str, str], count: int) -> list[subprocess.Popen[bytes]]:
    """`flask rq-worker` processes, idle and listening before the batch starts (as at night in production)."""
    import redis
    from rq import Worker

    flask = str(Path(sys.executable).with_name("flask"))
    full = {**os.environ, **env, "FLASK_APP": "app:create_app"}
    workers = [
        subprocess.Popen([flask, "rq-worker"], env=full, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    client = redis.Redis.from_url(env["REDIS_URL"])
    deadline = time.monotonic() + 120
    while Worker.count(connection=client) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return workers


def run_batch(app: Any, env: dict[str, str], ids: list[str], workers: int) -> Run:
    """One nightly batch over ``ids`` split into ``workers`` jobs, on as many fresh worker processes."""
    from services.merchandising import batch as planogram_jobs
    from services.runtime import backends

    with app.app_context():
        client = backends().redis
        for key in client.scan_iter("pgw:model:*"):  # no fitted model survives from an earlier run
            client.delete(key)
        procs = _start_workers(env, workers)
        idle = sum(_cpu_s(p.pid) for p in procs)
        started = time.perf_counter()
        job_id = planogram_jobs.start_batch(ids, "margin", user_id=0, parts=workers)
        db.session.remove()
        while (status := planogram_jobs.job_status(job_id, 0, True))["status"] in {"queued", "running"}:
            time.sleep(0.5)
        wall = time.perf_counter() - started
        time.sleep(1.0)  # let each worker reap its last work horse (its CPU moves into cutime)
        cpu = sum(_cpu_s(p.pid) for p in procs) - idle
        for p in procs:
            p.terminate()
            p.wait(30)
    return Run(workers, wall, cpu, sum(1 for r in status["results"] if r["ok"]))


def fleet_scan_s(app: Any) -> float:
    """Seconds to compute the fleet priors from scratch (one grouped scan of `sales_weekly`, the vends per device,
    product and week that each import keeps current; paid once per worker job)."""
    from services.merchandising import data as planogram_data

    with app.app_context():
        planogram_data.FLEET.clear()
        planogram_data.PRIORS.clear()
        started = time.perf_counter()
        planogram_data.fleet_priors(exclude_device="D0000", venue_type="office")
        return time.perf_counter() - started


def report(runs: list[Run], devices: int, vends: int, scan_s: float) -> None:
    """The table and the extrapolation to TARGET_DEVICES machines on TARGET_CORES worker cores."""
    base = runs[0]
    print(f"{'workers':>7} {'wall s':>8} {'dev/s':>7} {'CPU s/dev':>9} {'speed-up':>8} {'ok':>6}")
    for r in runs:
        print(
            f"{r.workers:>7} {r.wall_s:>8.1f} {devices / r.wall_s:>7.2f} {r.cpu_s / devices:>9.3f} "
            f"{base.wall_s / r.wall_s:>8.2f} {r.ok:>6}"
        )
    per_device = min(r.cpu_s for r in runs) / devices  # the least contended run: what one core does per device
    scale = TARGET_DEVICES / devices
    scan_at_target = scan_s * scale  # the fleet-priors scan grows with the fleet's vends
    hours = (per_device * TARGET_DEVICES + scan_at_target * TARGET_CORES) / TARGET_CORES / 3600
    print(f"fleet priors from sales_weekly: {scan_s:.2f} s for {vends:,} vends (each worker job pays it once)")
    print(
        f"extrapolated: {TARGET_DEVICES:,} devices x {per_device:.3f} CPU s / {TARGET_CORES} cores "
        f"+ a {scan_at_target:.0f} s priors scan per job = {hours:.2f} h "
        f"(target <= {TARGET_S / 3600:.0f} h: {'met' if hours * 3600 <= TARGET_S else 'NOT met'}); "
        f"assumes linear scaling per core, which the 1/2/4-worker runs above bound on this machine"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run, comma-separated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of TEST_DATABASE_URL")
    args = parser.parse_args()
    redis_url = os.environ.get("TEST_REDIS_URL") or sys.exit("run under scripts/with-redis.sh (TEST_REDIS_URL)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_url = f"sqlite:///{folder / 'fleet.db'}" if args.sqlite else os.environ.get("TEST_DATABASE_URL")
        if not db_url:
            sys.exit("run under scripts/with-postgres.sh (TEST_DATABASE_URL) or pass --sqlite")
        today = datetime.now(UTC).date()
        started = time.perf_counter()
        fleet = generate_fleet(
            args.devices,
            np.random.default_rng(args.seed),
            days=args.days,
            current="operator",
            start_day=today.toordinal() - datetime(1970, 1, 1).toordinal() - args.days,
        )
        vends = write_fleet(fleet, folder)
        print(
            f"generated {args.devices} machines x {args.days} days = {vends:,} vends "
            f"in {time.perf_counter() - started:.1f} s"
        )
        env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            "INSTANCE_PATH": tmp,
            "LOG_LEVEL": "WARNING",
            "MODEL_WARMUP": "0",
        }
        app = create_app(
            TestConfig(
                SQLALCHEMY_DATABASE_URI=db_url,
                INSTANCE_PATH=tmp,
                LOG_LEVEL="WARNING",
                REDIS_URL=redis_url,
                RATELIMIT_STORAGE_URI=redis_url,
            )
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            started = time.perf_counter()
            streams = {p.name: p.open("rb") for p in folder.glob("*.csv")}
            run_import(streams)
            db.session.commit()
            for stream in streams.values():
                stream.close()
        print(f"imported in {time.perf_counter() - started:.1f} s ({db_url.split(':')[0]})")
        scan_s = fleet_scan_s(app)
        ids = [d.cabinet.device_id for d in fleet.devices]
        runs = [run_batch(app, env, ids, int(w)) for w in args.workers.split(",")]
        report(runs, args.devices, vends, scan_s)


if __name__ == "__main__":
    main()
