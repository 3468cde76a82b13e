"""CPU of the exact optimisation per machine: the shortcut (LP relaxation, then its neighbourhood) vs the full MILP.

Run from the project root: ``.venv/bin/python bench/milp_bench.py [--devices 30] [--seed 7] [--days 90]``.
Machines come from the project's generator (operator planograms, 6x10 cabinets, 80 candidate products),
fitted cold with leave-one-out fleet priors; each optimisation problem is built as a plain request with
the default value parameters, then solved both ways.  Prints per-machine CPU (process time, one thread),
which path settled it, p50/p95/max and whether both ways reached the same objective.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_limits

from bench.engine_bench import fleet_rates
from services.planogram.fit import fit_model
from services.planogram.milp import REL_GAP, solve_milp
from services.planogram.problem import build_problem
from services.planogram.synthetic import generate_fleet
from services.planogram.types import Constraints
from services.planogram.value import ValueParams


def main() -> None:
    """Print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--devices", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--days", type=int, default=90)
    args = ap.parse_args()
    threadpool_limits(limits=1, user_api="blas")  # as the app runs it (services/processes.py)
    fleet = generate_fleet(args.devices, np.random.default_rng(args.seed), days=args.days, current="operator")
    products = {p.sku: p for p in fleet.products}
    rates = fleet_rates(fleet)
    short_s, full_s, methods, mismatches = [], [], Counter[str](), 0
    for d in fleet.devices:
        model = fit_model(d.cabinet, products, d.sales, d.planogram, priors=rates.priors(d.cabinet.device_id))
        pb = build_problem(model, d.cabinet, products, d.planogram, Constraints(), ValueParams())
        t0 = time.process_time()
        short = solve_milp(pb)
        t1 = time.process_time()
        full = solve_milp(pb, shortcut=False)
        t2 = time.process_time()
        short_s.append(t1 - t0)
        full_s.append(t2 - t1)
        methods[short.method] += 1
        same = abs(short.objective - full.objective) <= REL_GAP * max(abs(full.objective), 1.0)
        mismatches += not same
        print(
            f"{d.cabinet.device_id}: {short.method:13s} {t1 - t0:6.3f} s   full MILP {t2 - t1:6.3f} s   "
            f"objective {short.objective:.4f} vs {full.objective:.4f}{'' if same else '  DIFFERENT'}",
            flush=True,
        )
    for label, xs in (("shortcut", short_s), ("full MILP", full_s)):
        a = np.array(xs)
        print(
            f"{label:9s}: CPU s per machine p50 {np.percentile(a, 50):.3f}  p95 {np.percentile(a, 95):.3f}  "
            f"max {a.max():.3f}  mean {a.mean():.3f}"
        )
    print(f"paths: {dict(methods)}; objectives differing by more than {REL_GAP:g}: {mismatches}")


if __name__ == "__main__":
    main()
