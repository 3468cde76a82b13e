"""Backtest figures on a generated fleet with known truth: the numbers `flask backtest` would show, next to the truth.

Each device runs 60 days on an operator-designed planogram; on day 60 a new planogram goes live and runs 30 more
days: by default the operator re-plans with fresh (equally rough) knowledge of local demand (deterministic); with
`--proposal optimiser` the engine's proposal, fitted on those 60 days with leave-one-out fleet priors (it depends
on nothing but the data since the optimiser's rewrite).  The backtest then holds out the last 14 days
(under the new planogram) and checks the change on day 60 (14 days each side), as the app does.

    .venv/bin/python bench/backtest_bench.py [--devices 12] [--holdout-days 14] [--proposal operator|optimiser]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from services.planogram import (
    BacktestData,
    BacktestSettings,
    Cabinet,
    DeviceBacktest,
    Planogram,
    ProductSpec,
    SalesData,
    backtest_device,
    fit_model,
    optimize,
    summarize,
)
from services.planogram.priors import FleetRates, StockRow
from services.planogram.synthetic import (
    Truth,
    generate_device_sales,
    make_cabinet,
    make_catalog,
    make_truth,
    operator_planogram,
)
from services.planogram.value import slot_capacities

SEED = 2031
START = 19_000
DAYS = 90
CHANGE = 60
VENUES = ("office", "gym", "school", "hospital", "station")


@dataclass(frozen=True)
class Device:
    cabinet: Cabinet
    truth: Truth
    old: Planogram
    rng_seed: int


def true_per_day(cab: Cabinet, products: dict[str, ProductSpec], truth: Truth, plan: Planogram) -> float:
    """Expected revenue/day under the planted truth: demand at its facings, capped by what they hold per interval."""
    caps, idx = slot_capacities(cab, plan), cab.index()
    total = 0.0
    for sku, slots in plan.facings().items():
        demand = truth.demand(sku, [float(truth.pos_weight[idx[s]]) for s in slots])
        total += products[sku].price * min(demand, sum(caps[s] for s in slots) / cab.service_interval_days)
    return total


def priors_from(
    sales: dict[str, SalesData],
    plans: dict[str, Planogram],
    venue: dict[str, str],
    products: dict[str, ProductSpec],
    days: float,
) -> FleetRates:
    """Fleet rates as the service builds them: units sold and days stocked per (device, sku)."""
    rows = []
    for dev, s in sales.items():
        ks, ns = np.unique(s.sku, return_counts=True)
        sold = {s.skus[k]: float(n) for k, n in zip(ks.tolist(), ns.tolist(), strict=True)}
        for sku in sorted(set(sold) | set(plans[dev].mapping().values())):
            rows.append(StockRow(dev, venue[dev], sku, sold.get(sku, 0.0), days))
    return FleetRates.from_rows(rows, {p.sku: p.category for p in products.values()})


def build_fleet(n: int) -> tuple[dict[str, ProductSpec], list[Device]]:
    """Devices over venues with venue-specific demand and an operator's planogram each."""
    rng = np.random.default_rng(SEED)
    prods = make_catalog(80, rng)
    boost = {
        v: {p.sku: float(x) for p, x in zip(prods, rng.lognormal(0, 0.6, len(prods)), strict=True)} for v in VENUES
    }
    devices = []
    for i in range(n):
        cab = make_cabinet(f"B{i:03d}", venue_type=VENUES[i % len(VENUES)])
        truth = make_truth(cab, prods, rng, start_day=START, n_days=DAYS, base_scale=boost[cab.venue_type])
        devices.append(Device(cab, truth, operator_planogram(cab, prods, truth, rng), SEED * 1000 + i))
    return {p.sku: p for p in prods}, devices


def proposals(products: dict[str, ProductSpec], devices: list[Device], kind: str) -> dict[str, Planogram]:
    """The planogram each device switches to on day 60: an operator's re-plan or the optimiser's proposal."""
    if kind == "operator":
        prods = list(products.values())
        return {
            d.cabinet.device_id: operator_planogram(d.cabinet, prods, d.truth, np.random.default_rng(d.rng_seed + 1))
            for d in devices
        }
    venue = {d.cabinet.device_id: d.cabinet.venue_type for d in devices}
    early = {
        d.cabinet.device_id: generate_device_sales(
            d.cabinet, products, d.old, CHANGE, np.random.default_rng(d.rng_seed), d.truth
        )[0]
        for d in devices
    }
    rates = priors_from(early, {d.cabinet.device_id: d.old for d in devices}, venue, products, CHANGE)
    out: dict[str, Planogram] = {}
    for d in devices:
        dev = d.cabinet.device_id
        model = fit_model(d.cabinet, products, early[dev], d.old, priors=rates.priors(dev))
        out[dev] = optimize(model, d.cabinet, products, d.old).planogram
    return out


