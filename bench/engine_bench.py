"""Planogram engine benchmark on a generated fleet with known truth; prints the figures to record."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.stats import spearmanr

from services.planogram.affinity import affinity
from services.planogram.batch import DeviceJob, batch_optimize
from services.planogram.fit import fit_model
from services.planogram.forecast import backtest_forecast
from services.planogram.heatzones import heat_zones
from services.planogram.milp import solve_milp
from services.planogram.model import DemandModel
from services.planogram.optimize import optimize
from services.planogram.priors import FleetRates, StockRow
from services.planogram.problem import build_problem
from services.planogram.scoring import score_placement
from services.planogram.synthetic import (
    Fleet,
    Truth,
    generate_device_sales,
    generate_fleet,
    make_cabinet,
    make_catalog,
    random_planogram,
)
from services.planogram.types import Constraints, Priors
from services.planogram.value import ValueParams, evaluate

SEED = 2024


def pct(xs: list[float], q: float) -> float:
    """Percentile of a list."""
    return float(np.percentile(np.asarray(xs), q))


def loo_priors_sold(fleet: Fleet, exclude: str) -> Priors:
    """The previous fleet priors (for the before/after figures): units/day per sku over the devices that
    sold it, fleet-wide, ignoring venue."""
    days = fleet.devices[0].truth.n_days
    per_sku: dict[str, list[int]] = {}
    for d in fleet.devices:
        if d.cabinet.device_id != exclude:
            ks, ns = np.unique(d.sales.sku, return_counts=True)
            for k, n in zip(ks.tolist(), ns.tolist(), strict=True):
                per_sku.setdefault(d.sales.skus[k], []).append(n)
    rate = {k: sum(v) / days / len(v) for k, v in per_sku.items()}
    cat = {p.sku: p.category for p in fleet.products}
    by_cat: dict[str, list[float]] = {}
    for k, r in rate.items():
        by_cat.setdefault(cat[k], []).append(r)
    return Priors(rate, {c: sum(v) / len(v) for c, v in by_cat.items()}, sum(rate.values()) / len(rate))


def fleet_rates(fleet: Fleet) -> FleetRates:
    """Fleet priors built the way services/merchandising/data builds them (services.planogram.priors): one row
    per device and sku with units sold and days stocked; call .priors(device_id) for leave-one-out."""
    days = float(fleet.devices[0].truth.n_days)
    rows = []
    for d in fleet.devices:
        ks, ns = np.unique(d.sales.sku, return_counts=True)
        sold = {d.sales.skus[k]: float(n) for k, n in zip(ks.tolist(), ns.tolist(), strict=True)}
        for sku in sorted(set(sold) | set(d.planogram.mapping().values())):
            rows.append(StockRow(d.cabinet.device_id, d.cabinet.venue_type, sku, sold.get(sku, 0.0), days))
    return FleetRates.from_rows(rows, {p.sku: p.category for p in fleet.products})


def loo_priors(fleet: Fleet, exclude: str) -> Priors:
    """Leave-one-out fleet priors as the service serves them."""
    return fleet_rates(fleet).priors(exclude)


def truth_model(model: DemandModel, truth: Truth) -> DemandModel:
    """The fitted model with the planted base demand and position weights put in: values under the truth."""
    base = np.array([truth.base.get(k, 0.0) for k in model.skus])
    return model.with_estimates(base, np.asarray(truth.pos_weight, dtype=np.float64))


RUNS = {
    # label: (fleet priors, position from within-sku contrasts, uncertainty discount, change cost per slot,
    #         max new skus)
    "before": ("sold", False, 0.0, 0.0, None),
    "previous": ("sold", True, 1.0, 0.0, None),
    "+priors": ("stocked", True, 1.0, 0.0, None),
    "+change": ("stocked", True, 1.0, 0.5, None),
    "new<=3": ("stocked", True, 1.0, 0.5, 3),
    "new<=1": ("stocked", True, 1.0, 0.5, 1),
    "new<=0": ("stocked", True, 1.0, 0.5, 0),
}


def realised_uplift(n_devices: int = 8, current: str = "operator", runs: tuple[str, ...] = tuple(RUNS)) -> None:
    """Predicted vs true margin uplift of the optimised planogram under several engine settings.

    "before": no uncertainty discount, one-stage position fit, priors over the devices that sold a sku;
    "previous": discount and two-stage fit; "+priors": venue-aware priors over the devices that stocked
    a sku; "+change": also the per-slot change cost (the defaults); "new<=k": also at most k skus absent
    from the current planogram (max_new_skus, off by default).  True margin/day = evaluate() with the
    planted base demand and position weights (same value function, stock caps and all).  Priors are
    leave-one-out, as served.
    """
    fleet = generate_fleet(n_devices, np.random.default_rng(SEED + 99), days=90, current=current)
    products = {p.sku: p for p in fleet.products}
    rates = fleet_rates(fleet)
    for label in runs:
        prior_kind, within, kappa, change, max_new = RUNS[label]
        params = ValueParams(uncertainty_discount=kappa, change_cost=change)
        pred, obj, true, worse, changed, unseen, added = [], [], [], 0, [], [], []
        ratio: list[float] = []  # per device: (predicted uplift, uplift_low) / true uplift, margin per day
        low_ratio: list[float] = []
        for d in fleet.devices:
            dev = d.cabinet.device_id
            pri = loo_priors_sold(fleet, dev) if prior_kind == "sold" else rates.priors(dev)
            m = fit_model(d.cabinet, products, d.sales, d.planogram, priors=pri, position_from_within_sku=within)
            cons = Constraints(max_new_skus=max_new)
            res = optimize(m, d.cabinet, products, d.planogram, cons, params)
            tm = truth_model(m, d.truth)
            cur_t = evaluate(tm, d.cabinet, products, d.planogram, params).margin_per_day
            new_t = evaluate(tm, d.cabinet, products, res.planogram, params).margin_per_day
            pred.append(100 * (res.margin_per_day / res.current_margin_per_day - 1))
            obj.append(res.uplift_pct)
            true.append(100 * (new_t / cur_t - 1))
            worse += new_t < cur_t
            if abs(new_t - cur_t) > 1e-6:
                ratio.append(res.uplift_per_day / (new_t - cur_t))
                low_ratio.append(res.uplift_low_per_day / (new_t - cur_t))
            changed.append(len(res.moves))
            unseen.append(sum(not m.observed[m.sku_index[k]] for k in res.planogram.mapping().values()))
            added.append(len(set(res.planogram.mapping().values()) - set(d.planogram.mapping().values())))
        p, t = np.array(pred), np.array(true)
        print(
            f"realised uplift ({current} planograms, {n_devices} devices, {label}): predicted margin "
            f"{p.mean():+.1f}% (objective {np.mean(obj):+.1f}%), true {t.mean():+.1f}%, "
            f"ratio {p.mean() / t.mean():.2f}, MAE {np.abs(p - t).mean():.1f} pp, truly worse {worse}/{n_devices}; "
            f"slots changed {np.mean(changed):.1f}, slots given to never-sold skus {np.mean(unseen):.1f}, "
            f"new skus {np.mean(added):.1f}; per-device predicted/true median {np.median(ratio):.2f}, "
            f"uplift_low/true median {np.median(low_ratio):.2f}",
            flush=True,
        )


def main() -> None:
    """Run every section and print one line per figure."""
    if sys.argv[1:2] == ["uplift"]:
        runs = tuple(sys.argv[2:]) or tuple(RUNS)
        realised_uplift(8, "operator", runs)
        realised_uplift(8, "random", runs)
        return
    rng = np.random.default_rng(SEED)
    fleet = generate_fleet(20, rng, days=90)
    products = {p.sku: p for p in fleet.products}
    print(
        f"fleet: {len(fleet.devices)} devices, 6x10 cabinets, {len(products)} products, 90 days, "
        f"{sum(d.sales.n for d in fleet.devices)} vends"
    )

    fit_ms, models = [], []
    for d in fleet.devices:
        t = time.perf_counter()
        models.append(fit_model(d.cabinet, products, d.sales, d.planogram))
        fit_ms.append(1000 * (time.perf_counter() - t))
    print(f"fit per device: median {pct(fit_ms, 50):.1f} ms, p95 {pct(fit_ms, 95):.1f} ms, max {max(fit_ms):.1f} ms")

    dev, model = fleet.devices[0], models[0]
    codes = dev.cabinet.slot_codes()
    skus = list(products)
    lat = []
    for i in range(3000):
        t = time.perf_counter()
        score_placement(model, dev.cabinet, products, dev.planogram, skus[i % len(skus)], codes[(i * 7) % 60])
        lat.append(1e6 * (time.perf_counter() - t))
    print(f"realtime-score (6x10): p50 {pct(lat, 50):.0f} us, p95 {pct(lat, 95):.0f} us ({pct(lat, 95) / 1000:.2f} ms)")

    sep = ValueParams(category_bonus=0.0, affinity_bonus=0.0)
    opt_s, gaps, full_s, proven = [], [], [], 0
    for d, m in list(zip(fleet.devices, models, strict=True))[:8]:
        t = time.perf_counter()
        res = optimize(m, d.cabinet, products, d.planogram, Constraints(), sep)
        opt_s.append(time.perf_counter() - t)
        pb = build_problem(m, d.cabinet, products, d.planogram, Constraints(), sep)
        exact = solve_milp(pb, time_limit_s=120)
        proven += exact.optimal
        gaps.append(100 * (exact.objective - res.planning_score) / exact.objective)
        t = time.perf_counter()
        optimize(m, d.cabinet, products, d.planogram)
        full_s.append(time.perf_counter() - t)
    print(
        f"optimiser 6x10 x 80 candidates, separable: median {pct(opt_s, 50):.2f} s, max {max(opt_s):.2f} s; "
        f"gap to proven MILP optimum: mean {np.mean(gaps):.4f}%, max {max(gaps):.4f}% "
        f"({proven}/{len(gaps)} optima proven)"
    )
    print(f"optimiser with adjacency (MILP + swaps): median {pct(full_s, 50):.2f} s, max {max(full_s):.2f} s")

    tp = fp = fn = strong_n = planted_n = 0
    for d in fleet.devices:  # per device, as the affinity-analysis endpoint runs it
        got = {(p.sku_a, p.sku_b) for p in affinity(d.sales).pairs}
        planted = {tuple(sorted(p[:2])) for p in d.truth.pairs}
        placed = set(d.planogram.mapping().values())
        strong = {
            tuple(sorted((a, b)))
            for a, b, prob in d.truth.pairs
            if {a, b} <= placed
            and prob * (d.truth.daily_units[a].sum() + d.truth.daily_units[b].sum()) / (1 + prob) >= 10
        }
        tp += len(got & strong)
        fp += len(got - planted)
        fn += len(strong - got)
        strong_n += len(strong)
        planted_n += len(planted)
    print(
        f"affinity (per device): precision {tp / max(tp + fp, 1):.2f}, recall {tp / max(tp + fn, 1):.2f} on "
        f"{strong_n} planted pairs (both stocked) with >=10 expected co-purchases "
        f"({planted_n} planted in all; "
        f"{fp} false pairs surfaced)"
    )

    rhos = []
    cat = make_catalog(80, np.random.default_rng(SEED + 1))
    catm = {p.sku: p for p in cat}
    for i in range(5):
        r = np.random.default_rng(SEED + 10 + i)
        cab = make_cabinet(f"H{i}", 6, 10)
        plans = [(day, random_planogram(cab, cat, r)) for day in (0, 30, 60)]
        sales, truth = generate_device_sales(cab, catm, plans, 90, r)
        hz = heat_zones(fit_model(cab, catm, sales, plans[-1][1]), cab)
        rhos.append(float(spearmanr(hz.weights.ravel(), truth.pos_weight)[0]))
    fixed = [
        float(spearmanr(heat_zones(m, d.cabinet).weights.ravel(), d.truth.pos_weight)[0])
        for d, m in zip(fleet.devices[:5], models[:5], strict=True)
    ]
    print(
        f"heat zones: Spearman vs planted weights {np.mean(rhos):.2f} (planogram changed twice in 90 days), "
        f"{np.mean(fixed):.2f} (one fixed planogram, no priors)"
    )

    wm, wn, tm, tn = [], [], [], []
    for d in fleet.devices[:10]:
        train_end = d.truth.start_day + d.truth.n_days - 1 - 14
        fill = max(s for s in d.truth.service_days if s <= train_end)
        bt = backtest_forecast(d.cabinet, products, d.sales, d.planogram, holdout_days=14, last_fill_day=fill)
        wm.append(bt.wape_model)
        wn.append(bt.wape_naive)
        tm.append(bt.wape_model_daily_total)
        tn.append(bt.wape_naive_daily_total)
    print(
        f"forecast (14 held-out days): WAPE sku x day model {np.mean(wm):.3f} vs seasonal-naive "
        f"{np.mean(wn):.3f}; device-day totals model {np.mean(tm):.3f} vs seasonal-naive {np.mean(tn):.3f}"
    )

    jobs = [DeviceJob(d.cabinet, d.sales, d.planogram) for d in fleet.devices]
    t = time.perf_counter()
    items = list(batch_optimize(jobs, products))
    el = time.perf_counter() - t
    ok = sum(i.ok for i in items)
    uplift = np.mean([i.result.uplift_pct for i in items if i.result is not None])
    print(
        f"batch: {len(items)} devices in {el:.1f} s = {len(items) / el:.1f} devices/s on one core "
        f"({ok} ok, mean uplift {uplift:.1f}%)"
    )
    realised_uplift(8, "operator", ("+change", "new<=3"))


if __name__ == "__main__":
    main()
