"""Analyses on generated data with known truth: affinity, revenue, forecast, personalisation, anomalies."""

from __future__ import annotations

import numpy as np
import pytest

from services.planogram.affinity import affinity, basket_ids
from services.planogram.anomalies import detect_anomalies
from services.planogram.batch import DeviceJob, batch_optimize
from services.planogram.fit import fit_model
from services.planogram.forecast import backtest_forecast, demand_forecast
from services.planogram.personalize import PeerRates, location_personalize, peer_rates
from services.planogram.revenue import predict_revenue
from services.planogram.synthetic import generate_device_sales, generate_fleet, make_truth
from services.planogram.types import SalesData
from services.planogram.value import evaluate


def test_baskets_use_transaction_id_else_time_window() -> None:
    ts = np.array([0, 30, 100, 1000, 1050, 1200], dtype=np.int64)
    sales = SalesData(
        "D",
        ("A1",),
        ("X", "Y"),
        ts,
        np.zeros(6, dtype=np.int64),
        np.array([0, 1, 0, 1, 0, 1], dtype=np.int64),
        np.ones(6),
        np.array([-1, -1, -1, 5, -1, 5], dtype=np.int64),
    )
    b = basket_ids(sales, 90)
    assert b[0] == b[1] == b[2]  # chained within 90 s
    assert b[3] == b[5] and b[4] != b[3]  # transaction id wins over time


def test_affinity_finds_planted_pairs_and_no_noise() -> None:
    fleet = generate_fleet(6, np.random.default_rng(6), days=60)
    res = affinity([d.sales for d in fleet.devices])
    planted = {tuple(sorted(p[:2])) for d in fleet.devices for p in d.truth.pairs}
    strong = set()  # planted pairs expected to co-occur at least 15 times in the data
    for d in fleet.devices:
        for a, b, prob in d.truth.pairs:
            if not {a, b} <= set(d.planogram.mapping().values()):
                continue  # a partner that is not stocked cannot be bought
            units = d.truth.daily_units[a].sum() + d.truth.daily_units[b].sum()
            if prob * units / (1 + prob) >= 15:
                strong.add(tuple(sorted((a, b))))
    found = {(p.sku_a, p.sku_b) for p in res.pairs}
    assert strong, "fixture should plant some detectable pairs"
    assert found <= planted  # precision 1: nothing random surfaces
    assert strong <= found
    for p in res.pairs:
        assert p.lift > 1.5 and p.count >= 5 and 0 < p.confidence_ab <= 1


def test_predict_revenue_brackets_truth(device, model_factory) -> None:  # type: ignore[no-untyped-def]
    pred = predict_revenue(device.model, device.cabinet, device.products, device.current, device.plans[0][1])
    true_model = model_factory(device.cabinet, dict(device.truth.base), device.truth.pos_weight)
    truth = evaluate(true_model, device.cabinet, device.products, device.current)
    assert pred.revenue_interval[0] < pred.revenue_per_day < pred.revenue_interval[1]
    assert abs(pred.revenue_per_day - truth.revenue_per_day) / truth.revenue_per_day < 0.15
    assert (
        pred.revenue_day_interval[1] - pred.revenue_day_interval[0]
        > pred.revenue_interval[1] - pred.revenue_interval[0]
    )
    assert sum(s.revenue_per_day for s in pred.per_slot) == pytest.approx(pred.revenue_per_day)
    assert pred.delta_revenue_per_day == pytest.approx(pred.revenue_per_day - pred.current_revenue_per_day)


def test_forecast_beats_seasonal_naive(device) -> None:  # type: ignore[no-untyped-def]
    train_end = device.truth.start_day + device.truth.n_days - 1 - 14
    fill = max(d for d in device.truth.service_days if d <= train_end)
    bt = backtest_forecast(
        device.cabinet, device.products, device.sales, device.current, holdout_days=14, last_fill_day=fill
    )
    assert bt.wape_model < bt.wape_naive


def test_forecast_days_to_stockout_and_restock(device) -> None:  # type: ignore[no-untyped-def]
    last_fill = device.truth.service_days[-1]
    fc = demand_forecast(
        device.model,
        device.cabinet,
        device.current,
        horizon_days=14,
        sales=device.sales,
        last_fill_day=last_fill,
    )
    assert len(fc.days) == 14 and fc.next_service_day == last_fill + 7
    fast = max(fc.per_sku, key=lambda f: f.demand[0] / f.capacity)
    assert fast.days_to_stockout is not None
    assert np.cumsum(fast.expected_sales)[0] <= fast.stock_now + 1e-9
    assert fc.restock and all(r.units > 0 for r in fc.restock)
    dts = [r.days_to_stockout if r.days_to_stockout is not None else 1e9 for r in fc.restock]
    assert dts == sorted(dts)


