"""Backtest on generated devices with known truth: held-out figures, planted planogram changes, edge cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from services.planogram import (
    BacktestData,
    BacktestSettings,
    Cabinet,
    Planogram,
    ProductSpec,
    SalesData,
    backtest_device,
    predict_revenue,
    summarize,
)
from services.planogram.backtest import day_interval, fit_before, plan_on
from services.planogram.synthetic import (
    Truth,
    generate_device_sales,
    generate_fleet,
    make_cabinet,
    make_catalog,
    make_truth,
    operator_planogram,
)
from services.planogram.value import slot_capacities

START = 19_000  # epoch day of the generated data's first day (fixed: no clock involved)


def true_revenue(cab: Cabinet, products: dict[str, ProductSpec], truth: Truth, plan: Planogram) -> float:
    """Expected takings per day under the planted truth: demand capped by what the facings hold."""
    caps = slot_capacities(cab, plan)
    idx = cab.index()
    total = 0.0
    for sku, slots in plan.facings().items():
        demand = truth.demand(sku, [float(truth.pos_weight[idx[s]]) for s in slots])
        total += products[sku].price * min(demand, sum(caps[s] for s in slots) / cab.service_interval_days)
    return total


@dataclass(frozen=True)
class Changed:
    cabinet: Cabinet
    products: dict[str, ProductSpec]
    old: Planogram
    new: Planogram
    sales: SalesData
    truth: Truth
    emptied: int


def planted_change(seed: int, change_day: int, days: int = 74) -> Changed:
    """An operator planogram whose six best sellers are taken out on `change_day` (their slots left empty)."""
    rng = np.random.default_rng(seed)
    cab = make_cabinet("C1")
    prods = make_catalog(60, rng)
    products = {p.sku: p for p in prods}
    truth = make_truth(cab, prods, rng, n_days=days)
    old = operator_planogram(cab, prods, truth, rng)
    top = sorted(old.facings(), key=lambda k: -truth.base[k] * products[k].price)[:6]
    new = Planogram.of({s: k for s, k in old.mapping().items() if k not in top})
    sales, truth = generate_device_sales(cab, products, [(0, old), (change_day, new)], days, rng, truth)
    return Changed(cab, products, old, new, sales, truth, len(old.mapping()) - len(new.mapping()))


def data_of(c: Changed, change_day: int) -> BacktestData:
    return BacktestData(c.cabinet, c.products, c.sales, c.new, ((0, c.old), (START + change_day, c.new)))


def test_sixty_days_fitted_fourteen_held_out_gives_honest_figures() -> None:
    fleet = generate_fleet(5, np.random.default_rng(7), current="operator", days=74)
    products = {p.sku: p for p in fleet.products}
    results = [backtest_device(BacktestData(d.cabinet, products, d.sales, d.planogram)) for d in fleet.devices]
    for r in results:
        assert r.status == "ok" and r.train_days == 60 and len(r.days) == 14
        assert r.cutoff_day == START + 59 and [c.day for c in r.days] == list(range(START + 60, START + 74))
        assert r.revenue_actual == pytest.approx(sum(c.actual_revenue for c in r.days))
        assert all(c.low <= c.predicted_revenue <= c.high for c in r.days)
        assert r.forecast is not None and r.forecast.holdout_days == 14
        assert "over the last 14 days" in r.verdict and "90 % day range" in r.verdict
    summary = summarize(results)
    assert summary.devices_ok == 5 and summary.within_10pct >= 3
    assert summary.median_abs_bias_pct is not None and summary.median_abs_bias_pct < 10
    # 90 % day intervals on 14 days: a band, not a point (70 days in all)
    assert summary.mean_coverage is not None and 0.7 <= summary.mean_coverage <= 1.0
    # weekly demand pattern: the model beats same-weekday-last-week on sku x day
    assert summary.mean_wape_model is not None and summary.mean_wape_naive is not None
    assert summary.mean_wape_model < summary.mean_wape_naive
    assert np.mean([r.wape_ratio for r in results]) < 1.0


def test_planted_change_reports_predicted_and_realised_uplift_near_the_truth() -> None:
    c = planted_change(seed=0, change_day=60)
    r = backtest_device(data_of(c, 60))
    assert r.changes_without_enough_data == 0 and len(r.changes) == 1
    check = r.changes[0]
    assert check.day == START + 60 and check.history_index == 1 and check.window_days == 14
    assert check.slots_changed == c.emptied
    true_pct = 100 * (
        true_revenue(c.cabinet, c.products, c.truth, c.new) / true_revenue(c.cabinet, c.products, c.truth, c.old) - 1
    )
    assert true_pct < -25  # the planted change is a large, known loss
    assert check.predicted_revenue_uplift_pct == pytest.approx(true_pct, abs=8)
    assert check.realised_revenue_uplift_pct == pytest.approx(true_pct, abs=8)
    assert check.same_direction and check.predicted_margin_uplift_per_day < 0 < check.margin_before_per_day
    lo, hi = check.predicted_revenue_uplift_interval
    assert lo <= check.predicted_revenue_uplift_per_day <= hi
    # realised figures are the per-day takings of the 14 days either side of the change
    days = (c.sales.ts // 86_400) - START
    before = c.sales.price[(days >= 46) & (days < 60)].sum() / 14
    after = c.sales.price[(days >= 60) & (days < 74)].sum() / 14
    assert check.revenue_before_per_day == pytest.approx(before)
    assert check.revenue_after_per_day == pytest.approx(after)


def test_a_change_inside_the_held_out_days_is_flagged_and_predicted_with_the_new_planogram() -> None:
    c = planted_change(seed=1, change_day=66)
    r = backtest_device(data_of(c, 66))
    assert r.planogram_changed_in_holdout
    # the model fitted before the cut-off still knows the emptied skus: the prediction drops on the change day
    before = [d.predicted_revenue for d in r.days if d.day < START + 66]
    after = [d.predicted_revenue for d in r.days if d.day >= START + 66]
    assert np.mean(after) < 0.85 * np.mean(before)
    # one week after the change, one week before: compared over 7 days each side
    assert [ch.window_days for ch in r.changes] == [7]


def test_changes_without_a_week_on_both_sides_are_counted_not_checked() -> None:
    c = planted_change(seed=2, change_day=70)
    same = (START + 30, c.old)  # re-saved unchanged: not a change at all
    data = BacktestData(c.cabinet, c.products, c.sales, c.new, ((0, c.old), same, (START + 70, c.new)))
    r = backtest_device(data)
    assert r.changes == () and r.changes_without_enough_data == 1


def test_too_little_data_and_no_sales_say_why() -> None:
    c = planted_change(seed=3, change_day=200, days=20)
    short = backtest_device(BacktestData(c.cabinet, c.products, c.sales, c.old))
    assert short.status == "insufficient_data" and short.trust == "unknown"
    assert short.verdict == "Only 20 days of sales: a 14-day backtest needs at least 28."
    assert (
        backtest_device(BacktestData(c.cabinet, c.products, c.sales, c.old), BacktestSettings(holdout_days=6)).status
        == "ok"
    )
    empty = c.sales.select(np.zeros(c.sales.n, dtype=bool))
    none = backtest_device(BacktestData(c.cabinet, c.products, empty, c.old))
    assert none.status == "insufficient_data" and none.first_day is None and "No sales" in none.verdict
    with pytest.raises(ValueError, match="holdout_days"):
        backtest_device(BacktestData(c.cabinet, c.products, c.sales, c.old), BacktestSettings(holdout_days=0))


def test_planogram_in_effect_and_day_interval_scaling() -> None:
    c = planted_change(seed=4, change_day=40)
    data = data_of(c, 40)
    assert plan_on(data, START) == c.old and plan_on(data, START + 39) == c.old
    assert plan_on(data, START + 40) == c.new and plan_on(data, START + 99) == c.new
    assert plan_on(BacktestData(c.cabinet, c.products, c.sales, c.new), START) == c.new
    pred = predict_revenue(fit_before(data, START + 40, c.old), c.cabinet, c.products, c.old)
    mid, lo, hi = day_interval(pred, 1.0)  # an average day: exactly predict_revenue's day interval
    assert (mid, lo, hi) == pytest.approx((pred.revenue_per_day, *pred.revenue_day_interval))
    mid2, lo2, hi2 = day_interval(pred, 2.0)  # twice the demand: twice the mid, a wider but narrower-than-2x range
    assert mid2 == pytest.approx(2 * mid) and (hi - lo) < (hi2 - lo2) < 2 * (hi - lo)
