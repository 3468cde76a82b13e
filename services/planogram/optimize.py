"""Optimiser: the repaired floor, the exact pattern MILP for the separable part, then best-swap local search.

Every answer is at least the floor (today's planogram minimally repaired to satisfy the request,
`repair.py`) in both the planning score and the point-estimate value, so the engine never proposes a
planogram it rates below what the request allows today.  No wall-clock limit decides the answer: HiGHS
proves the MILP optimal, and its time limit is only a safety net that falls back to the floor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from services.planogram.adjacency import adjacency_value
from services.planogram.milp import MilpTimeoutError, solve_milp
from services.planogram.model import DemandModel
from services.planogram.problem import Problem, build_problem
from services.planogram.repair import repair
from services.planogram.revenue import predict_revenue
from services.planogram.rules import validate
from services.planogram.search import planning_score, swap_deltas
from services.planogram.types import (
    Cabinet,
    Catalog,
    Constraints,
    IntArray,
    Move,
    Planogram,
    Violation,
    diff_planograms,
)
from services.planogram.value import ValueParams, evaluate

SAFETY_LIMIT_S = 60.0
UPLIFT_LOW_LEVEL = 0.9  # two-sided level of the change interval whose lower end is uplift_low_per_day


@dataclass(frozen=True, slots=True)
class OptimizationStep:
    """One improvement: phase 'current' (step 0), 'milp' (exact separable optimum) or 'swap'.

    objective: the planogram's predicted margin (or revenue, per the objective) per day, point estimate;
    score: the planning score the search maximises (uncertainty-discounted value + adjacency - change cost).
    """

    step: int
    phase: str
    moves: tuple[Move, ...]
    objective: float
    planogram: Planogram
    final: bool
    milp_optimal: bool = True
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class OptimizationResult:
    """Final planogram with its margin (or revenue) per day and the uplift over the current one.

    objective / current_objective / uplift_*: predicted margin (objective "margin") or revenue per day,
    point estimates, the same figures everywhere.  planning_score: what the search maximised.
    status: "optimal" (proven), or "floor" when the safety-net limit stopped the solver.
    uplift_low_per_day: the gain one can count on: the lower end of the 90 % interval of the predicted
    change (one-sided 95 %), which also corrects for the optimiser's curse (docs/ENGINE.md).
    """

    planogram: Planogram
    objective: float
    current_objective: float
    uplift_per_day: float
    uplift_pct: float
    revenue_per_day: float
    margin_per_day: float
    current_revenue_per_day: float
    current_margin_per_day: float
    milp_objective: float
    optimal: bool
    steps: int
    moves: tuple[Move, ...]
    violations: tuple[Violation, ...]
    planning_score: float = 0.0
    current_planning_score: float = 0.0
    status: str = "optimal"
    uplift_low_per_day: float = 0.0


def planogram_objective(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    params: ValueParams,
    current: Planogram | None = None,
) -> float:
    """The optimiser's planning score: separable value plus adjacency bonuses, valued as the search values
    (`DemandModel.for_planning`).

    With `current`, minus `params.change_cost_per_day` per slot whose current sku is replaced or removed
    (filling an empty slot costs nothing).
    """
    model = model.for_planning()
    value = evaluate(model, cabinet, products, planogram, params).value + adjacency_value(
        model, cabinet, products, planogram, params
    )
    if current is not None:
        replaced = [m for m in diff_planograms(current, planogram) if m.from_sku is not None]
        value -= params.change_cost_per_day * len(replaced)
    return value


def point_value(
    model: DemandModel, cabinet: Cabinet, products: Catalog, planogram: Planogram, params: ValueParams
) -> float:
    """Predicted margin (objective "margin") or revenue per day of a planogram: the figure users see."""
    v = evaluate(model, cabinet, products, planogram, params)
    return v.margin_per_day if params.objective == "margin" else v.revenue_per_day


@dataclass(frozen=True, slots=True)
class _Plan:
    """The search's start and its guarantees."""

    pb: Problem
    floor: IntArray
    budget: int | None
    optimal: bool
    start: IntArray


def _plan(pb: Problem, time_limit_s: float, exact: bool = True) -> _Plan:
    """Floor, change budget and the MILP answer (or the floor when the safety net stops the solver, or
    without ``exact``: a preview that never depends on how fast the machine is)."""
    floor = repair(pb)
    budget = None if pb.max_changes is None else max(pb.max_changes, floor.forced_changes)
    base = floor.repaired if budget is not None and pb.changes(floor.filled) > budget else floor.filled
    try:
        if not exact:
            raise MilpTimeoutError("no exact solve asked for")
        sol = solve_milp(pb, time_limit_s=time_limit_s, max_changes=budget)
    except MilpTimeoutError:
        if not floor.complete:
            raise
        return _Plan(pb, base, budget, False, base)
    start = sol.assignment
    if floor.complete and planning_score(pb, base) > planning_score(pb, start):
        start = base  # the MILP's capacity approximation can rate a different planogram higher
    return _Plan(pb, base if floor.complete else start, budget, sol.optimal, start)


