"""Dense arrays describing one optimisation instance (shared by the repair, the MILP and the local search)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.planogram.adjacency import pair_matrix
from services.planogram.layout import adjacency_matrix
from services.planogram.model import DemandModel, facing_factor
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
from services.planogram.value import ValueParams, expected_sold, planning_unit_value

BoolMatrix = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Problem:
    """Candidate skus x cabinet slots with everything the objective and the hard rules need."""

    skus: tuple[str, ...]
    slots: tuple[str, ...]
    w: FloatArray  # (S,) position weight
    b: FloatArray  # (K,) base demand units/day
    u: FloatArray  # (K,) unit value (margin or price) x certainty factor (value.certainty_factor)
    cap: FloatArray  # (K, S) units per facing
    feasible: BoolMatrix  # (K, S) per-slot hard rules pass
    locked: IntArray  # (S,) sku index forced in the slot or -1
    must: BoolMatrix  # (K,) must be stocked (must-stock, min facings >= 1, locked)
    min_f: IntArray  # (K,) facings when stocked, at least
    max_f: IntArray  # (K,) facings, at most
    interval: float
    eps: float
    pairs: FloatArray  # (K, K) adjacency bonus per neighbouring pair
    adjacency: FloatArray  # (S, S) 0/1 neighbours
    current: IntArray  # (S,) current candidate sku index, -1 when empty or not a candidate
    current_occupied: BoolMatrix  # (S,) the current planogram has any sku in the slot
    change_cost: float = 0.0  # per replaced slot per day (ValueParams.change_cost_per_day)
    new: BoolMatrix | None = None  # (K,) sku absent from the current planogram (None: no limit applies)
    max_new: int | None = None  # at most this many new skus may be stocked (None: unlimited)
    max_changes: int | None = None  # at most this many slots may differ from the current planogram

    def sku_value(self, k: int, slots: Sequence[int]) -> float:
        """Objective value per day of sku k on these slot indices (0 when not stocked)."""
        if not slots:
            return 0.0
        idx = list(slots)
        demand = self.b[k] * self.w[idx].max() * facing_factor(len(idx), self.eps)
        return float(self.u[k] * expected_sold(demand, float(self.cap[k, idx].sum()), self.interval))

    def pattern_values(self, k: int, n: int, slots: IntArray) -> FloatArray:
        """Value of sku k on n facings whose best one is each of `slots` (stock n x that slot's capacity)."""
        demand = self.b[k] * self.w[slots] * facing_factor(n, self.eps)
        sold: FloatArray = np.asarray(expected_sold(demand, n * self.cap[k, slots], self.interval))
        out: FloatArray = self.u[k] * sold
        return out

    def separable_value(self, a: IntArray) -> float:
        """Sum of sku values of an assignment."""
        return float(sum(self.sku_value(k, np.flatnonzero(a == k).tolist()) for k in np.unique(a[a >= 0])))

    def replaced(self, a: IntArray) -> int:
        """Slots whose current sku is replaced or removed (what the change cost counts)."""
        return int((self.current_occupied & (a != self.current)).sum())

    def changes(self, a: IntArray) -> int:
        """Slots whose content differs from the current planogram (fills included)."""
        return int(((a != self.current) & (self.current_occupied | (a >= 0))).sum())

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


def check_constraints(model: DemandModel, cabinet: Cabinet, products: Catalog, constraints: Constraints) -> None:
    """Raise InfeasibleError naming every impossible request before any search (422 for the API)."""
    errors: list[str] = []
    slots = set(cabinet.slot_codes())
    named = {*constraints.required(), *(k for k, _ in constraints.max_facings)}
    errors += [f"unknown sku {k}" for k in sorted(named) if k not in products or not model.has_sku(k)]
    errors += [f"locked slot {s} does not exist" for s, _ in sorted(constraints.locked) if s not in slots]
    bounds = dict(constraints.max_facings)
    for sku, n in sorted(constraints.min_facings):
        if n < 0:
            errors.append(f"min_facings of {sku} is negative ({n})")
        elif n > len(slots):
            errors.append(f"min_facings of {sku} is {n} but the cabinet has {len(slots)} slots")
        elif sku in bounds and n > bounds[sku]:
            errors.append(f"min_facings of {sku} ({n}) exceeds its max_facings ({bounds[sku]})")
    errors += [f"max_facings of {k} is negative ({n})" for k, n in sorted(constraints.max_facings) if n < 0]
    errors += [f"must-stock sku {k} is excluded" for k in sorted(constraints.required() & constraints.exclude)]
    total = sum(max(constraints.min_for(k), 1) for k in constraints.required() if k in products)
    if total > len(slots):
        errors.append(f"required skus need {total} facings but the cabinet has {len(slots)} slots")
    limits = (("max_new_skus", constraints.max_new_skus), ("max_changed_slots", constraints.max_changed_slots))
    for name, value in limits:
        if value is not None and value < 0:
            errors.append(f"{name} must be at least 0, got {value}")
    if errors:
        raise InfeasibleError("; ".join(errors))


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
    check_constraints(model, cabinet, products, constraints)
    required = constraints.required()
    skus = _candidate_skus(model, products, constraints, candidates)
    slots = cabinet.slot_codes()
    sku_pos = {k: i for i, k in enumerate(skus)}
    current_map = current.mapping() if current is not None else {}
    feasible = _feasibility(cabinet, products, skus)
    locked = _apply_locks(cabinet, constraints, sku_pos, feasible)
    caps = _capacities(cabinet, current, sku_pos, len(skus))
    is_new = np.array([k not in set(current_map.values()) for k in skus], dtype=bool)
    limit = constraints.max_new_skus if current_map else None  # an empty machine is filled freely
    if limit is not None:
        _check_new_limit(limit, sorted(k for k in required if k not in set(current_map.values())))
        if limit == 0:  # nothing new may go in: drop those candidates from the search altogether
            feasible[is_new & ~np.array([k in required for k in skus]), :] = False
    plan = model.for_planning()  # what the search values with; the figures are evaluate()'s (model's)
    return Problem(
        skus=skus,
        slots=slots,
        w=np.array([plan.weight(s) for s in slots]),
        b=np.array([plan.base_demand(k) for k in skus]),
        u=np.array([planning_unit_value(model, products[k], params) for k in skus]),
        cap=caps,
        feasible=feasible,
        locked=locked,
        must=np.array([k in required for k in skus], dtype=bool),
        min_f=np.array([max(constraints.min_for(k), 1) for k in skus], dtype=np.int64),
        max_f=np.array([max(min(constraints.max_for(k), len(slots)), 0) for k in skus], dtype=np.int64),
        interval=cabinet.service_interval_days,
        eps=model.space_elasticity,
        pairs=pair_matrix(model, products, skus, params),
        adjacency=adjacency_matrix(cabinet),
        current=np.array([sku_pos.get(current_map.get(s, ""), -1) for s in slots], dtype=np.int64),
        current_occupied=np.array([s in current_map for s in slots], dtype=bool),
        change_cost=params.change_cost_per_day,
        new=is_new if limit is not None else None,
        max_new=limit,
        max_changes=constraints.max_changed_slots,
    )


def _candidate_skus(
    model: DemandModel, products: Catalog, constraints: Constraints, candidates: Sequence[str] | None
) -> tuple[str, ...]:
    """The candidates (default: every catalogue sku the model knows) plus required skus, minus exclusions."""
    pool = list(candidates) if candidates is not None else [k for k in products if model.has_sku(k)]
    pool += [k for k in sorted(constraints.required()) if k not in pool]
    return tuple(k for k in dict.fromkeys(pool) if k in products and model.has_sku(k) and k not in constraints.exclude)


def _feasibility(cabinet: Cabinet, products: Catalog, skus: Sequence[str]) -> BoolMatrix:
    """(K, S): the sku passes the per-slot hard rules (dimensions, temperature) in the slot."""
    feas = np.array([[is_feasible_pair(s, products[k]) for s in cabinet.slots] for k in skus], dtype=bool)
    return feas.reshape(len(skus), len(cabinet.slots))


def _apply_locks(cabinet: Cabinet, constraints: Constraints, kpos: dict[str, int], feas: BoolMatrix) -> IntArray:
    """Locked slots hold their sku and nothing else; returns (S,) sku index or -1."""
    lock = np.full(len(cabinet.slots), -1, dtype=np.int64)
    sidx = cabinet.index()
    for slot, sku in sorted(constraints.locked):
        if not feas[kpos[sku], sidx[slot]]:
            raise InfeasibleError(f"locked slot {slot}: {sku} breaks a dimension or temperature rule there")
        lock[sidx[slot]] = kpos[sku]
        feas[:, sidx[slot]] = False
        feas[kpos[sku], sidx[slot]] = True
    return lock


def _capacities(cabinet: Cabinet, current: Planogram | None, kpos: dict[str, int], n_k: int) -> FloatArray:
    """(K, S) units per facing: the slot's capacity, or the current planogram's override for its sku."""
    cap = np.tile(np.array([s.capacity for s in cabinet.slots], dtype=np.float64), (n_k, 1))
    if current is not None:
        sidx, cur = cabinet.index(), current.mapping()
        for slot, c in current.capacities:
            if slot in sidx and cur.get(slot) in kpos:
                cap[kpos[cur[slot]], sidx[slot]] = float(c)
    return cap


def _check_new_limit(limit: int, required_new: list[str]) -> None:
    """The request's own new skus (must-stock, locks) must fit within max_new_skus."""
    if len(required_new) > limit:
        raise InfeasibleError(
            f"must-stock and locked slots ask for {len(required_new)} skus not in the current planogram "
            f"({', '.join(required_new)}) but at most {limit} new skus are allowed (max_new_skus)"
        )
