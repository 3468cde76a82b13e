"""Would a short position trial (rotate one column by a row) teach the engine the heat map?  Graded on a truth.

    .venv/bin/python bench/position_trial_bench.py [seed] [trial_days]

Fleet: bench/truth_fleet.py (12 devices, fixed operator planograms: positions not identified).  Per device the
cheapest feasible one-column rotation (each product one row down, the bottom one to the top; cost under the
fitted model) runs for trial_days (default 14) after the 90 days, then the operator's planogram returns.  The
engine is refitted with that history and compared with a refit on the same number of days without a trial:
uplift capture of the default request, heat-zone Spearman, predicted / true uplift, and the trial's true cost.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.stats import spearmanr

from bench.trust_bench import rates_of, truth_model
from bench.truth_fleet import TrueDevice, generate_true_fleet, simulate
from services.planogram.fit import fit_model
from services.planogram.model import DemandModel
from services.planogram.optimize import optimize
from services.planogram.rules import is_feasible_pair
from services.planogram.types import Constraints, Planogram, Priors, ProductSpec, SalesData
from services.planogram.value import ValueParams, evaluate

START = 20_000  # generate_true_fleet's first day
Catalog = dict[str, ProductSpec]  # truth_fleet takes plain dicts
SEPARABLE = ValueParams(category_bonus=0.0, affinity_bonus=0.0, uncertainty_discount=0.0, change_cost=0.0)


def rotation(d: TrueDevice, products: Catalog, col: int) -> Planogram | None:
    """The planogram with column `col` shifted down a row (bottom to top); None if a product would not fit."""
    by_row = sorted((s for s in d.cabinet.slots if s.col == col), key=lambda s: s.row)
    current = d.planogram.mapping()
    new = dict(current)
    for i, slot in enumerate(by_row):
        sku = current.get(by_row[i - 1].code)
        if sku is None:
            new.pop(slot.code, None)
            continue
        if not is_feasible_pair(slot, products[sku]):
            return None
        new[slot.code] = sku
    return Planogram.of(new)


def cheapest_trial(d: TrueDevice, products: Catalog, model: DemandModel) -> Planogram:
    """The feasible one-column rotation the fitted model says costs least."""
    today = evaluate(model, d.cabinet, products, d.planogram).margin_per_day
    plans = [p for c in sorted({s.col for s in d.cabinet.slots}) if (p := rotation(d, products, c)) is not None]
    return min(plans, key=lambda p: today - evaluate(model, d.cabinet, products, p).margin_per_day)


def figures(d: TrueDevice, products: Catalog, model: DemandModel, gain: float) -> tuple[float, float, float]:
    """Capture, heat-zone Spearman and predicted / true uplift of the default request."""
    res = optimize(model, d.cabinet, products, d.planogram, Constraints())
    true = d.value(res.planogram, products) - d.value(d.planogram, products)
    rho = float(spearmanr(model.pos_weight, [d.weight[s] for s in model.slot_codes])[0])
    return true / gain, rho, res.uplift_per_day / true if abs(true) > 1e-6 else float("nan")


def grade(d: TrueDevice, products: Catalog, priors: Priors, days: int, seed: int) -> list[float]:
    """Figures without and with the trial, and the trial's true cost in % of today's margin."""
    cab, plan = d.cabinet, d.planogram
    trial = cheapest_trial(d, products, fit_model(cab, products, d.sales, plan, priors=priors))
    start = int(d.sales.day(0).max()) + 1  # epoch day after the last vend
    joined = {}
    for name, p in (("none", plan), ("trial", trial)):
        extra = simulate(cab, p, d.base, d.weight, products, days, start, np.random.default_rng(seed))
        joined[name] = SalesData.from_rows(cab.device_id, d.sales.rows() + extra.rows(), cab.slot_codes())
    history = [(START, plan), (start, trial), (start + days, plan)]
    without = fit_model(cab, products, joined["none"], plan, priors=priors)
    with_trial = fit_model(cab, products, joined["trial"], plan, priors=priors, history=history)
    best = optimize(truth_model(without, d), cab, products, plan, Constraints(), SEPARABLE).planogram
    gain = max(d.value(best, products) - d.value(plan, products), 1e-9)
    cost = 100 * (d.value(plan, products) - d.value(trial, products)) / d.value(plan, products)
    return [*figures(d, products, without, gain), *figures(d, products, with_trial, gain), cost]


def main() -> None:
    """Grade one fleet."""
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 14
    fleet = generate_true_fleet(12, seed)
    products, rates = {p.sku: p for p in fleet.products}, rates_of(fleet)
    rows = np.array(
        [
            grade(d, products, rates.priors(d.cabinet.device_id), days, 100 * seed + i)
            for i, d in enumerate(fleet.devices)
        ],
    )
    capture, rho, ratio, cost = (rows[:, 0], rows[:, 3]), (rows[:, 1], rows[:, 4]), (rows[:, 2], rows[:, 5]), rows[:, 6]
    print(
        f"seed {seed}, {days}-day trial: capture {capture[0].mean():.2f} -> {capture[1].mean():.2f}; "
        f"heat-zone Spearman {rho[0].mean():.2f} -> {rho[1].mean():.2f}; predicted/true uplift median "
        f"{np.nanmedian(ratio[0]):.2f} -> {np.nanmedian(ratio[1]):.2f}; trial's true cost mean {cost.mean():+.1f} % "
        f"of today's margin (min {cost.min():+.1f}, max {cost.max():+.1f}) while it runs"
    )


if __name__ == "__main__":
    main()
