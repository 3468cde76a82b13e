"""Exact MILP (scipy/HiGHS) for the separable objective: one pattern variable per sku x facings x best slot.

The value of a sku depends only on its best facing's weight, its number of facings n and the stock they
hold (docs/ENGINE.md), so a binary y[k,n,s] ("sku k on n facings whose best one is slot s") carries the
exact non-linear value (Poisson sales capped by stock) as a plain coefficient.  Facings are binaries
x[k,t] linked by sum_t x[k,t] = sum n y[k,n,s] and y[k,.,s] <= x[k,s].  The LP relaxation is close to
integral (an assignment structure), so HiGHS proves 60-slot, 100-product instances optimal in about a
second of CPU; no wall-clock limit decides the answer (the limit is only a safety net, `MilpTimeoutError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from services.planogram.problem import Problem
from services.planogram.types import FloatArray, InfeasibleError, IntArray

REL_GAP = 1e-6  # optimality proven to within a millionth of the objective


class MilpTimeoutError(RuntimeError):
    """The safety-net time limit stopped the solver before it found an answer (not infeasibility)."""


@dataclass(frozen=True, slots=True)
class MilpSolution:
    """Assignment (slot -> sku index or -1), solver objective and whether optimality was proven."""

    assignment: IntArray
    objective: float
    optimal: bool
    mip_gap: float


@dataclass
class _Model:
    """Column data (cost, bounds) and sparse rows lb <= A v <= ub, built in blocks."""

    cost: list[FloatArray] = field(default_factory=list)
    lo: list[FloatArray] = field(default_factory=list)
    hi: list[FloatArray] = field(default_factory=list)
    rows: list[IntArray] = field(default_factory=list)
    cols: list[IntArray] = field(default_factory=list)
    vals: list[FloatArray] = field(default_factory=list)
    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    n_vars: int = 0

    def add_vars(self, cost: FloatArray, lo: FloatArray, hi: FloatArray) -> IntArray:
        """Append variables; returns their column indices."""
        idx = np.arange(self.n_vars, self.n_vars + len(cost), dtype=np.int64)
        self.cost.append(np.asarray(cost, dtype=np.float64))
        self.lo.append(np.asarray(lo, dtype=np.float64))
        self.hi.append(np.asarray(hi, dtype=np.float64))
        self.n_vars += len(cost)
        return idx

    def add_row(self, cols: IntArray, vals: FloatArray | float, lb: float, ub: float) -> None:
        """Append one row."""
        self.rows.append(np.full(len(cols), len(self.lb), dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), (len(cols),)).copy())
        self.lb.append(lb)
        self.ub.append(ub)

    def solve(self, time_limit_s: float) -> object:
        """Minimise cost . v over binaries (every variable here is 0/1)."""
        n_rows = len(self.lb)
        a = sp.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(n_rows, self.n_vars),
        )
        return milp(
            np.concatenate(self.cost),
            integrality=np.ones(self.n_vars),
            bounds=Bounds(np.concatenate(self.lo), np.concatenate(self.hi)),
            constraints=LinearConstraint(a, np.array(self.lb), np.array(self.ub)),
            options={"time_limit": time_limit_s, "mip_rel_gap": REL_GAP, "disp": False},
        )


def solve_milp(pb: Problem, *, time_limit_s: float = 60.0, max_changes: int | None = None) -> MilpSolution:
    """Maximise the separable value minus change cost under every hard rule of the request.

    Raises InfeasibleError when the rules admit no planogram (proven) and MilpTimeoutError when the
    safety-net limit stops the solver first.  `max_changes` overrides `pb.max_changes`.
    """
    ks, ss = np.nonzero(pb.feasible)
    keep = pb.current[ss] == ks  # x of a slot's current sku: keeping it saves the change cost
    mdl = _Model()
    x = mdl.add_vars(np.where(keep, -pb.change_cost, 0.0), (pb.locked[ss] == ks).astype(np.float64), np.ones(len(ks)))
    for s in range(len(pb.slots)):
        mdl.add_row(x[ss == s], 1.0, -np.inf, 1.0)
    stocked: list[IntArray] = []  # per new sku, the y columns whose sum says it is stocked
    for k in range(len(pb.skus)):
        ys = _sku_patterns(pb, mdl, k, x[ks == k], ss[ks == k])
        if pb.new is not None and pb.new[k]:
            stocked.append(ys)
    if pb.max_new is not None and stocked:
        mdl.add_row(np.concatenate(stocked), 1.0, -np.inf, float(pb.max_new))
    budget = pb.max_changes if max_changes is None else max_changes
    if budget is not None:
        _change_budget(pb, mdl, x[keep], x[~pb.current_occupied[ss]], budget)
    offset = pb.change_cost * float(pb.current_occupied.sum())  # c per occupied slot, less c per kept one
    res = mdl.solve(time_limit_s)
    return _solution(pb, res, ks, ss, len(x), offset, time_limit_s)


def _sku_patterns(pb: Problem, mdl: _Model, k: int, xk: IntArray, sk: IntArray) -> IntArray:
    """y[k,n,s] columns and the rows tying them to sku k's facings; returns the y columns."""
    n_max = int(min(pb.max_f[k], len(xk)))
    n_min = int(pb.min_f[k])
    if n_max < n_min or len(xk) == 0:
        if pb.must[k]:
            raise InfeasibleError(f"{pb.skus[k]} must be stocked on {n_min} facing(s); {n_max} feasible slot(s)")
        for col in xk:
            mdl.add_row(np.array([col]), 1.0, 0.0, 0.0)
        return np.zeros(0, dtype=np.int64)
    counts = np.arange(n_min, n_max + 1)
    values = np.concatenate([pb.pattern_values(k, int(n), sk) for n in counts])
    ys = mdl.add_vars(-values, np.zeros(len(values)), np.ones(len(values)))
    n_of_y = np.repeat(counts, len(sk)).astype(np.float64)
    slot_of_y = np.tile(np.arange(len(sk)), len(counts))
    for j, col in enumerate(xk):  # the best facing is one of the facings
        mdl.add_row(np.append(ys[slot_of_y == j], col), np.append(np.ones(len(counts)), -1.0), -np.inf, 0.0)
    mdl.add_row(np.concatenate([xk, ys]), np.concatenate([np.ones(len(xk)), -n_of_y]), 0.0, 0.0)
    mdl.add_row(ys, 1.0, 1.0 if pb.must[k] else 0.0, 1.0)
    return ys


