"""Dense arrays describing one optimisation instance (shared by the MILP and the local search)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.planogram.adjacency import pair_matrix
from services.planogram.layout import adjacency_matrix
from services.planogram.model import DemandModel
from services.planogram.rules import is_feasible_pair
from services.planogram.types import (
    Cabinet,
    Catalog,
    Constraints,
    FloatArray,
    InfeasibleError,
    IntArray,
    Planogram,
)
from services.planogram.value import ValueParams, planning_unit_value

BoolMatrix = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Problem:
    """Candidate skus x cabinet slots with everything the objective and hard rules need."""

    skus: tuple[str, ...]
    slots: tuple[str, ...]
    w: FloatArray  # (S,) position weight
    b: FloatArray  # (K,) base demand units/day
    u: FloatArray  # (K,) unit value (margin or price) x certainty factor (value.certainty_factor)
    cap: FloatArray  # (K, S) units per facing
    feasible: BoolMatrix  # (K, S) per-slot hard rules pass
    locked: IntArray  # (S,) sku index forced in the slot or -1
    must: BoolMatrix  # (K,) must stock
    min_f: IntArray  # (K,)
    max_f: IntArray  # (K,)
    interval: float
    eps: float
    cover: float
    penalty: float
    pairs: FloatArray  # (K, K) adjacency bonus per neighbouring pair
    adjacency: FloatArray  # (S, S) 0/1 neighbours
    current: IntArray  # (S,) current candidate sku index, -1 when empty or not a candidate
    current_occupied: BoolMatrix  # (S,) the current planogram has any sku in the slot
    change_cost: float = 0.0  # per changed slot per day (ValueParams.change_cost_per_day)
    new: BoolMatrix | None = None  # (K,) sku absent from the current planogram (None: no limit applies)
    max_new: int | None = None  # at most this many new skus may be stocked (None: unlimited)

    def new_count(self, a: IntArray) -> int:
        """New skus (absent from the current planogram) stocked by assignment a."""
        if self.new is None:
            return 0
        used = np.unique(a[a >= 0])
        return int(self.new[used].sum())

    def keeps(self, s: int, k: int) -> bool:
        """Slot s holding sku k (-1: empty) is no change from the current planogram."""
        return bool(self.current[s] == k) if k >= 0 else not bool(self.current_occupied[s])

    def keep_matrix(self, a: IntArray) -> BoolMatrix:
        """(S, S): slot s holding the content of slot t, a[t], is no change."""
        return np.where(a[None, :] >= 0, self.current[:, None] == a[None, :], ~self.current_occupied[:, None])

    def changes(self, a: IntArray) -> int:
        """Slots whose content differs from the current planogram."""
        return int(len(a) - np.diagonal(self.keep_matrix(a)).sum())

    def sku_value(self, k: int, slots: Sequence[int]) -> float:
        """Objective value per day of sku k on these slot indices (0 when not stocked)."""
        if not slots:
            return 0.0
        ws = self.w[list(slots)]
        vis = (1 - self.eps) * ws.max() + self.eps * ws.sum()
        stock = float(self.cap[k, list(slots)].sum()) / self.interval
        sold = min(self.b[k] * vis, stock)
        return float(self.u[k] * sold - self.penalty * max(self.u[k], 0.0) * max(0.0, self.b[k] - stock))

    def covers(self, k: int, slots: Sequence[int]) -> bool:
        """Hard capacity rule: stock >= cover * interval * demand."""
        ws = self.w[list(slots)]
        vis = (1 - self.eps) * ws.max() + self.eps * ws.sum()
        need = self.cover * self.interval * self.b[k] * vis
        return bool(float(self.cap[k, list(slots)].sum()) >= need * (1 - 1e-9) - 1e-9)

    def to_assignment(self, planogram: Planogram) -> IntArray:
        """Slot -> sku index array (-1 empty or not a candidate)."""
        pos = {k: i for i, k in enumerate(self.skus)}
        m = planogram.mapping()
        return np.array([pos.get(m.get(s, ""), -1) for s in self.slots], dtype=np.int64)

    def to_planogram(self, a: IntArray, current: Planogram | None) -> Planogram:
        """Assignment back to a planogram, keeping capacity overrides where slot and sku are unchanged."""
        mapping = {s: self.skus[k] for s, k in zip(self.slots, a.tolist(), strict=True) if k >= 0}
        cur = current.mapping() if current else {}
        caps = {s: c for s, c in (current.capacities if current else ()) if cur.get(s) == mapping.get(s)}
        return Planogram.of(mapping, caps)


def build_problem(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    current: Planogram | None,
    constraints: Constraints,
    params: ValueParams,
    candidates: Sequence[str] | None = None,
) -> Problem:
    """Assemble arrays; candidates default to every catalogue sku the model knows (minus exclusions)."""
    locked = constraints.locked_map()
    pool = list(candidates) if candidates is not None else [k for k in products if model.has_sku(k)]
    pool += [k for k in (*sorted(constraints.must_stock), *sorted(locked.values())) if k not in pool]
    for k in pool:
        if k not in products or not model.has_sku(k):
            raise InfeasibleError(f"sku {k} is unknown to the catalogue or the model")
    skus = tuple(k for k in dict.fromkeys(pool) if k not in constraints.exclude or k in locked.values())
    slots = cabinet.slot_codes()
    kpos = {k: i for i, k in enumerate(skus)}
    n_k, n_s = len(skus), len(slots)
    feas = np.array([[is_feasible_pair(s, products[k]) for s in cabinet.slots] for k in skus], dtype=bool)
    feas = feas.reshape(n_k, n_s)
    lock = np.full(n_s, -1, dtype=np.int64)
    sidx = cabinet.index()
    for slot, sku in sorted(locked.items()):
        if slot not in sidx:
            raise InfeasibleError(f"locked slot {slot} does not exist")
        if not feas[kpos[sku], sidx[slot]]:
            raise InfeasibleError(f"locked slot {slot}: {sku} breaks a dimension or temperature rule there")
        lock[sidx[slot]] = kpos[sku]
        feas[:, sidx[slot]] = False
        feas[kpos[sku], sidx[slot]] = True
    cur_map = current.mapping() if current is not None else {}
    cap = np.tile(np.array([s.capacity for s in cabinet.slots], dtype=np.float64), (n_k, 1))
    if current is not None:
        cur = current.mapping()
        for slot, c in current.capacities:
            if slot in sidx and cur.get(slot) in kpos:
                cap[kpos[cur[slot]], sidx[slot]] = float(c)
    w = np.array([model.weight(s) for s in slots])
    b = np.array([model.base_demand(k) for k in skus])
    max_f = np.array([constraints.max_for(k) for k in skus], dtype=np.int64)
    min_f = np.array([constraints.min_for(k) for k in skus], dtype=np.int64)
    need = np.array(
        [
            _needed_facings(
                w[feas[k]],
                cap[k, feas[k]],
                b[k],
                cabinet.service_interval_days,
                model.space_elasticity,
                int(max_f[k]),
            )
            for k in range(n_k)
        ]
    )
    cur_skus = set(cur_map.values())
    limit = constraints.max_new_skus if cur_skus else None  # an empty machine is filled freely
    new = np.array([k not in cur_skus for k in skus], dtype=bool)
    if limit is not None:
        if limit < 0:
            raise InfeasibleError(f"max_new_skus must be at least 0, got {limit}")
        must_new = sorted({k for k in (*constraints.must_stock, *locked.values()) if k not in cur_skus})
        if len(must_new) > limit:
            raise InfeasibleError(
                f"must-stock and locked slots ask for {len(must_new)} skus not in the current planogram "
                f"({', '.join(must_new)}) but at most {limit} new skus are allowed (max_new_skus)"
            )
    if limit == 0:  # nothing new may go in: drop those candidates from the search altogether
        feas[new, :] = False
    # What can fill the cabinet: every candidate, or with a limit the current skus and the best new ones.
    if limit is None:
        fill, n_fill = int(need.sum()), n_k
    else:
        fill = int(need[~new].sum() + np.sort(need[new])[::-1][:limit].sum())
        n_fill = int((~new).sum()) + min(limit, int(new.sum()))
    if fill >= n_s:  # enough products to fill the cabinet: no facings beyond need
        max_f = np.minimum(max_f, np.maximum(need, min_f))
    elif limit is not None and n_fill > 0:
        # A limited range cannot fill the cabinet at need: room for the shortfall spread over its skus.
        # (Uncapped, every sku takes max_f copies in the MILP, which then often times out.)
        extra = -(-(n_s - fill) // n_fill)
        max_f = np.minimum(max_f, np.maximum(need + extra, min_f))
    return Problem(
        skus=skus,
        slots=slots,
        w=w,
        b=b,
        u=np.array([planning_unit_value(model, products[k], params) for k in skus]),
        cap=cap,
        feasible=feas,
        locked=lock,
        must=np.array([k in constraints.must_stock for k in skus], dtype=bool),
        min_f=min_f,
        max_f=max_f,
        interval=cabinet.service_interval_days,
        eps=model.space_elasticity,
        cover=constraints.min_cover_fraction,
        penalty=params.stockout_penalty,
        pairs=pair_matrix(model, products, skus, params),
        adjacency=adjacency_matrix(cabinet),
        current=np.array([kpos.get(cur_map.get(s, ""), -1) for s in slots], dtype=np.int64),
        current_occupied=np.array([s in cur_map for s in slots], dtype=bool),
        change_cost=params.change_cost_per_day,
        new=new if limit is not None else None,
        max_new=limit,
    )


def _needed_facings(w: FloatArray, cap: FloatArray, b: float, interval: float, eps: float, max_f: int) -> int:
    """Fewest facings whose stock covers the interval's demand even on the best slots (<= max_f)."""
    if len(w) == 0:
        return 0
    ws, cs = np.sort(w)[::-1], np.sort(cap)[::-1]
    for n in range(1, min(max_f, len(w)) + 1):
        demand = b * ((1 - eps) * ws[0] + eps * ws[:n].sum())
        if cs[:n].sum() >= demand * interval:
            return n
    return min(max_f, len(w))
