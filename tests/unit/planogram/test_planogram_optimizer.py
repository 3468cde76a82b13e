"""Optimiser: exact on separable instances (vs brute force), never breaks hard rules, streams steps."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest

from services.planogram.adjacency import adjacency_value
from services.planogram.model import DemandModel
from services.planogram.optimize import optimize, optimize_steps, planogram_objective, point_value
from services.planogram.problem import build_problem
from services.planogram.rules import hard_violations, validate
from services.planogram.search import swap_deltas
from services.planogram.types import (
    Cabinet,
    Constraints,
    InfeasibleError,
    Planogram,
    ProductSpec,
    SlotSpec,
    slot_code,
)
from services.planogram.value import ValueParams, evaluate

SEPARABLE = ValueParams(category_bonus=0.0, affinity_bonus=0.0, change_cost=0.0)


def tiny_instance(
    seed: int, build: Callable[..., DemandModel]
) -> tuple[Cabinet, dict[str, ProductSpec], DemandModel, Constraints]:
    rng = np.random.default_rng(seed)
    rows, cols = 2, int(rng.integers(2, 3, endpoint=True))
    n_s = rows * cols
    capacity = int(rng.integers(2, 7))  # one capacity per cabinet: the pattern MILP is exact then
    slots = tuple(
        SlotSpec(
            slot_code(r, c),
            r,
            c,
            80,
            float(rng.choice([150, 250])),
            500,
            capacity,
            "chilled" if rng.random() < 0.5 else "ambient",
        )
        for r in range(rows)
        for c in range(cols)
    )
    cab = Cabinet("T", rows, cols, "office", "combo", float(rng.choice([3.0, 7.0])), slots)
    n_k = int(rng.integers(2, 4, endpoint=True))
    prods = {}
    for i in range(n_k):
        price = float(rng.uniform(1, 3))
        prods[f"P{i}"] = ProductSpec(
            f"P{i}",
            f"P{i}",
            str(rng.choice(["a", "b"])),
            price,
            price * float(rng.uniform(0.3, 0.7)),
            60,
            float(rng.choice([100, 200])),
            60,
            "chilled" if rng.random() < 0.4 else "ambient",
        )
    base = {k: float(rng.uniform(0.1, 2.5)) for k in prods}
    model = build(cab, base, rng.uniform(0.5, 1.6, n_s), lifts={("P0", "P1"): float(rng.uniform(1.5, 4))})
    skus = list(prods)
    must = frozenset(k for k in skus if rng.random() < 0.25)
    locked: tuple[tuple[str, str], ...] = ()
    if rng.random() < 0.3:
        locked = ((slots[0].code, skus[int(rng.integers(n_k))]),)
    cons = Constraints(
        must_stock=must,
        locked=locked,
        default_max_facings=int(rng.integers(1, 3, endpoint=True)),
        min_cover_fraction=float(rng.choice([0.0, 0.5])),
    )
    return cab, prods, model, cons


def brute_force(
    cab: Cabinet,
    prods: dict[str, ProductSpec],
    model: DemandModel,
    cons: Constraints,
    params: ValueParams,
    current: Planogram | None = None,
) -> float | None:
    """Best objective over every assignment that passes validate's hard rules (and the facing cap),
    introducing at most `cons.max_new_skus` skus absent from a non-empty current planogram."""
    try:  # the optimiser caps facings at what covers the interval when products can fill the cabinet
        pb = build_problem(model, cab, prods, current, cons, params)
        max_f = dict(zip(pb.skus, pb.max_f.tolist(), strict=True))
    except InfeasibleError:  # e.g. a locked sku that cannot sit in its slot: nothing below passes
        max_f = {k: cons.max_for(k) for k in prods}
    stocked = set(current.mapping().values()) if current is not None else set()
    limit = cons.max_new_skus if stocked else None
    best: float | None = None
    codes = cab.slot_codes()
    for combo in itertools.product([None, *prods], repeat=len(codes)):
        plan = Planogram.of({s: k for s, k in zip(codes, combo, strict=True) if k is not None})
        if any(len(v) > max_f[k] for k, v in plan.facings().items()):
            continue
        if limit is not None and len(set(plan.mapping().values()) - stocked) > limit:
            continue
        if hard_violations(validate(cab, prods, plan, cons, model)):
            continue
        val = planogram_objective(model, cab, prods, plan, params, current)
        best = val if best is None or val > best else best
    return best


@pytest.mark.parametrize("seed", range(30))
def test_separable_optimum_equals_brute_force(seed: int, model_factory: Callable[..., DemandModel]) -> None:
    cab, prods, model, cons = tiny_instance(seed, model_factory)
    expected = brute_force(cab, prods, model, cons, SEPARABLE)
    if expected is None:
        with pytest.raises(InfeasibleError):
            optimize(model, cab, prods, None, cons, SEPARABLE)
        return
    res = optimize(model, cab, prods, None, cons, SEPARABLE, time_limit_s=10)
    assert res.planning_score == pytest.approx(expected, abs=1e-6)
    assert res.optimal
    assert not hard_violations(validate(cab, prods, res.planogram, cons, model))


@pytest.mark.parametrize("seed", range(20))
def test_change_cost_optimum_equals_brute_force(seed: int, model_factory: Callable[..., DemandModel]) -> None:
    """With a large per-slot change cost the MILP still finds the exact optimum of value minus changes."""
    cab, prods, model, cons = tiny_instance(seed, model_factory)
    rng = np.random.default_rng(1000 + seed)
    current = Planogram.of({s: str(rng.choice(list(prods))) for s in cab.slot_codes() if rng.random() < 0.8})
    params = ValueParams(category_bonus=0.0, affinity_bonus=0.0, change_cost=0.4, change_horizon_days=1.0)
    expected = brute_force(cab, prods, model, cons, params, current)
    if expected is None:
        return
    res = optimize(model, cab, prods, current, cons, params, time_limit_s=10)
    assert res.planning_score == pytest.approx(expected, abs=1e-6)
    assert res.planning_score == pytest.approx(
        planogram_objective(model, cab, prods, res.planogram, params, current), abs=1e-9
    )


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("limit", [0, 1])
def test_new_sku_limit_optimum_equals_brute_force(
    seed: int, limit: int, model_factory: Callable[..., DemandModel]
) -> None:
    """With max_new_skus the MILP finds the best planogram that introduces at most that many new skus."""
    cab, prods, model, cons = tiny_instance(seed, model_factory)
    rng = np.random.default_rng(2000 + seed)
    stocked = list(prods)[: max(1, len(prods) // 2)]  # leave several skus out so the limit can bind
    current = Planogram.of({s: str(rng.choice(stocked)) for s in cab.slot_codes() if rng.random() < 0.8})
    if not current.mapping():
        current = Planogram.of({cab.slot_codes()[0]: stocked[0]})
    locked = tuple((s, k) for s, k in cons.locked if current.mapping().get(s) == k)
    cons = Constraints(
        must_stock=cons.must_stock,
        locked=locked,
        default_max_facings=cons.default_max_facings,
        min_cover_fraction=cons.min_cover_fraction,
        max_new_skus=limit,
    )
    expected = brute_force(cab, prods, model, cons, SEPARABLE, current)
    if expected is None:
        with pytest.raises(InfeasibleError):
            optimize(model, cab, prods, current, cons, SEPARABLE, time_limit_s=10)
        return
    res = optimize(model, cab, prods, current, cons, SEPARABLE, time_limit_s=10)
    assert res.planning_score == pytest.approx(expected, abs=1e-6)
    assert len(set(res.planogram.mapping().values()) - set(current.mapping().values())) <= limit


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_new_sku_limit_holds_through_every_step(device, limit: int) -> None:  # type: ignore[no-untyped-def]
    """MILP and swap steps (adjacency on) never stock more skus absent from the current planogram."""
    stocked = set(device.current.mapping().values())
    params = ValueParams(category_bonus=0.2, affinity_bonus=0.2)
    steps = list(
        optimize_steps(
            device.model,
            device.cabinet,
            device.products,
            device.current,
            Constraints(max_new_skus=limit),
            params,
            time_limit_s=5,
        )
    )
    for s in steps:
        assert len(set(s.planogram.mapping().values()) - stocked) <= limit
    free = optimize(
        device.model,
        device.cabinet,
        device.products,
        device.current,
        Constraints(max_new_skus=None),
        params,
        time_limit_s=5,
    )
    assert len(set(free.planogram.mapping().values()) - stocked) > limit  # the limit binds here


def test_new_sku_limit_zero_keeps_the_range(device) -> None:  # type: ignore[no-untyped-def]
    res = optimize(
        device.model, device.cabinet, device.products, device.current, Constraints(max_new_skus=0), time_limit_s=5
    )
    assert set(res.planogram.mapping().values()) <= set(device.current.mapping().values())
    assert res.objective >= res.current_objective - 1e-9


def test_new_sku_limit_ignored_for_an_empty_machine(device) -> None:  # type: ignore[no-untyped-def]
    res = optimize(device.model, device.cabinet, device.products, None, Constraints(max_new_skus=0), time_limit_s=5)
    assert len(res.planogram.mapping()) > 0


def test_must_stock_beyond_new_sku_limit_is_infeasible(device) -> None:  # type: ignore[no-untyped-def]
    absent = sorted(set(device.products) - set(device.current.mapping().values()))[:3]
    cons = Constraints(must_stock=frozenset(absent), max_new_skus=2)
    with pytest.raises(InfeasibleError, match="max_new_skus"):
        optimize(device.model, device.cabinet, device.products, device.current, cons)
    res = optimize(
        device.model,
        device.cabinet,
        device.products,
        device.current,
        Constraints(must_stock=frozenset(absent[:2]), max_new_skus=2),
        time_limit_s=5,
    )
    assert set(absent[:2]) <= set(res.planogram.mapping().values())


def test_change_cost_keeps_slots_whose_change_gains_little(device) -> None:  # type: ignore[no-untyped-def]
    free = optimize(
        device.model,
        device.cabinet,
        device.products,
        device.current,
        params=ValueParams(change_cost=0.0),
        time_limit_s=5,
    )
    costly = optimize(
        device.model,
        device.cabinet,
        device.products,
        device.current,
        params=ValueParams(change_cost=5.0),
        time_limit_s=5,
    )
    assert len(costly.moves) < len(free.moves)
    costly_params = ValueParams(change_cost=5.0)
    net = [
        planogram_objective(device.model, device.cabinet, device.products, r.planogram, costly_params, device.current)
        for r in (costly, free)
    ]
    assert net[0] >= net[1] - 1e-6


@pytest.mark.parametrize("seed", range(30, 80))
def test_result_never_breaks_hard_rules(seed: int, model_factory: Callable[..., DemandModel]) -> None:
    cab, prods, model, cons = tiny_instance(seed, model_factory)
    try:
        res = optimize(
            model,
            cab,
            prods,
            None,
            cons,
            ValueParams(category_bonus=0.3, affinity_bonus=0.3),
            time_limit_s=10,
        )
    except InfeasibleError:
        assert brute_force(cab, prods, model, cons, SEPARABLE) is None
        return
    assert not hard_violations(validate(cab, prods, res.planogram, cons, model))


def test_full_size_result_is_valid_and_improves(device) -> None:  # type: ignore[no-untyped-def]
    cons = Constraints(must_stock=frozenset({"SKU001", "SKU002"}), locked=(("F1", device.current.mapping()["F1"]),))
    res = optimize(device.model, device.cabinet, device.products, device.current, cons)
    assert not hard_violations(res.violations)
    assert res.planogram.mapping()["F1"] == device.current.mapping()["F1"]
    assert {"SKU001", "SKU002"} <= set(res.planogram.mapping().values())
    assert res.objective > res.current_objective
    assert res.objective == pytest.approx(res.margin_per_day)  # margin per day: the figure users see
    assert res.uplift_per_day == pytest.approx(res.margin_per_day - res.current_margin_per_day)


def test_steps_stream_improvements_and_flag_final(device) -> None:  # type: ignore[no-untyped-def]
    steps = list(optimize_steps(device.model, device.cabinet, device.products, device.current))
    assert [s.step for s in steps] == list(range(len(steps)))
    assert steps[0].phase == "current" and steps[1].phase == "milp"
    assert [s.final for s in steps] == [False] * (len(steps) - 1) + [True]
    scores = [s.score for s in steps[1:]]  # the search improves its planning score at every swap
    assert all(b > a - 1e-9 for a, b in itertools.pairwise(scores))
    for prev, cur in itertools.pairwise(steps):
        applied = prev.planogram.mapping()
        for mv in cur.moves:
            assert applied.get(mv.slot) == mv.from_sku
            if mv.to_sku is None:
                applied.pop(mv.slot)
            else:
                applied[mv.slot] = mv.to_sku
        assert applied == cur.planogram.mapping()
    params = ValueParams()
    for s in steps:  # objective: the planogram's margin/day; score: value + adjacency - change cost
        assert s.objective == pytest.approx(
            point_value(device.model, device.cabinet, device.products, s.planogram, params), rel=1e-9
        )
        expected = planogram_objective(
            device.model, device.cabinet, device.products, s.planogram, params, device.current
        )
        assert s.score == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_swap_deltas_match_recomputed_objective(device) -> None:  # type: ignore[no-untyped-def]
    params = ValueParams(category_bonus=0.1, affinity_bonus=0.2, change_cost=2.0)  # change cost visible
    pb = build_problem(device.model, device.cabinet, device.products, device.current, Constraints(), params)
    rng = np.random.default_rng(0)
    start = pb.to_assignment(device.current)
    moved = start.copy()  # also from a state that already differs from current (swaps can undo changes)
    for s1, s2 in zip(rng.integers(0, 60, 10).tolist(), rng.integers(0, 60, 10).tolist(), strict=True):
        moved[s1], moved[s2] = moved[s2], moved[s1]
    checked = 0
    for a in (start, moved):
        d = swap_deltas(pb, a)
        base = planogram_objective(
            device.model, device.cabinet, device.products, pb.to_planogram(a, None), params, device.current
        )
        for s1, s2 in zip(rng.integers(0, 60, 400).tolist(), rng.integers(0, 60, 400).tolist(), strict=True):
            i, j = min(s1, s2), max(s1, s2)
            if not np.isfinite(d[i, j]):
                continue
            b = a.copy()
            b[i], b[j] = b[j], b[i]
            new = planogram_objective(
                device.model, device.cabinet, device.products, pb.to_planogram(b, None), params, device.current
            )
            assert d[i, j] == pytest.approx(new - base, abs=1e-9)
            checked += 1
    assert checked > 100


def test_adjacency_rewards_category_blocks(model_factory: Callable[..., DemandModel]) -> None:
    cab = Cabinet.uniform("A", 1, 4, cabinet_type="ambient")
    prods = {k: ProductSpec(k, k, c, 2.0, 1.0) for k, c in (("X1", "x"), ("X2", "x"), ("Y1", "y"), ("Y2", "y"))}
    model = model_factory(cab, dict.fromkeys(prods, 0.5))
    params = ValueParams(category_bonus=0.5, affinity_bonus=0.0)
    split = Planogram.of({"A1": "X1", "A2": "Y1", "A3": "X2", "A4": "Y2"})
    res = optimize(model, cab, prods, split, Constraints(default_max_facings=1), params)
    m = res.planogram.mapping()
    cats = [prods[m[f"A{i}"]].category for i in range(1, 5)]
    assert cats in (["x", "x", "y", "y"], ["y", "y", "x", "x"])
    assert adjacency_value(model, cab, prods, res.planogram, params) == pytest.approx(1.0)


def test_optimiser_is_deterministic(device) -> None:  # type: ignore[no-untyped-def]
    a = optimize(device.model, device.cabinet, device.products, device.current, time_limit_s=5)
    b = optimize(device.model, device.cabinet, device.products, device.current, time_limit_s=5)
    assert a.planogram == b.planogram and a.objective == b.objective


def test_infeasible_must_stock_raises(model_factory: Callable[..., DemandModel]) -> None:
    cab = Cabinet.uniform("A", 1, 2, cabinet_type="ambient")
    prods = {"C": ProductSpec("C", "C", "x", 2.0, 1.0, temperature="chilled")}
    with pytest.raises(InfeasibleError):
        optimize(model_factory(cab, {"C": 1.0}), cab, prods, None, Constraints(must_stock=frozenset({"C"})))


def test_evaluate_matches_definition(model_factory: Callable[..., DemandModel]) -> None:
    cab = Cabinet.uniform("A", 1, 3, cabinet_type="ambient", capacity=7, service_interval_days=7)
    prods = {"F": ProductSpec("F", "F", "x", 2.0, 0.5)}
    model = model_factory(cab, {"F": 2.0}, [2.0, 1.0, 0.0 + 0.5])
    params = ValueParams(uncertainty_discount=0.0)  # the undiscounted definition
    pv = evaluate(model, cab, prods, Planogram.of({"A1": "F", "A3": "F"}), params)
    demand = 2.0 * 2.0 * 2**0.17  # best weight x n_facings ** eps (constant space elasticity)
    m, c = demand * 7, 14  # Poisson demand over the 7-day interval, 14 units of stock
    pmf = [math.exp(-m) * m**j / math.factorial(j) for j in range(c)]
    sold = sum(min(j, c) * p for j, p in enumerate(pmf)) + c * (1 - sum(pmf))  # E[min(N, C)]
    assert pv.per_sku["F"].demand == pytest.approx(demand)
    assert pv.per_sku["F"].sold == pytest.approx(sold / 7, rel=1e-9)
    assert pv.value == pytest.approx(1.5 * sold / 7, rel=1e-9)
