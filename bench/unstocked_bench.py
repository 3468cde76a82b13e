"""Is the unstocked factor measured from products added to machines right?  Graded against a known truth.

    .venv/bin/python bench/unstocked_bench.py [seed]

Fleet: bench/truth_fleet.py (12 devices).  The true factor is the geometric mean, over every (device,
product the operator did not stock), of true local demand / (leave-one-out fleet prior x the device's level),
the level being the median of the same ratio over the products it stocks.  Trials: 3 products added per
device for 45 days (Poisson sales at their true rate on an average slot), either random ones or the 3 with
the best prior x margin (what an operator or the optimiser adds).  Prints the default, the truth and what
`FleetRates.from_rows` measures from each kind of trial.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.trust_bench import rates_of, stock_rows
from bench.truth_fleet import generate_true_fleet
from services.planogram.priors import UNSTOCKED_FACTOR, FleetRates, StockRow


def main() -> None:
    """Print the true, default and measured factors for one fleet."""
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    fleet = generate_true_fleet(12, seed)
    rates = rates_of(fleet)
    margin = {p.sku: p.margin for p in fleet.products}
    rng = np.random.default_rng(seed + 1)
    gaps: list[float] = []
    trials: dict[str, list[StockRow]] = {"random": [], "best prior": []}
    for d in fleet.devices:
        dev, prior = d.cabinet.device_id, rates.priors(d.cabinet.device_id).sku_rate
        stocked = set(d.planogram.mapping().values())
        level = float(np.median([math.log(d.base[k] / prior[k]) for k in stocked if k in prior]))
        unstocked = sorted(k for k in margin if k not in stocked and k in prior)
        gaps += [math.log(d.base[k] / prior[k]) - level for k in unstocked]
        picks = {
            "random": [str(k) for k in rng.choice(unstocked, 3, replace=False)],
            "best prior": sorted(unstocked, key=lambda k: -prior[k] * margin[k])[:3],
        }
        for kind, skus in picks.items():
            trials[kind] += [
                StockRow(dev, d.cabinet.venue_type, k, float(rng.poisson(d.base[k] * 45)), 45.0, added=True)
                for k in skus
            ]
    print(f"seed {seed}: default {UNSTOCKED_FACTOR:.2f}, true {math.exp(float(np.mean(gaps))):.3f}", end="")
    category = {p.sku: p.category for p in fleet.products}
    for kind, rows in trials.items():
        measured = FleetRates.from_rows(stock_rows(fleet) + rows, category)
        print(f"; {kind} trials: {measured.unstocked_factor:.3f} ({measured.unstocked_trials})", end="")
    print()


if __name__ == "__main__":
    main()