def _swaps(plan: _Plan, max_swaps: int) -> Iterator[IntArray]:
    """Assignments after each improving swap, best first."""
    a = plan.start.copy()
    for _ in range(max_swaps):
        d = swap_deltas(plan.pb, a, plan.budget)
        best = int(np.argmax(d))
        if d.flat[best] <= 1e-9:
            return
        s1, s2 = divmod(best, len(a))
        a[s1], a[s2] = a[s2], a[s1]
        yield a.copy()


def optimize_steps(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    current: Planogram | None,
    constraints: Constraints | None = None,
    params: ValueParams | None = None,
    *,
    candidates: Sequence[str] | None = None,
    max_swaps: int = 200,
    time_limit_s: float = SAFETY_LIMIT_S,
    exact: bool = True,
) -> Iterator[OptimizationStep]:
    """Yield steps (current, MILP optimum, then improving swaps); the last one has final=True.

    The answer is never below the floor (module docstring).  Raises InfeasibleError naming the
    constraints when no planogram satisfies the request's hard rules.  ``exact=False``: the floor and
    its swaps only (a quick preview; MilpTimeoutError when the floor is incomplete).
    """
    params = params or ValueParams()
    current = current or Planogram(())
    pb = build_problem(model, cabinet, products, current, constraints or Constraints(), params, candidates)
    plan = _plan(pb, time_limit_s, exact)

    def step(i: int, phase: str, a: IntArray, previous: Planogram) -> OptimizationStep:
        p = pb.to_planogram(a, current)
        value = point_value(model, cabinet, products, p, params)
        return OptimizationStep(
            i, phase, diff_planograms(previous, p), value, p, False, plan.optimal, planning_score(pb, a)
        )

    today = point_value(model, cabinet, products, current, params)
    today_score = planning_score(pb, pb.to_assignment(current))
    chain = [OptimizationStep(0, "current", (), today, current, False, plan.optimal, today_score)]
    chain.append(step(1, "milp", plan.start, current))
    if not params.separable:
        for a in _swaps(plan, max_swaps):
            chain.append(step(len(chain), "swap", a, chain[-1].planogram))
    floor_value = point_value(model, cabinet, products, pb.to_planogram(plan.floor, current), params)
    while len(chain) > 2 and chain[-1].objective < floor_value - 1e-9:
        chain.pop()  # never below the floor's point value either
    if chain[-1].objective < floor_value - 1e-9:
        chain[-1] = step(1, "milp", plan.floor, current)
    yield from chain[:-1]
    yield replace(chain[-1], final=True)


def optimize(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    current: Planogram | None,
    constraints: Constraints | None = None,
    params: ValueParams | None = None,
    *,
    candidates: Sequence[str] | None = None,
    max_swaps: int = 200,
    time_limit_s: float = SAFETY_LIMIT_S,
) -> OptimizationResult:
    """Run optimize_steps to the end and summarise the result against the current planogram."""
    params = params or ValueParams()
    current = current or Planogram(())
    problem = (model, cabinet, products, current, constraints, params)
    steps = list(optimize_steps(*problem, candidates=candidates, max_swaps=max_swaps, time_limit_s=time_limit_s))
    final, first = steps[-1], steps[0]
    milp_step = next(s for s in steps if s.phase == "milp")
    new = evaluate(model, cabinet, products, final.planogram, params)
    cur = evaluate(model, cabinet, products, current, params)
    uplift = final.objective - first.objective
    change = predict_revenue(model, cabinet, products, final.planogram, current, level=UPLIFT_LOW_LEVEL)
    low = change.delta_margin_interval if params.objective == "margin" else change.delta_revenue_interval
    return OptimizationResult(
        planogram=final.planogram,
        objective=final.objective,
        current_objective=first.objective,
        uplift_per_day=uplift,
        uplift_pct=100.0 * uplift / abs(first.objective) if first.objective else 0.0,
        revenue_per_day=new.revenue_per_day,
        margin_per_day=new.margin_per_day,
        current_revenue_per_day=cur.revenue_per_day,
        current_margin_per_day=cur.margin_per_day,
        milp_objective=milp_step.objective,
        optimal=final.milp_optimal,
        steps=len(steps) - 1,
        moves=diff_planograms(current, final.planogram),
        violations=validate(cabinet, products, final.planogram, constraints, model),
        planning_score=final.score,
        current_planning_score=first.score,
        status="optimal" if final.milp_optimal else "floor",
        uplift_low_per_day=min(low[0], uplift),
    )