def _change_budget(pb: Problem, mdl: _Model, keep: IntArray, fill: IntArray, budget: int) -> None:
    """changes = occupied slots not keeping their sku + empty slots filled <= budget."""
    cols = np.concatenate([keep, fill])
    vals = np.concatenate([-np.ones(len(keep)), np.ones(len(fill))])
    mdl.add_row(cols, vals, -np.inf, float(budget) - float(pb.current_occupied.sum()))


def _solution(
    pb: Problem, res: object, ks: IntArray, ss: IntArray, n_x: int, offset: float, time_limit_s: float
) -> MilpSolution:
    """Read HiGHS's answer: an assignment, or the reason there is none."""
    sol_x = getattr(res, "x", None)
    status = int(getattr(res, "status", 4))
    if sol_x is None and status == 1:
        raise MilpTimeoutError(f"the solver found no planogram within its {time_limit_s:g} s safety limit")
    if sol_x is None:
        raise InfeasibleError(f"no planogram satisfies the hard rules ({getattr(res, 'message', '')})")
    chosen = np.asarray(sol_x)[:n_x] > 0.5
    a = np.full(len(pb.slots), -1, dtype=np.int64)
    a[ss[chosen]] = ks[chosen]
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    return MilpSolution(a, -float(getattr(res, "fun", 0.0)) - offset, status == 0, gap)
