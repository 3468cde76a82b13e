"""Exact MILP (scipy/HiGHS) for the separable objective: one pattern variable per sku x facings x best slot.

The value of a sku depends only on its best facing's weight, its number of facings n and the stock they
hold (docs/ENGINE.md), so a binary y[k,n,s] ("sku k on n facings whose best one is slot s") carries the
exact non-linear value (Poisson sales capped by stock) as a plain coefficient.  Facings are binaries
x[k,t] linked by sum_t x[k,t] = sum n y[k,n,s] and y[k,.,s] <= x[k,s].

The LP relaxation is close to integral (an assignment structure), so the solve runs in three steps, each
deterministic: (1) the LP relaxation, whose optimum bounds every planogram; when it is integral it *is*
the optimum.  (2) Otherwise a MILP over the neighbourhood of the LP answer: the columns of every sku and
slot touched by a fractional value stay free, all others keep their LP value; its answer is proven
optimal when it comes within REL_GAP of the LP bound.  (3) Only when it does not, the full MILP.  On
generated 6x10 cabinets with 80 products the LP settles 25 of 30 machines; CPU per solve p50/p95 0.10/0.37 s
against 0.19/0.39 s for the full MILP at once (bench/milp_bench.py).  HiGHS's presolve is off except in
step (2): it removes nothing from these models and cost as much as the solve.  No wall-clock limit decides
the answer: the limit is only a safety net (`MilpTimeoutError`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from services.planogram.problem import Problem
from services.planogram.types import FloatArray, InfeasibleError, IntArray

REL_GAP = 1e-4  # optimality proven to within 0.01 % of the objective (HiGHS's default tolerance)
FRACTIONAL = 1e-6  # an LP value this far from 0 and 1 is fractional


class MilpTimeoutError(RuntimeError):
    """The safety-net time limit stopped the solver before it found an answer (not infeasibility)."""


@dataclass(frozen=True, slots=True)
class MilpSolution:
    """Assignment (slot -> sku index or -1), solver objective, whether optimality was proven and how."""

    assignment: IntArray
    objective: float
    optimal: bool
    mip_gap: float
    method: str  # "lp" (the relaxation was integral), "neighbourhood" or "full" (see the module docstring)


@dataclass
class _Model:
    """Column data (cost, bounds) and sparse rows lb <= A v <= ub, built in blocks."""

    cost: list[FloatArray] = field(default_factory=list)
    lo: list[FloatArray] = field(default_factory=list)
    hi: list[FloatArray] = field(default_factory=list)
    rows: list[IntArray] = field(default_factory=list)
    cols: list[IntArray] = field(default_factory=list)
    vals: list[FloatArray] = field(default_factory=list)
    lb: list[FloatArray] = field(default_factory=list)
    ub: list[FloatArray] = field(default_factory=list)
    sku: list[IntArray] = field(default_factory=list)  # per column, the sku and the slot it is about
    slot: list[IntArray] = field(default_factory=list)
    n_vars: int = 0
    n_rows: int = 0

    def add_vars(self, cost: FloatArray, lo: FloatArray, hi: FloatArray, sku: IntArray, slot: IntArray) -> IntArray:
        """Append variables about (sku, slot) pairs; returns their column indices."""
        idx = np.arange(self.n_vars, self.n_vars + len(cost), dtype=np.int64)
        self.cost.append(np.asarray(cost, dtype=np.float64))
        self.lo.append(np.asarray(lo, dtype=np.float64))
        self.hi.append(np.asarray(hi, dtype=np.float64))
        self.sku.append(np.broadcast_to(np.asarray(sku, dtype=np.int64), (len(cost),)))
        self.slot.append(np.asarray(slot, dtype=np.int64))
        self.n_vars += len(cost)
        return idx

    def add_rows(
        self, local: IntArray, cols: IntArray, vals: FloatArray | float, lb: FloatArray, ub: FloatArray
    ) -> None:
        """Append len(lb) rows; entry i sits in new row local[i] at column cols[i]."""
        self.rows.append(np.asarray(local, dtype=np.int64) + self.n_rows)
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), (len(cols),)).copy())
        self.lb.append(np.asarray(lb, dtype=np.float64))
        self.ub.append(np.asarray(ub, dtype=np.float64))
        self.n_rows += len(self.lb[-1])

    def add_row(self, cols: IntArray, vals: FloatArray | float, lb: float, ub: float) -> None:
        """Append one row."""
        self.add_rows(np.zeros(len(cols), dtype=np.int64), cols, vals, np.array([lb]), np.array([ub]))

    def solve(self, time_limit_s: float, shortcut: bool = True) -> _Result:
        """Minimise cost . v over binaries (every variable here is 0/1): LP, its neighbourhood, full MILP
        (only the last without ``shortcut``)."""
        deadline = time.monotonic() + time_limit_s
        a = sp.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.n_rows, self.n_vars),
        )
        cost, rows = np.concatenate(self.cost), LinearConstraint(a, np.concatenate(self.lb), np.concatenate(self.ub))
        lo, hi = np.concatenate(self.lo), np.concatenate(self.hi)

        def run(lower: FloatArray, upper: FloatArray, integral: bool, presolve: bool) -> _Result:
            """One HiGHS call (presolve only pays when most columns are fixed)."""
            left = deadline - time.monotonic()
            if left <= 0:
                return _Result(None, 0.0, 1, "time limit reached", None, "full" if integral else "lp")
            options = {"time_limit": left, "mip_rel_gap": REL_GAP, "presolve": presolve, "disp": False}
            res = milp(cost, integrality=np.full(self.n_vars, int(integral)), bounds=Bounds(lower, upper),
                       constraints=rows, options=options)  # fmt: skip
            x = None if getattr(res, "x", None) is None else np.asarray(res.x)
            gap = getattr(res, "mip_gap", None) if integral else None
            return _Result(x, float(getattr(res, "fun", 0.0) or 0.0), int(getattr(res, "status", 4)),
                           str(getattr(res, "message", "")), gap, "full" if integral else "lp")  # fmt: skip

        if not shortcut:
            return run(lo, hi, integral=True, presolve=False)
        relaxed = run(lo, hi, integral=False, presolve=False)
        if relaxed.x is None:
            return relaxed
        fractional = np.abs(relaxed.x - np.round(relaxed.x)) > FRACTIONAL
        if not fractional.any():
            return _Result(np.round(relaxed.x), relaxed.fun, 0, "LP optimum is integral", 0.0, "lp")
        sku, slot = np.concatenate(self.sku), np.concatenate(self.slot)
        free = np.isin(sku, sku[fractional]) | np.isin(slot, slot[fractional])
        fixed = np.round(relaxed.x)
        near = run(np.where(free, lo, fixed), np.where(free, hi, fixed), integral=True, presolve=True)
        if near.x is not None:
            gap = (near.fun - relaxed.fun) / max(abs(near.fun), 1.0)
            if gap <= REL_GAP:
                return _Result(near.x, near.fun, 0, "optimal within the LP bound", max(gap, 0.0), "neighbourhood")
        full = run(lo, hi, integral=True, presolve=False)
        if full.x is None and near.x is not None and full.status == 1:
            return _Result(near.x, near.fun, 1, "time limit; the LP neighbourhood's answer", None, "neighbourhood")
        return full


@dataclass(frozen=True, slots=True)
class _Result:
    """One HiGHS answer: values (None when there is none), objective, scipy status, message, proven gap."""

    x: FloatArray | None
    fun: float
    status: int
    message: str
    gap: float | None
    method: str


def solve_milp(
    pb: Problem, *, time_limit_s: float = 60.0, max_changes: int | None = None, shortcut: bool = True
) -> MilpSolution:
    """Maximise the separable value minus change cost under every hard rule of the request.

    Raises InfeasibleError when the rules admit no planogram (proven) and MilpTimeoutError when the
    safety-net limit stops the solver first.  `max_changes` overrides `pb.max_changes`; without
    `shortcut` HiGHS solves the full MILP at once (the reference the tests and bench compare with).
    """
    ks, ss = np.nonzero(pb.feasible)
    keep = pb.current[ss] == ks  # x of a slot's current sku: keeping it saves the change cost
    mdl = _Model()
    lo = (pb.locked[ss] == ks).astype(np.float64)
    x = mdl.add_vars(np.where(keep, -pb.change_cost, 0.0), lo, np.ones(len(ks)), ks, ss)
    n_slots = len(pb.slots)
    mdl.add_rows(ss, x, 1.0, np.full(n_slots, -np.inf), np.ones(n_slots))  # one sku per slot at most
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
    res = mdl.solve(time_limit_s, shortcut)
    return _solution(pb, res, ks, ss, len(x), offset, time_limit_s)


def _sku_patterns(pb: Problem, mdl: _Model, k: int, xk: IntArray, sk: IntArray) -> IntArray:
    """y[k,n,s] columns and the rows tying them to sku k's facings; returns the y columns."""
    n_max = int(min(pb.max_f[k], len(xk)))
    n_min = int(pb.min_f[k])
    if n_max < n_min or len(xk) == 0:
        if pb.must[k]:
            raise InfeasibleError(f"{pb.skus[k]} must be stocked on {n_min} facing(s); {n_max} feasible slot(s)")
        mdl.add_rows(np.arange(len(xk)), xk, 1.0, np.zeros(len(xk)), np.zeros(len(xk)))
        return np.zeros(0, dtype=np.int64)
    counts = np.arange(n_min, n_max + 1)
    values = np.concatenate([pb.pattern_values(k, int(n), sk) for n in counts])
    ys = mdl.add_vars(-values, np.zeros(len(values)), np.ones(len(values)), np.array(k), np.tile(sk, len(counts)))
    n_of_y = np.repeat(counts, len(sk)).astype(np.float64)
    slot_of_y = np.tile(np.arange(len(sk)), len(counts))
    nx = len(xk)  # the best facing is one of the facings: sum_n y[k,n,s] - x[k,s] <= 0, a row per slot
    local = np.concatenate([slot_of_y, np.arange(nx)])
    vals = np.concatenate([np.ones(len(ys)), -np.ones(nx)])
    mdl.add_rows(local, np.concatenate([ys, xk]), vals, np.full(nx, -np.inf), np.zeros(nx))
    mdl.add_row(np.concatenate([xk, ys]), np.concatenate([np.ones(len(xk)), -n_of_y]), 0.0, 0.0)
    mdl.add_row(ys, 1.0, 1.0 if pb.must[k] else 0.0, 1.0)
    return ys