def test_location_personalize_uses_venue_peers() -> None:
    rng = np.random.default_rng(5)
    fleet = generate_fleet(8, rng, venue_types=("gym", "office"), days=45)
    products = {p.sku: p for p in fleet.products}
    models = [fit_model(d.cabinet, products, d.sales, d.planogram, with_affinity=False) for d in fleet.devices]
    me = fleet.devices[0]
    star = max(
        (k for k in products if k not in set(me.planogram.mapping().values()) and products[k].temperature == "ambient"),
        key=lambda k: fleet.venue_boost["gym"][k],
    )
    peers = [peer_rates(m) for m in models[1:]]
    boosted = [
        PeerRates(p.device_id, p.venue_type, {**p.rates, star: 5.0 if p.venue_type == "gym" else 0.01}) for p in peers
    ]
    res = location_personalize(models[0], me.cabinet, products, me.planogram, boosted)
    assert res.venue_type == "gym" and res.n_peers == 3
    assert res.changes and res.changes[0].sku_in == star
    assert all(c.expected_gain_per_day > 0 for c in res.changes)
    office_only = [
        PeerRates(p.device_id, p.venue_type, {**p.rates, star: 5.0 if p.venue_type == "office" else 0.01})
        for p in peers
    ]
    res2 = location_personalize(models[0], me.cabinet, products, me.planogram, office_only)
    assert star not in {c.sku_in for c in res2.changes}


def test_anomalies_flag_a_jammed_slot(device) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(9)
    plan = device.current
    truth = make_truth(device.cabinet, list(device.products.values()), rng)
    idx = device.cabinet.index()
    busiest = max(plan.mapping().items(), key=lambda kv: truth.base[kv[1]] * truth.pos_weight[idx[kv[0]]])
    sales, _ = generate_device_sales(device.cabinet, device.products, plan, 60, rng, truth, jams=[(busiest[0], 45, 60)])
    model = fit_model(device.cabinet, device.products, sales, plan)
    found = detect_anomalies(model, device.cabinet, device.products, sales, plan)
    assert any(a.slot == busiest[0] and a.kind == "stopped" for a in found)
    assert len([a for a in found if a.kind == "stopped"]) <= 3


def test_batch_yields_a_result_per_device() -> None:
    fleet = generate_fleet(3, np.random.default_rng(1), days=30)
    products = {p.sku: p for p in fleet.products}
    items = list(batch_optimize([DeviceJob(d.cabinet, d.sales, d.planogram) for d in fleet.devices], products))
    assert [i.device_id for i in items] == [d.cabinet.device_id for d in fleet.devices]
    assert all(i.ok and i.result is not None and i.result.uplift_per_day >= 0 for i in items)


def test_revenue_interval_counts_position_errors_shared_by_a_row(model_factory) -> None:  # type: ignore[no-untyped-def]
    """Slots of one row share the row effect's error: the interval is wider than independent slot errors say."""
    import dataclasses

    from services.planogram.synthetic import make_catalog
    from services.planogram.types import Cabinet, Planogram

    cab = Cabinet.uniform("R", 2, 4, cabinet_type="ambient", capacity=50)
    prods = [p for p in make_catalog(40, np.random.default_rng(3)) if p.temperature == "ambient"][:8]
    model = model_factory(cab, {p.sku: 2.0 for p in prods})
    plan = Planogram.of({s.code: p.sku for s, p in zip(cab.slots, prods, strict=True)})
    catalog = {p.sku: p for p in prods}
    same_row = np.array([[0.04 if a.row == b.row else 0.0 for b in cab.slots] for a in cab.slots])
    independent = dataclasses.replace(model, pos_log_se=np.full(8, 0.2), pos_log_cov=np.diag(np.full(8, 0.04)))
    shared = dataclasses.replace(model, pos_log_se=np.full(8, 0.2), pos_log_cov=same_row)

    def width(m: object) -> float:
        low, high = predict_revenue(m, cab, catalog, plan).revenue_interval  # type: ignore[arg-type]
        return high - low

    assert width(shared) > 1.7 * width(independent)  # 4 slots per row move together: ~2x the sd
    assert width(dataclasses.replace(model, pos_log_se=np.full(8, 0.2))) == pytest.approx(width(independent))


def test_day_interval_holds_the_refill_cycle(model_factory) -> None:  # type: ignore[no-untyped-def]
    """A coil that empties before the weekly refill sells less late in the cycle: a day's range must hold that."""
    from services.planogram.revenue import refill_cycle_variance
    from services.planogram.types import Cabinet, Planogram, ProductSpec
    from services.planogram.value import evaluate

    cab = Cabinet.uniform("C", 1, 1, cabinet_type="ambient", capacity=10, service_interval_days=7)
    prods = {"K": ProductSpec("K", "K", "x", 2.0, 1.0)}
    plan = Planogram.of({"A1": "K"})
    ample = model_factory(cab, {"K": 0.2})  # 1.4 units a week from 10: never empty, every day alike
    fast = model_factory(cab, {"K": 4.0})  # 28 a week from 10: empty after about 2.5 days
    assert refill_cycle_variance(ample, prods, evaluate(ample, cab, prods, plan)) < 1e-3
    assert refill_cycle_variance(fast, prods, evaluate(fast, cab, prods, plan)) > 4.0  # 8/day, then 0 (price 2)
    low, high = predict_revenue(fast, cab, prods, plan).revenue_day_interval
    mid = predict_revenue(fast, cab, prods, plan).revenue_per_day
    assert low < 0.3 * mid  # an emptied coil's day can bring (almost) nothing
    assert high > 2.0 * mid  # a day just after the refill sells about four times the cycle's average