def run(n_devices: int, holdout: int, kind: str) -> None:
    """Simulate, change the planogram on day 60, simulate on, backtest every device; print the figures."""
    products, devices = build_fleet(n_devices)
    venue = {d.cabinet.device_id: d.cabinet.venue_type for d in devices}
    new_plans = proposals(products, devices, kind)
    full: dict[str, SalesData] = {}
    for d in devices:  # same seed: the first 60 days repeat exactly, then the proposal runs
        plan = [(0, d.old), (CHANGE, new_plans[d.cabinet.device_id])]
        full[d.cabinet.device_id] = generate_device_sales(
            d.cabinet, products, plan, DAYS, np.random.default_rng(d.rng_seed), d.truth
        )[0]
    rates = priors_from(full, new_plans, venue, products, DAYS)
    results: list[DeviceBacktest] = []
    true_pct: list[float] = []
    t0 = time.perf_counter()
    for d in devices:
        dev = d.cabinet.device_id
        history = ((0, d.old), (START + CHANGE, new_plans[dev]))
        data = BacktestData(d.cabinet, products, full[dev], new_plans[dev], history, rates.priors(dev))
        results.append(backtest_device(data, BacktestSettings(holdout_days=holdout)))
        before, after = (true_per_day(d.cabinet, products, d.truth, p) for p in (d.old, new_plans[dev]))
        true_pct.append(100 * (after / before - 1))
    elapsed = time.perf_counter() - t0
    report(results, true_pct, elapsed, kind)


def _f(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def report(results: list[DeviceBacktest], true_pct: list[float], elapsed: float, kind: str) -> None:
    """Per-device table, then the fleet line."""
    print(
        f"{'device':<7} {'trust':<6} {'bias%':>6} {'cover':>6} {'WAPE':>6} {'naive':>6} {'ratio':>6} "
        f"{'chg pred%':>9} {'realised%':>9} {'true%':>7}"
    )
    pred, real = [], []
    for r, t in zip(results, true_pct, strict=True):
        c = r.changes[0] if r.changes else None
        fc = r.forecast
        print(
            f"{r.device_id:<7} {r.trust:<6} {_f(r.revenue_bias_pct, '+.1f'):>6} {_f(r.coverage, '.2f'):>6} "
            f"{_f(fc.wape_model if fc else None, '.3f'):>6} {_f(fc.wape_naive if fc else None, '.3f'):>6} "
            f"{_f(r.wape_ratio, '.2f'):>6} {_f(c.predicted_revenue_uplift_pct if c else None, '+.1f'):>9} "
            f"{_f(c.realised_revenue_uplift_pct if c else None, '+.1f'):>9} {t:>+7.1f}"
        )
        if c is not None and c.predicted_revenue_uplift_pct is not None and c.realised_revenue_uplift_pct is not None:
            pred.append(c.predicted_revenue_uplift_pct)
            real.append(c.realised_revenue_uplift_pct)
    s = summarize(results)
    n = len(results)
    print(
        f"fleet: {s.devices_ok}/{n} checked; revenue bias median |{_f(s.median_abs_bias_pct, '.1f')}| %, "
        f"{s.within_10pct}/{n} within ±10 %; day coverage {_f(s.mean_coverage, '.2f')} at nominal 0.90; "
        f"WAPE sku x day {_f(s.mean_wape_model, '.3f')} vs seasonal-naive {_f(s.mean_wape_naive, '.3f')} "
        f"({_f((s.mean_wape_model or 0) / (s.mean_wape_naive or 1), '.2f')}x)"
    )
    if pred:
        print(
            f"changes ({kind} on day {CHANGE}, 14 days each side): {s.changes_same_direction}/"
            f"{s.changes} in the predicted direction; revenue uplift predicted {np.mean(pred):+.1f} % vs realised "
            f"{np.mean(real):+.1f} % vs true {np.mean(true_pct):+.1f} % (means); |predicted - realised| "
            f"{np.mean(np.abs(np.subtract(pred, real))):.1f} pp"
        )
    print(f"backtest time: {elapsed:.1f} s for {n} devices ({elapsed / n:.2f} s per device, 3 fits each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=12)
    parser.add_argument("--holdout-days", type=int, default=14)
    parser.add_argument("--proposal", choices=("operator", "optimiser"), default="operator")
    args = parser.parse_args()
    run(args.devices, args.holdout_days, args.proposal)


if __name__ == "__main__":
    main()
