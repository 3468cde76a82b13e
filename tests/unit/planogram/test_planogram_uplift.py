"""Guards against overstated uplift: the optimiser's curse, position confounding and MILP time-outs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from services.planogram.fit import fit_model
from services.planogram.model import DemandModel
from services.planogram.optimize import optimize
from services.planogram.synthetic import Truth, generate_device_sales, make_catalog
from services.planogram.types import Cabinet, Constraints, Planogram, Priors
from services.planogram.value import ValueParams


def _fitted_pair_device() -> tuple[Cabinet, dict, DemandModel]:  # type: ignore[type-arg]
    """One slot; SKU000 sold there 90 days at ~1/day, SKU001 never stocked but with a high fleet prior."""
    rng = np.random.default_rng(11)
    prods = make_catalog(2, rng)
    prods = tuple(
        dataclasses.replace(
            p,
            category="snack",
            temperature="ambient",
            price=2.0,
            unit_cost=1.0,
            width_mm=0.0,
            height_mm=0.0,
            depth_mm=0.0,
        )
        for p in prods
    )
    cat = {p.sku: p for p in prods}
    cab = Cabinet.uniform("P1", 1, 1, cabinet_type="ambient", capacity=20, service_interval_days=7)
    truth = Truth(
        "P1",
        np.ones(1),
        np.ones(1),
        np.ones(1),
        {"SKU000": 1.0, "SKU001": 1.0},
        np.ones(7),
        0.0,
        0.17,
        (),
        19_000,
        90,
        (),
    )
    sales, _ = generate_device_sales(cab, cat, Planogram.of({"A1": "SKU000"}), 90, rng, truth)
    # both truly sell 1/day; the never-sold sku's fleet prior is 20% high (noise, not signal)
    priors = Priors(sku_rate={"SKU000": 1.0, "SKU001": 1.2})
    return cab, cat, fit_model(cab, cat, sales, Planogram.of({"A1": "SKU000"}), priors=priors)


def test_never_sold_sku_with_high_prior_does_not_displace_a_proven_seller() -> None:
    cab, cat, model = _fitted_pair_device()
    current = Planogram.of({"A1": "SKU000"})
    assert model.base_demand("SKU001") > model.base_demand("SKU000")  # the point estimates favour the newcomer
    assert not model.observed[model.sku_index["SKU001"]]
    naive = optimize(model, cab, cat, current, Constraints(), ValueParams(uncertainty_discount=0.0))
    assert naive.planogram.mapping() == {"A1": "SKU001"}  # what the curse looks like
    res = optimize(model, cab, cat, current, Constraints(), ValueParams())
    assert res.planogram.mapping() == {"A1": "SKU000"}
    assert res.uplift_per_day == 0.0


def test_discount_scales_with_uncertainty(model_factory: Callable[..., DemandModel]) -> None:
    cab = Cabinet.uniform("A", 1, 1, cabinet_type="ambient", capacity=50, service_interval_days=7)
    model = model_factory(cab, {"K": 1.0})
    shaky = dataclasses.replace(model, base_log_se=np.array([0.8]))
    from services.planogram.types import ProductSpec
    from services.planogram.value import evaluate

    prods = {"K": ProductSpec("K", "K", "x", 2.0, 1.0)}
    plan = Planogram.of({"A1": "K"})
    sure, unsure = evaluate(model, cab, prods, plan), evaluate(shaky, cab, prods, plan)
    assert sure.value == np.float64(1.0) * np.exp(-0.1)  # margin 1 x 1 unit/day x exp(-kappa se)
    assert np.isclose(unsure.value, np.exp(-0.8))
    assert sure.margin_per_day == unsure.margin_per_day == 1.0  # point estimates are not discounted


def test_position_effects_are_not_read_from_where_the_operator_put_good_sellers() -> None:
    """Flat true positions, a fixed planogram with the fast sellers on top: the top row is not better."""
    rng = np.random.default_rng(5)
    prods = tuple(
        dataclasses.replace(p, temperature="ambient", width_mm=0.0, height_mm=0.0, depth_mm=0.0)
        for p in make_catalog(12, rng)
    )
    cat = {p.sku: p for p in prods}
    cab = Cabinet.uniform("OP", 2, 6, cabinet_type="ambient", capacity=30, service_interval_days=7)
    fast, slow = [p.sku for p in prods[:6]], [p.sku for p in prods[6:]]
    base = {**dict.fromkeys(fast, 2.0), **dict.fromkeys(slow, 0.5)}
    truth = Truth("OP", np.ones(2), np.ones(6), np.ones(12), base, np.ones(7), 0.0, 0.17, (), 19_000, 90, ())
    plan = Planogram.of({f"{r}{c + 1}": (fast if r == "A" else slow)[c] for r in "AB" for c in range(6)})
    sales, _ = generate_device_sales(cab, cat, plan, 90, rng, truth)
    priors = Priors(sku_rate=dict.fromkeys(cat, 1.0))  # the fleet says these skus are all alike
    old = fit_model(cab, cat, sales, plan, priors=priors, position_from_within_sku=False)
    new = fit_model(cab, cat, sales, plan, priors=priors)
    gap_old, gap_new = old.row_log[0] - old.row_log[1], new.row_log[0] - new.row_log[1]
    assert np.exp(gap_old) > 2.5  # the confounded estimate: most of the 4x sales gap read as position
    assert gap_new < 0.8 * gap_old  # stage 1 (sku rates loose) reads less of it as position
    assert new.pos_log_se.mean() > 1.2 * old.pos_log_se.mean()  # and says the positions are less certain


def test_time_limited_milp_never_proposes_worse_than_current(device) -> None:  # type: ignore[no-untyped-def]
    cur = device.current
    res = optimize(device.model, device.cabinet, device.products, cur, Constraints(), ValueParams(), time_limit_s=0.001)
    assert res.objective >= res.current_objective - 1e-9


def test_uplift_low_is_the_gain_one_can_count_on(model_factory: Callable[..., DemandModel]) -> None:
    """A strong new seller replaces a weak one: uplift_low is below the point uplift, more so when less certain."""
    from services.planogram.revenue import predict_revenue
    from services.planogram.types import ProductSpec

    cab = Cabinet.uniform("A", 1, 2, cabinet_type="ambient", capacity=50, service_interval_days=7)
    prods = {k: ProductSpec(k, k, "x", 2.0, 1.0) for k in ("OLD", "KEEP", "NEW")}
    model = model_factory(cab, {"OLD": 0.5, "KEEP": 2.0, "NEW": 3.0})
    current = Planogram.of({"A1": "KEEP", "A2": "OLD"})
    lows = []
    for se in (0.1, 0.4):
        m = dataclasses.replace(model, base_log_se=np.full(3, se))
        res = optimize(m, cab, prods, current, Constraints(), ValueParams(uncertainty_discount=0.0))
        assert set(res.planogram.mapping().values()) == {"KEEP", "NEW"}
        change = predict_revenue(m, cab, prods, res.planogram, current, level=0.9)
        assert res.uplift_low_per_day == change.delta_margin_interval[0]
        assert 0.0 < res.uplift_low_per_day < res.uplift_per_day
        lows.append(res.uplift_low_per_day)
    assert lows[1] < lows[0]  # the less certain the change, the less of it is counted on