def _change_budget(pb: Problem, mdl: _Model, keep: IntArray, fill: IntArray, budget: int) -> None:
    """changes = occupied slots not keeping their sku + empty slots filled <= budget."""
    cols = np.concatenate([keep, fill])
    vals = np.concatenate([-np.ones(len(keep)), np.ones(len(fill))])
    mdl.add_row(cols, vals, -np.inf, float(budget) - float(pb.current_occupied.sum()))


def _solution(
    pb: Problem, res: _Result, ks: IntArray, ss: IntArray, n_x: int, offset: float, time_limit_s: float
) -> MilpSolution:
    """Read HiGHS's answer: an assignment, or the reason there is none."""
    if res.x is None and res.status == 1:
        raise MilpTimeoutError(f"the solver found no planogram within its {time_limit_s:g} s safety limit")
    if res.x is None:
        raise InfeasibleError(f"no planogram satisfies the hard rules ({res.message})")
    chosen = res.x[:n_x] > 0.5
    a = np.full(len(pb.slots), -1, dtype=np.int64)
    a[ss[chosen]] = ks[chosen]
    gap = float(res.gap) if res.gap is not None else (0.0 if res.status == 0 else float("inf"))
    return MilpSolution(a, -res.fun - offset, res.status == 0, gap, res.method)
