"""Are the engine's numbers right on data it was not tuned on?  Graded against a known truth.

    .venv/bin/python bench/trust_bench.py [n_devices] [seed] [facing_eps]

Fleet: bench/truth_fleet.py (a truth unlike services/planogram/synthetic.py).  Per device the engine is
fitted as the service fits it (leave-one-out fleet priors over stocked days) and optimised with default
settings and with request constraints; every answer is valued under the truth.  Prints: uplift capture
(share of the true optimum's gain over today's planogram), machines truly worse, empty slots, predicted
/ true uplift, today's predicted revenue vs truth, heat-zone Spearman, determinism and solver CPU.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.stats import spearmanr

from bench.truth_fleet import TRUE_EPS, TrueDevice, TrueFleet, generate_true_fleet
from services.planogram.affinity import affinity
from services.planogram.backtest import BacktestData, BacktestSettings, backtest_device
from services.planogram.fit import fit_model
from services.planogram.forecast import backtest_forecast
from services.planogram.model import DemandModel
from services.planogram.optimize import optimize
from services.planogram.priors import FleetRates, StockRow
from services.planogram.types import Constraints, ProductSpec
from services.planogram.value import ValueParams, evaluate


def stock_rows(fleet: TrueFleet) -> list[StockRow]:
    """Units sold and days stocked per device x sku, as services/merchandising/data builds them."""
    rows = []
    for d in fleet.devices:
        days = float(d.sales.day().max() + 1) if d.sales.n else 1.0
        ks, ns = np.unique(d.sales.sku, return_counts=True)
        sold = {d.sales.skus[k]: float(n) for k, n in zip(ks.tolist(), ns.tolist(), strict=True)}
        for sku in sorted(set(sold) | set(d.planogram.mapping().values())):
            rows.append(StockRow(d.cabinet.device_id, d.cabinet.venue_type, sku, sold.get(sku, 0.0), days))
    return rows


def rates_of(fleet: TrueFleet) -> FleetRates:
    """Fleet priors built as services/merchandising/data builds them."""
    return FleetRates.from_rows(stock_rows(fleet), {p.sku: p.category for p in fleet.products})


def truth_model(m: DemandModel, d: TrueDevice) -> DemandModel:
    """The fitted model with the true demand and weights put in (certain: se 0)."""
    base = np.array([d.base.get(k, 0.0) for k in m.skus])
    w = np.array([d.weight[s] for s in m.slot_codes])
    return m.with_estimates(base, w, base_log_se=np.zeros(len(m.skus)))


def scenarios(d: TrueDevice, m: DemandModel, products: dict[str, ProductSpec]) -> dict[str, Constraints]:
    """Default request plus the constraint kinds a merchandiser sends."""
    stocked = d.planogram.facings()
    top = max(stocked, key=lambda k: m.base_demand(k) * products[k].margin)
    absent = sorted(
        (k for k in products if k not in stocked and products[k].temperature == "ambient"),
        key=lambda k: -m.base_demand(k),
    )[0]
    codes = sorted(d.planogram.mapping())
    return {
        "default": Constraints(),
        "must_new": Constraints(
            must_stock=frozenset({absent}), locked=tuple((s, d.planogram.mapping()[s]) for s in codes[:2])
        ),
        "min_facings": Constraints(min_facings=((top, 3),)),
        "max_new=2": Constraints(max_new_skus=2),
        "budget=8": Constraints(max_changed_slots=8),
    }


def grade(fleet: TrueFleet) -> None:
    """Print the figures for one fleet."""
    products = {p.sku: p for p in fleet.products}
    rates = rates_of(fleet)
    sep = ValueParams(category_bonus=0.0, affinity_bonus=0.0, uncertainty_discount=0.0, change_cost=0.0)
    out: dict[str, list[tuple[float, float, float, float, int, float]]] = {}
    rev_err, rhos, cpu, same, wape, false_pairs, coverage = [], [], [], 0, [], 0, []
    for d in fleet.devices:
        t = int(d.cabinet.service_interval_days)
        start = 20_000  # generate_true_fleet's first day; refills every T days from it
        last = int(d.sales.day(0).max())  # epoch day
        fill = start + (last - 14 - start) // t * t
        bt = backtest_forecast(
            d.cabinet,
            products,
            d.sales,
            d.planogram,
            holdout_days=14,
            last_fill_day=fill,
            priors=rates.priors(d.cabinet.device_id),
        )
        wape.append((bt.wape_model, bt.wape_naive))
        false_pairs += len(affinity(d.sales).pairs)  # the truth has no co-purchase pairs: any pair is false
        back = backtest_device(
            BacktestData(d.cabinet, products, d.sales, d.planogram, (), rates.priors(d.cabinet.device_id)),
            BacktestSettings(holdout_days=14),
        )
        coverage.append(back.coverage if back.coverage is not None else float("nan"))
        m = fit_model(d.cabinet, products, d.sales, d.planogram, priors=rates.priors(d.cabinet.device_id))
        tm = truth_model(m, d)
        cur_true = d.value(d.planogram, products)
        pred_rev = evaluate(m, d.cabinet, products, d.planogram).revenue_per_day
        rev_err.append(100 * (pred_rev / d.value(d.planogram, products, "revenue") - 1))
        rhos.append(float(spearmanr(m.pos_weight, [d.weight[s] for s in m.slot_codes])[0]))
        for name, cons in scenarios(d, m, products).items():
            t0 = time.process_time()
            res = optimize(m, d.cabinet, products, d.planogram, cons)
            cpu.append(time.process_time() - t0)
            if name == "default":
                same += optimize(m, d.cabinet, products, d.planogram, cons).planogram == res.planogram
            best = optimize(tm, d.cabinet, products, d.planogram, cons, sep).planogram
            opt_true = max(d.value(best, products), cur_true)
            new_true = d.value(res.planogram, products)
            empty = sum(1 for s in d.cabinet.slots if s.code not in res.planogram.mapping())
            out.setdefault(name, []).append(
                (cur_true, new_true, opt_true, res.uplift_per_day, empty, res.uplift_low_per_day)
            )
    print(
        f"fleet: {len(fleet.devices)} devices, {len(products)} products, {sum(d.sales.n for d in fleet.devices)} vends"
    )
    for name, rows in out.items():
        _report(name, rows)
    e = np.abs(np.array(rev_err))
    print(
        f"today's revenue predicted vs truth: median {np.median(rev_err):+.1f}%, within ±10% on "
        f"{int((e <= 10).sum())}/{len(e)}; heat-zone Spearman mean {np.mean(rhos):.2f} (min {min(rhos):.2f})"
    )
    wm, wn = (float(np.mean(x)) for x in zip(*wape, strict=True))
    print(
        f"forecast WAPE (sku x day, 14 held-out days): model {wm:.3f} vs seasonal-naive {wn:.3f} = {wm / wn:.2f}x; "
        f"affinity: {false_pairs} pairs surfaced where none exist; backtest day coverage {np.nanmean(coverage):.2f} "
        f"(min {np.nanmin(coverage):.2f}) at nominal 0.90"
    )
    print(
        f"identical answers for identical requests: {same}/{len(fleet.devices)}; optimiser CPU per call: "
        f"median {np.median(cpu):.2f} s, p95 {np.percentile(cpu, 95):.2f} s, max {max(cpu):.2f} s"
    )


def _report(name: str, rows: list[tuple[float, float, float, float, int, float]]) -> None:
    cur, new, opt, pred, empty, low = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    gain = opt - cur
    capture = np.where(gain > 1e-9, (new - cur) / np.maximum(gain, 1e-9), 1.0)
    true_up = new - cur
    ratio = np.array([p / t for p, t in zip(pred, true_up, strict=True) if abs(t) > 1e-6])
    low_ratio = np.array([p / t for p, t in zip(low, true_up, strict=True) if abs(t) > 1e-6])
    worse = int((new < cur - 1e-6).sum())
    print(
        f"  {name:12s} capture mean {capture.mean():.2f} (min {capture.min():.2f}); truly worse {worse}/{len(cur)}; "
        f"true uplift mean {100 * np.mean(true_up / cur):+.1f}% (optimum {100 * np.mean(gain / cur):+.1f}%); "
        f"predicted/true uplift median {np.median(ratio) if len(ratio) else float('nan'):.2f} "
        f"(uplift_low/true {np.median(low_ratio) if len(low_ratio) else float('nan'):.2f}); "
        f"empty slots {int(empty.sum())}"
    )


def main() -> None:
    """Grade one generated fleet."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    eps = float(sys.argv[3]) if len(sys.argv) > 3 else TRUE_EPS  # the truth's facing rule (truth_fleet.visibility)
    grade(generate_true_fleet(n, seed, facing_eps=eps))


if __name__ == "__main__":
    main()
