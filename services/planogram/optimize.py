"""Optimiser: exact MILP for the separable part, then best-swap local search on adjacency terms."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from services.planogram.adjacency import adjacency_value
from services.planogram.milp import MilpSolution, MilpTimeoutError, solve_milp
from services.planogram.model import DemandModel
from services.planogram.problem import Problem, build_problem
from services.planogram.rules import validate
from services.planogram.types import (
    Cabinet,
    Catalog,
    Constraints,
    FloatArray,
    InfeasibleError,
    IntArray,
    Move,
    Planogram,
    Violation,
    diff_planograms,
)
from services.planogram.value import ValueParams, evaluate

NEG = -np.inf


@dataclass(frozen=True, slots=True)
class OptimizationStep:
    """One improvement: phase 'current' (step 0), 'milp' (exact separable optimum) or 'swap'."""

    step: int
    phase: str
    moves: tuple[Move, ...]
    objective: float
    planogram: Planogram
    final: bool
    milp_optimal: bool = True


@dataclass(frozen=True, slots=True)
class OptimizationResult:
    """Final planogram with its value per day and the uplift over the current one."""

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


def planogram_objective(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    params: ValueParams,
    current: Planogram | None = None,
) -> float:
    """Full objective per day: separable value plus adjacency bonuses.

    With `current`, minus `params.change_cost_per_day` per slot that differs from it: what the optimiser
    maximises.  Without it (and in `OptimizationStep.objective`), the planogram's own value.
    """
    value = evaluate(model, cabinet, products, planogram, params).value + adjacency_value(
        model, cabinet, products, planogram, params
    )
    if current is not None:
        value -= params.change_cost_per_day * len(diff_planograms(current, planogram))
    return value


def _values(pb: Problem, a: IntArray) -> tuple[FloatArray, list[list[int]]]:
    slots: list[list[int]] = [[] for _ in pb.skus]
    for s, k in enumerate(a.tolist()):
        if k >= 0:
            slots[k].append(s)
    return np.array([pb.sku_value(k, sl) for k, sl in enumerate(slots)]), slots


def swap_deltas(pb: Problem, a: IntArray) -> FloatArray:
    """Change of the optimised objective (value minus change cost) of swapping the contents of every slot
    pair (s1, s2); -inf where not allowed."""
    n_s = len(a)
    occ = a >= 0
    ak = np.where(occ, a, 0)
    f_cur, slots = _values(pb, a)
    om = np.zeros(n_s)
    osum = np.zeros(n_s)
    ocap = np.zeros(n_s)
    for s in np.flatnonzero(occ).tolist():
        others = [t for t in slots[a[s]] if t != s]
        om[s] = pb.w[others].max() if others else 0.0
        osum[s] = pb.w[others].sum()
        ocap[s] = pb.cap[a[s], others].sum()
    eps, t_int = pb.eps, pb.interval
    vis = (1 - eps) * np.maximum(om[:, None], pb.w[None, :]) + eps * (osum[:, None] + pb.w[None, :])
    stock = (ocap[:, None] + pb.cap[ak, :]) / t_int
    b, u = pb.b[ak][:, None], pb.u[ak][:, None]
    f_new = u * np.minimum(b * vis, stock) - pb.penalty * np.maximum(u, 0) * np.maximum(0.0, b - stock)
    gain = np.where(occ[:, None], f_new - f_cur[ak][:, None], 0.0)
    need = pb.cover * t_int * b * vis
    ok = ~occ[:, None] | ((stock * t_int >= need * (1 - 1e-9) - 1e-9) & pb.feasible[ak, :])
    unlocked = pb.locked < 0
    allowed = ok & ok.T & unlocked[:, None] & unlocked[None, :] & (a[:, None] != a[None, :])
    allowed &= np.triu(np.ones((n_s, n_s), dtype=bool), 1)
    pad = np.zeros((len(pb.skus) + 1, len(pb.skus) + 1))
    pad[:-1, :-1] = pb.pairs
    ai = np.where(occ, a, len(pb.skus))
    nbr = pad[:, ai] @ pb.adjacency  # (K+1, S): bonus of sku k placed at slot t given current neighbours
    nn = nbr[ai, :]
    q = pad[ai][:, ai]
    dq = np.diag(q)
    dn = np.diag(nn)
    adj = nn + nn.T - dn[:, None] - dn[None, :] + pb.adjacency * (2 * q - dq[:, None] - dq[None, :])
    keep = pb.keep_matrix(a).astype(np.float64)  # keep[s, t]: slot s holding a[t] is no change
    dk = np.diag(keep)
    change = -pb.change_cost * (dk[:, None] + dk[None, :] - keep - keep.T)
    return np.where(allowed, gain + gain.T + adj + change, NEG)


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
    time_limit_s: float = 0.75,
) -> Iterator[OptimizationStep]:
    """Yield improvement steps (current, MILP optimum, then swaps); the last one has final=True.

    The search maximises value minus `params.change_cost_per_day` per changed slot; each step's
    `objective` is the planogram's value (`planogram_objective` without `current`).
    Raises InfeasibleError when no planogram satisfies the hard rules.
    """
    constraints = constraints or Constraints()
    params = params or ValueParams()
    current = current or Planogram(())
    pb = build_problem(model, cabinet, products, current, constraints, params, candidates)
    try:
        sol = solve_milp(pb, time_limit_s=time_limit_s)
    except MilpTimeoutError:
        a_cur = pb.to_assignment(current)
        if not _admissible(pb, a_cur, current, cabinet, products, constraints, model):
            raise
        sol = MilpSolution(a_cur, float("nan"), False, float("inf"))  # start the swap search from current

    def objective(p: Planogram) -> float:
        return planogram_objective(model, cabinet, products, p, params)

    pending = OptimizationStep(0, "current", (), objective(current), current, False)
    change_day = params.change_cost_per_day

    def net(assignment: IntArray) -> float:
        plan = pb.to_planogram(assignment, current)
        return objective(plan) - change_day * len(diff_planograms(current, plan))

    if not sol.optimal and pb.max_new and net(sol.assignment) < pending.objective:
        # Choosing which new skus to add is what can stall HiGHS at a poor incumbent (short batch time
        # limits); the problem without new skus is much smaller and is a valid planogram under any limit.
        sol = _without_new_skus(pb, sol, model, cabinet, products, current, constraints, params, time_limit_s, net)
    a = sol.assignment.copy()
    plan = pb.to_planogram(a, current)
    value = objective(plan)
    if not sol.optimal and value - change_day * len(diff_planograms(current, plan)) < pending.objective:
        # The time limit stopped HiGHS at a poor incumbent (a loaded machine): never propose a planogram
        # the model rates below the current one; start the swap search from the current one instead.
        a_cur = pb.to_assignment(current)
        if _admissible(pb, a_cur, current, cabinet, products, constraints, model):
            a, plan, value = a_cur, pb.to_planogram(a_cur, current), pending.objective
    nxt: OptimizationStep | None = OptimizationStep(
        1, "milp", diff_planograms(current, plan), value, plan, False, sol.optimal
    )
    step = 1
    while nxt is not None:
        yield pending
        pending, nxt = nxt, None
        if (params.separable and sol.optimal) or step > max_swaps:
            break
        # A swap exchanges two slots' contents: the set of stocked skus (and so the number of new ones,
        # max_new_skus) and every sku's facing count stay as the MILP step left them.
        d = swap_deltas(pb, a)
        best = int(np.argmax(d))
        if d.flat[best] <= 1e-9:
            break
        s1, s2 = divmod(best, len(a))
        changes = pb.changes(a)
        a[s1], a[s2] = a[s2], a[s1]
        step += 1
        plan = pb.to_planogram(a, current)
        moves = diff_planograms(pending.planogram, plan)
        # swap_deltas is the exact change of the full objective net of change cost (tested), so no
        # re-evaluation per step; the step reports the value, so the change cost is added back.
        value = pending.objective + float(d.flat[best]) + change_day * (pb.changes(a) - changes)
        nxt = OptimizationStep(step, "swap", moves, value, plan, False, sol.optimal)
    yield OptimizationStep(
        pending.step, pending.phase, pending.moves, pending.objective, pending.planogram, True, sol.optimal
    )


def _without_new_skus(
    pb: Problem,
    sol: MilpSolution,
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    current: Planogram,
    constraints: Constraints,
    params: ValueParams,
    time_limit_s: float,
    net: Callable[[IntArray], float],
) -> MilpSolution:
    """The MILP with max_new_skus = 0 (current skus only) when it beats the timed-out incumbent."""
    try:
        sub = build_problem(model, cabinet, products, current, replace(constraints, max_new_skus=0), params,
                            [k for i, k in enumerate(pb.skus) if pb.new is not None and not pb.new[i]])
        sub_sol = solve_milp(sub, time_limit_s=time_limit_s)
    except InfeasibleError:  # includes MilpTimeoutError
        return sol
    a = pb.to_assignment(sub.to_planogram(sub_sol.assignment, current))
    if net(a) <= net(sol.assignment) + 1e-9:
        return sol
    return MilpSolution(a, sub_sol.objective, False, sub_sol.mip_gap)


def _admissible(
    pb: Problem,
    a: IntArray,
    current: Planogram,
    cabinet: Cabinet,
    products: Catalog,
    constraints: Constraints,
    model: DemandModel,
) -> bool:
    """The current planogram, as an assignment of candidate skus, keeps every hard rule."""
    if pb.to_planogram(a, current).mapping() != current.mapping():
        return False
    if any(pb.locked[s] >= 0 and a[s] != pb.locked[s] for s in range(len(a))):
        return False
    return not any(v.severity == "hard" for v in validate(cabinet, products, current, constraints, model))


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
    time_limit_s: float = 0.75,
) -> OptimizationResult:
    """Run optimize_steps to the end and summarise the result against the current planogram."""
    params = params or ValueParams()
    current = current or Planogram(())
    steps = list(
        optimize_steps(
            model,
            cabinet,
            products,
            current,
            constraints,
            params,
            candidates=candidates,
            max_swaps=max_swaps,
            time_limit_s=time_limit_s,
        )
    )
    final, first = steps[-1], steps[0]
    milp_step = next(s for s in steps if s.phase == "milp")
    new = evaluate(model, cabinet, products, final.planogram, params)
    cur = evaluate(model, cabinet, products, current, params)
    uplift = final.objective - first.objective
    base = abs(first.objective)
    return OptimizationResult(
        final.planogram,
        final.objective,
        first.objective,
        uplift,
        100.0 * uplift / base if base > 0 else 0.0,
        new.revenue_per_day,
        new.margin_per_day,
        cur.revenue_per_day,
        cur.margin_per_day,
        evaluate(model, cabinet, products, milp_step.planogram, params).value,
        final.milp_optimal,
        len(steps) - 1,
        diff_planograms(current, final.planogram),
        validate(cabinet, products, final.planogram, constraints, model),
    )
