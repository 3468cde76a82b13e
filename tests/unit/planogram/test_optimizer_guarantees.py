"""The optimiser's promises: never below the repaired floor, no empty slot, constraints kept, named 422s."""

from __future__ import annotations

import pytest

from services.planogram.optimize import optimize, point_value
from services.planogram.problem import build_problem
from services.planogram.repair import repair
from services.planogram.rules import hard_violations, validate
from services.planogram.types import Constraints, InfeasibleError, diff_planograms
from services.planogram.value import ValueParams


def _absent(device) -> list[str]:  # type: ignore[no-untyped-def]
    stocked = set(device.current.mapping().values())
    return sorted(k for k in device.products if k not in stocked)


def _fitting_skus_exist(device, slot: str) -> bool:  # type: ignore[no-untyped-def]
    pb = build_problem(device.model, device.cabinet, device.products, device.current, Constraints(), ValueParams())
    return bool(pb.feasible[:, pb.slots.index(slot)].any())


@pytest.mark.parametrize("kind", ["default", "must_new", "min_facings", "max_new", "budget", "locks"])
def test_answer_is_never_below_the_repaired_floor_and_fills_the_cabinet(device, kind: str) -> None:  # type: ignore[no-untyped-def]
    top = max(device.current.facings(), key=lambda k: device.model.base_demand(k))
    codes = sorted(device.current.mapping())
    cons = {
        "default": Constraints(),
        "must_new": Constraints(
            must_stock=frozenset(_absent(device)[:1]), locked=tuple((s, device.current.mapping()[s]) for s in codes[:2])
        ),
        "min_facings": Constraints(min_facings=((top, 3),)),
        "max_new": Constraints(max_new_skus=1),
        "budget": Constraints(max_changed_slots=6),
        "locks": Constraints(locked=tuple((s, device.current.mapping()[s]) for s in codes[::7])),
    }[kind]
    params = ValueParams()
    res = optimize(device.model, device.cabinet, device.products, device.current, cons, params)
    pb = build_problem(device.model, device.cabinet, device.products, device.current, cons, params)
    floor = pb.to_planogram(repair(pb).filled, device.current)
    floor_value = point_value(device.model, device.cabinet, device.products, floor, params)
    assert res.objective >= floor_value - 1e-9
    assert not hard_violations(res.violations)
    empty = [s.code for s in device.cabinet.slots if s.code not in res.planogram.mapping()]
    assert not [s for s in empty if _fitting_skus_exist(device, s)] or kind == "budget"
    if kind == "min_facings":
        assert len(res.planogram.facings()[top]) >= 3
    if kind == "budget":
        assert len(diff_planograms(device.current, res.planogram)) <= 6


def test_a_new_must_stock_product_changes_little_else(device) -> None:  # type: ignore[no-untyped-def]
    """Must-stock of a product the machine does not carry: it goes in, the rest of the cabinet stays full."""
    new = _absent(device)[0]
    res = optimize(
        device.model, device.cabinet, device.products, device.current, Constraints(must_stock=frozenset({new}))
    )
    assert new in res.planogram.mapping().values()
    assert len(res.planogram.mapping()) >= len(device.current.mapping())


def test_the_safety_limit_falls_back_to_the_floor_and_says_so(device) -> None:  # type: ignore[no-untyped-def]
    res = optimize(device.model, device.cabinet, device.products, device.current, time_limit_s=1e-9)
    assert res.status == "floor" and not res.optimal
    assert res.objective >= res.current_objective - 1e-9  # the floor of a plain request is today, filled


def test_uplift_is_margin_per_day_against_today(device) -> None:  # type: ignore[no-untyped-def]
    res = optimize(device.model, device.cabinet, device.products, device.current)
    assert res.uplift_per_day == pytest.approx(res.margin_per_day - res.current_margin_per_day)
    assert res.uplift_pct == pytest.approx(100 * res.uplift_per_day / res.current_margin_per_day)
    revenue = ValueParams(objective="revenue")
    rev = optimize(device.model, device.cabinet, device.products, device.current, params=revenue)
    assert rev.uplift_per_day == pytest.approx(rev.revenue_per_day - rev.current_revenue_per_day)


def test_identical_requests_give_identical_answers(device) -> None:  # type: ignore[no-untyped-def]
    cons = Constraints(must_stock=frozenset(_absent(device)[:1]))
    a = optimize(device.model, device.cabinet, device.products, device.current, cons)
    b = optimize(device.model, device.cabinet, device.products, device.current, cons)
    assert a.planogram == b.planogram and a.optimal and b.optimal


@pytest.mark.parametrize(
    ("cons", "needle"),
    [
        (Constraints(min_facings=(("SKU001", -1),)), "negative"),
        (Constraints(min_facings=(("SKU001", 3),), max_facings=(("SKU001", 2),)), "exceeds its max_facings"),
        (Constraints(min_facings=(("SKU001", 999),)), "slots"),
        (Constraints(must_stock=frozenset({"NOPE"})), "unknown sku NOPE"),
        (Constraints(locked=(("Z99", "SKU001"),)), "locked slot Z99"),
        (Constraints(max_changed_slots=-1), "max_changed_slots"),
    ],
)
def test_impossible_requests_name_each_problem(device, cons: Constraints, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InfeasibleError, match=needle):
        optimize(device.model, device.cabinet, device.products, device.current, cons)


def test_a_floor_that_breaks_cover_is_still_a_floor(device) -> None:  # type: ignore[no-untyped-def]
    """Days of cover is a soft rule: a current planogram short of cover is never discarded."""
    strict = Constraints(min_cover_fraction=5.0)
    res = optimize(device.model, device.cabinet, device.products, device.current, strict)
    assert not hard_violations(validate(device.cabinet, device.products, res.planogram, strict, device.model))
    assert res.objective >= res.current_objective - 1e-9
