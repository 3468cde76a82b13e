"""Best-improvement swap search on the full objective (value + adjacency - change cost), vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.planogram.model import facing_factor
from services.planogram.problem import BoolMatrix, Problem
from services.planogram.types import FloatArray, IntArray
from services.planogram.value import expected_sold

NEG = -np.inf


def adjacency_of(pb: Problem, a: IntArray) -> float:
    """Adjacency bonus per day of an assignment (each neighbouring pair once)."""
    occ = np.flatnonzero(a >= 0)
    if len(occ) == 0:
        return 0.0
    m = pb.pairs[np.ix_(a[occ], a[occ])] * pb.adjacency[np.ix_(occ, occ)]
    return float(m.sum() / 2.0)


def planning_score(pb: Problem, a: IntArray) -> float:
    """What the optimiser maximises: separable value + adjacency - change cost per replaced slot."""
    return pb.separable_value(a) + adjacency_of(pb, a) - pb.change_cost * pb.replaced(a)


@dataclass(frozen=True, slots=True)
class _Others:
    """Per slot: best weight, stock and count of the other facings of its sku."""

    best_w: FloatArray
    stock: FloatArray
    n: FloatArray


def _others(pb: Problem, a: IntArray) -> _Others:
    n_s = len(a)
    best_w, stock, n = np.zeros(n_s), np.zeros(n_s), np.zeros(n_s)
    for s in np.flatnonzero(a >= 0).tolist():
        rest = [t for t in np.flatnonzero(a == a[s]).tolist() if t != s]
        best_w[s] = pb.w[rest].max() if rest else 0.0
        stock[s] = pb.cap[a[s], rest].sum()
        n[s] = len(rest) + 1
    return _Others(best_w, stock, n)


def _value_gain(pb: Problem, a: IntArray) -> FloatArray:
    """gain[s1, s2]: change in the value of slot s1's sku when that facing moves to s2."""
    occ = a >= 0
    ak = np.where(occ, a, 0)
    o = _others(pb, a)
    f_cur = np.array([pb.sku_value(int(k), np.flatnonzero(a == k).tolist()) for k in ak])
    best = np.maximum(o.best_w[:, None], pb.w[None, :])
    demand = pb.b[ak][:, None] * best * facing_factor(o.n[:, None], pb.eps)
    stock = o.stock[:, None] + pb.cap[ak, :]
    f_new = pb.u[ak][:, None] * np.asarray(expected_sold(demand, stock, pb.interval))
    return np.where(occ[:, None], f_new - f_cur[:, None], 0.0)


def _adjacency_gain(pb: Problem, a: IntArray) -> FloatArray:
    """Change of the adjacency bonus of swapping every slot pair's contents."""
    n_k = len(pb.skus)
    pad = np.zeros((n_k + 1, n_k + 1))
    pad[:-1, :-1] = pb.pairs
    ai = np.where(a >= 0, a, n_k)
    nbr = pad[:, ai] @ pb.adjacency  # (K+1, S): bonus of sku k placed at slot t given today's neighbours
    nn = nbr[ai, :]
    q = pad[ai][:, ai]
    dq, dn = np.diag(q), np.diag(nn)
    return nn + nn.T - dn[:, None] - dn[None, :] + pb.adjacency * (2 * q - dq[:, None] - dq[None, :])


def _changed(pb: Problem, a: IntArray, replaced_only: bool) -> BoolMatrix:
    """m[s, t]: slot s holding a[t] counts as a change (replaced_only: only a replaced current sku)."""
    occ_cur = pb.current_occupied[:, None]
    differs = (a[None, :] != pb.current[:, None]) | (pb.current[:, None] < 0)
    if replaced_only:
        return np.asarray(occ_cur & differs)
    return np.asarray((occ_cur & differs) | (~occ_cur & (a[None, :] >= 0)))


def _swap_delta(m: BoolMatrix) -> FloatArray:
    mf = m.astype(np.float64)
    d = np.diag(mf)
    return np.asarray(mf + mf.T - d[:, None] - d[None, :])


def swap_deltas(pb: Problem, a: IntArray, budget: int | None = None) -> FloatArray:
    """Change of the planning score of swapping the contents of every slot pair (s1 < s2); -inf where
    the swap would break a hard rule (feasibility, locks) or the change budget."""
    occ = a >= 0
    ak = np.where(occ, a, 0)
    ok = ~occ[:, None] | pb.feasible[ak, :]  # ok[s1, s2]: s1's content may go to s2
    unlocked = pb.locked < 0
    allowed = ok & ok.T & unlocked[:, None] & unlocked[None, :] & (a[:, None] != a[None, :])
    allowed &= np.triu(np.ones((len(a), len(a)), dtype=bool), 1)
    if budget is not None:
        allowed &= pb.changes(a) + _swap_delta(_changed(pb, a, False)) <= budget
    gain = _value_gain(pb, a)
    delta = gain + gain.T + _adjacency_gain(pb, a) - pb.change_cost * _swap_delta(_changed(pb, a, True))
    return np.where(allowed, delta, NEG)
