"""The MILP's shortcut (LP relaxation, then its neighbourhood) answers what the full MILP answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from services.planogram import milp
from services.planogram.fit import fit_model
from services.planogram.priors import FleetRates, StockRow
from services.planogram.problem import Problem, build_problem
from services.planogram.rules import hard_violations, validate
from services.planogram.synthetic import generate_fleet
from services.planogram.types import Constraints, InfeasibleError, Planogram
from services.planogram.value import ValueParams

FLEET = generate_fleet(6, np.random.default_rng(11), days=90, current="operator")


def _problems(constraints: Constraints) -> list[Problem]:
    """Six cold 6x10 operator machines of the generator, 80 candidate products each (seed 11)."""
    fleet = FLEET
    products = {p.sku: p for p in fleet.products}
    rows = []
    for d in fleet.devices:
        ks, ns = np.unique(d.sales.sku, return_counts=True)
        sold = {d.sales.skus[k]: float(n) for k, n in zip(ks.tolist(), ns.tolist(), strict=True)}
        for sku in sorted(set(sold) | set(d.planogram.mapping().values())):
            rows.append(StockRow(d.cabinet.device_id, d.cabinet.venue_type, sku, sold.get(sku, 0.0), 90.0))
    rates = FleetRates.from_rows(rows, {p.sku: p.category for p in fleet.products})
    out = []
    for d in fleet.devices:
        model = fit_model(d.cabinet, products, d.sales, d.planogram, priors=rates.priors(d.cabinet.device_id))
        out.append(build_problem(model, d.cabinet, products, d.planogram, constraints, ValueParams()))
    return out


@pytest.fixture(scope="module")
def plain() -> list[Problem]:
    return _problems(Constraints())


@pytest.fixture(scope="module")
def budgeted() -> list[Problem]:
    """The same machines with a route driver's budget of 6 changed slots (a side constraint)."""
    return _problems(Constraints(max_changed_slots=6))


def _same_optimum(short: milp.MilpSolution, full: milp.MilpSolution) -> None:
    assert short.optimal and full.optimal
    assert short.objective == pytest.approx(full.objective, rel=milp.REL_GAP, abs=milp.REL_GAP)


def test_shortcut_equals_the_full_milp_and_takes_each_of_its_paths(
    plain: list[Problem], budgeted: list[Problem]
) -> None:
    methods = []
    for pb in [*plain, *budgeted]:
        short, full = milp.solve_milp(pb), milp.solve_milp(pb, shortcut=False)
        _same_optimum(short, full)
        assert full.method == "full"
        assert short.mip_gap <= milp.REL_GAP
        methods.append(short.method)
    # seed 11's machines: without a budget every LP relaxation is integral; the change budget makes some
    # fractional, and their neighbourhood settles them or (when it falls short of the bound) the full MILP does
    assert {"lp", "neighbourhood", "full"} <= set(methods)


def test_shortcut_keeps_change_and_new_product_budgets() -> None:
    for pb in _problems(Constraints(max_new_skus=1, max_changed_slots=6))[:3]:
        short, full = milp.solve_milp(pb), milp.solve_milp(pb, shortcut=False)
        _same_optimum(short, full)
        assert pb.changes(short.assignment) <= 6
        assert pb.new is not None and int(pb.new[np.unique(short.assignment[short.assignment >= 0])].sum()) <= 1


def test_neighbourhood_short_of_the_bound_falls_back_to_the_full_milp(
    budgeted: list[Problem], monkeypatch: pytest.MonkeyPatch
) -> None:
    fractional = [pb for pb in budgeted if milp.solve_milp(pb).method == "neighbourhood"]
    expected = milp.solve_milp(fractional[0], shortcut=False)
    monkeypatch.setattr(milp, "REL_GAP", 0.0)  # its neighbourhood answer is short of the LP bound (by 1e-5)
    res = milp.solve_milp(fractional[0])
    assert res.method == "full"
    assert res.objective == pytest.approx(expected.objective, rel=1e-4)


def test_shortcut_answer_passes_every_hard_rule(plain: list[Problem]) -> None:
    products = {p.sku: p for p in FLEET.products}
    for pb, device in zip(plain, FLEET.devices, strict=True):
        sol = milp.solve_milp(pb)
        plan = Planogram.of({pb.slots[s]: pb.skus[k] for s, k in enumerate(sol.assignment.tolist()) if k >= 0})
        assert not hard_violations(validate(device.cabinet, products, plan, Constraints()))
        assert len(plan.mapping()) == len(pb.slots)  # nothing left empty: every slot has a fitting product


def test_an_infeasible_relaxation_is_reported_as_infeasible(plain: list[Problem]) -> None:
    pb = plain[0]
    everyone = np.ones(len(pb.skus), dtype=bool)  # every product must be stocked: more than the slots
    with pytest.raises(InfeasibleError):
        milp.solve_milp(dataclasses.replace(pb, must=everyone))


def test_the_safety_limit_is_a_timeout_not_infeasibility(plain: list[Problem]) -> None:
    with pytest.raises(milp.MilpTimeoutError):
        milp.solve_milp(plain[0], time_limit_s=1e-9)
