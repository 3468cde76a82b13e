"""Exact MILP (scipy/HiGHS) for the separable objective: demand x position capped by stock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from services.planogram.problem import Problem
from services.planogram.types import InfeasibleError, IntArray


class MilpTimeoutError(InfeasibleError):
    """The time limit stopped the solver before it found any feasible planogram (not proven infeasible)."""


@dataclass(frozen=True, slots=True)
class MilpSolution:
    """Assignment (slot -> sku index or -1), solver objective and whether optimality was proven."""

    assignment: IntArray
    objective: float
    optimal: bool
    mip_gap: float


class _Builder:
    """Accumulates variables (bounds, cost, integrality) and sparse rows lb <= A x <= ub."""

    def __init__(self) -> None:
        self.c: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.integer: list[int] = []
        self.r: list[int] = []
        self.col: list[int] = []
        self.v: list[float] = []
        self.lb: list[float] = []
        self.ub: list[float] = []

    def var(self, cost: float = 0.0, lo: float = 0.0, hi: float = np.inf, integer: bool = False) -> int:
        self.c.append(cost)
        self.lo.append(lo)
        self.hi.append(hi)
        self.integer.append(int(integer))
        return len(self.c) - 1

    def row(self, cols: list[int], vals: list[float], lb: float, ub: float) -> None:
        i = len(self.lb)
        self.r.extend([i] * len(cols))
        self.col.extend(cols)
        self.v.extend(vals)
        self.lb.append(lb)
        self.ub.append(ub)

    def solve(self, time_limit_s: float, rel_gap: float) -> Any:
        n = len(self.c)
        a = sp.csr_matrix((self.v, (self.r, self.col)), shape=(len(self.lb), n))
        return milp(
            np.array(self.c),
            integrality=np.array(self.integer),
            bounds=Bounds(np.array(self.lo), np.array(self.hi)),
            constraints=LinearConstraint(a, np.array(self.lb), np.array(self.ub)),
            options={"time_limit": time_limit_s, "mip_rel_gap": rel_gap, "disp": False},
        )


def solve_milp(pb: Problem, *, time_limit_s: float = 10.0, rel_gap: float = 1e-7) -> MilpSolution:
    """Maximise sum_k u_k z_k - penalty u_k+ L_k over binary x[k,s] (sku k in slot s).

    z_k <= b_k((1-eps) sum_s w_s y_ks + eps sum_s w_s x_ks) with y_ks <= x_ks, sum_s y_ks <= 1 (y picks
    the best facing: a max of linear terms is LP-exact under maximisation); z_k <= C_k/T; L_k >=
    b_k [stocked] - C_k/T; minus change_cost per slot whose content changes; one sku per slot;
    facings bounds; locked slots; must-stock; at most max_new new skus (each sku's existing
    "stocked" indicator: sum_s x_ks for one facing, sum_n f_kn otherwise); hard cover rule
    C_k >= cover*T*b_k((1-eps) M_k + eps sum w x) with M_k >= w_s x_ks.  Skus whose stock can bind
    may take several facings are modelled disjunctively (one copy of x, y, z per facing count with a
    binary f_kn), which makes the LP relaxation of min(demand, stock) tight; single-facing skus have
    an exact per-slot value and need no auxiliary variables.
    """
    n_k, n_s = pb.feasible.shape
    ks, ss = np.nonzero(pb.feasible)
    n_e = len(ks)
    t = pb.interval
    cover = pb.cover * (1 + 1e-6)  # safety margin over the solver's feasibility tolerance
    bld = _Builder()
    x = [bld.var(lo=float(pb.locked[s] == k), hi=1.0, integer=True) for k, s in zip(ks, ss, strict=True)]
    for s in range(n_s):
        e = np.flatnonzero(ss == s)
        if len(e) > 1:
            bld.row([x[i] for i in e], [1.0] * len(e), -np.inf, 1.0)
    used: list[int] = []  # variables whose sum counts the new skus stocked
    for k in range(n_k):
        e = np.flatnonzero(ks == k)
        if not len(e):
            if pb.must[k]:
                raise InfeasibleError(f"must-stock sku {pb.skus[k]} fits no slot")
            continue
        indicator = _sku_rows(pb, bld, k, [x[i] for i in e], ss[e], t, cover)
        if pb.new is not None and pb.new[k]:
            used.extend(indicator)
    if pb.max_new is not None and len(used) > 0:
        bld.row(used, [1.0] * len(used), -np.inf, float(pb.max_new))
    offset = _change_costs(pb, bld, x, ks, ss)
    res = bld.solve(time_limit_s, rel_gap)
    sol_x = res.x
    if sol_x is None and res.status == 1:  # iteration or time limit before any feasible point
        raise MilpTimeoutError(f"the MILP found no planogram within {time_limit_s:g} s ({res.message})")
    if sol_x is None:
        raise InfeasibleError(f"no planogram satisfies the hard rules ({res.message})")
    chosen = np.asarray(sol_x)[:n_e] > 0.5
    a = np.full(n_s, -1, dtype=np.int64)
    a[ss[chosen]] = ks[chosen]
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    return MilpSolution(a, float(-res.fun) - offset, bool(res.status == 0), gap)


def _change_costs(pb: Problem, bld: _Builder, x: list[int], ks: IntArray, ss: IntArray) -> float:
    """Add change_cost per changed slot to the x costs; returns the constant part of that cost.

    A slot the current planogram fills changes unless it keeps its sku: cost c(1 - x[cur, s]), so its
    current sku's x gets a bonus c and c is constant.  An empty slot changes when anything goes in: c x.
    """
    c = pb.change_cost
    if c <= 0.0:
        return 0.0
    for i, (k, s) in enumerate(zip(ks.tolist(), ss.tolist(), strict=True)):
        if not pb.current_occupied[s]:
            bld.c[x[i]] += c
        elif pb.current[s] == k:
            bld.c[x[i]] -= c
    return c * float(pb.current_occupied.sum())


def _sku_rows(
    pb: Problem, bld: _Builder, k: int, xs: list[int], slots: IntArray, t: float, cover: float
) -> list[int]:
    """Variables and rows of one sku; returns the variables whose sum is 1 exactly when it is stocked."""
    n_max = int(min(pb.max_f[k], len(xs)))
    n_min = int(max(pb.min_f[k], 1))
    if n_min > n_max:
        if pb.must[k]:
            raise InfeasibleError(f"must-stock sku {pb.skus[k]} needs {n_min} facings; {n_max} possible")
        for xi in xs:
            bld.hi[xi] = 0.0
        return []
    if n_max == 1:  # sum_s x_ks <= 1 is the indicator
        _single_facing(pb, bld, k, xs, slots, t, cover)
        return xs
    return _multi_facing(pb, bld, k, xs, slots, t, cover, range(n_min, n_max + 1))


def _multi_facing(
    pb: Problem, bld: _Builder, k: int, xs: list[int], slots: IntArray, t: float, cover: float, counts: range
) -> list[int]:
    """Disjunctive formulation, one copy per facing count n (binary f_n): a tight LP for min(D, C/T).

    Returns the f_n, whose sum (<= 1) is the binary "stocked" indicator."""
    w, cap, bk, eps, u = pb.w[slots], pb.cap[k, slots], float(pb.b[k]), pb.eps, float(pb.u[k])
    copies: list[list[int]] = []
    fs: list[int] = []
    penalised = pb.penalty > 0 and u > 0 and bk > cap.min() / t
    needs_cover = bool(np.any(cap < cover * t * bk * w))
    for n in counts:
        f = bld.var(hi=1.0, integer=True)
        fs.append(f)
        xn = [bld.var(hi=1.0) for _ in xs]
        yn = [bld.var(hi=1.0) for _ in xs]
        copies.append(xn)
        z = bld.var(cost=-u)
        bld.row([*xn, f], [1.0] * len(xn) + [-float(n)], 0.0, 0.0)
        bld.row([*yn, f], [1.0] * len(yn) + [-1.0], -np.inf, 0.0)
        for xi, yi in zip(xn, yn, strict=True):
            bld.row([yi, xi], [1.0, -1.0], -np.inf, 0.0)
            bld.row([xi, f], [1.0, -1.0], -np.inf, 0.0)
        bld.row(
            [z, *yn, *xn], [1.0, *(-bk * (1 - eps) * w).tolist(), *(-bk * eps * w).tolist()], -np.inf, 0.0
        )
        bld.row([z, *xn], [1.0, *(-cap / t).tolist()], -np.inf, 0.0)
        if penalised:
            lvar = bld.var(cost=pb.penalty * u)
            bld.row([lvar, *xn, f], [1.0, *(cap / t).tolist(), -bk], 0.0, np.inf)
        if needs_cover:
            m = bld.var()
            a = cap - cover * t * bk * eps * w
            bld.row([*xn, m], [*a.tolist(), -cover * t * bk * (1 - eps)], 0.0, np.inf)
            for xi, wi in zip(xn, w.tolist(), strict=True):
                bld.row([m, xi], [1.0, -wi], 0.0, np.inf)
    for j, xi in enumerate(xs):
        bld.row([xi, *[c[j] for c in copies]], [1.0] + [-1.0] * len(copies), 0.0, 0.0)
    bld.row(fs, [1.0] * len(fs), 1.0 if pb.must[k] else 0.0, 1.0)
    return fs


def _single_facing(
    pb: Problem, bld: _Builder, k: int, xs: list[int], slots: IntArray, t: float, cover: float
) -> None:
    """A sku limited to one facing has an exact per-slot value: no auxiliary variables needed."""
    w, cap, bk, u = pb.w[slots], pb.cap[k, slots], float(pb.b[k]), float(pb.u[k])
    value = u * np.minimum(bk * w, cap / t) - pb.penalty * max(u, 0.0) * np.maximum(0.0, bk - cap / t)
    for xi, v, ok in zip(xs, value.tolist(), (cap >= cover * t * bk * w).tolist(), strict=True):
        bld.c[xi] = -v
        if not ok:
            bld.hi[xi] = 0.0
    bld.row(xs, [1.0] * len(xs), 1.0 if pb.must[k] else 0.0, 1.0)
