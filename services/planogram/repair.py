"""Today's planogram minimally repaired to satisfy a request: the optimiser's feasible floor.

Real planograms are the starting point, not a rule set (docs/ENGINE.md): the repair keeps every slot it
can and changes only what the request forces — a product that no longer fits its slot, a locked slot,
facings above a maximum, a must-stock product or a minimum number of facings — each in the cheapest
slot.  Empty slots are then filled with extra facings of products already stocked when that adds value.
The optimiser never answers below this floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.planogram.problem import Problem
from services.planogram.types import IntArray


@dataclass(frozen=True, slots=True)
class Floor:
    """The repaired planogram, its filled version and the changes the request forces."""

    repaired: IntArray  # today's planogram with only the forced changes
    filled: IntArray  # repaired, empty slots filled with stocked products where that adds value
    forced_changes: int
    complete: bool  # every required sku got its facings (else the MILP decides feasibility)


def repair(pb: Problem) -> Floor:
    """Build the floor from `pb.current` (see the module docstring)."""
    a = pb.current.copy()
    misplaced = (a >= 0) & ~pb.feasible[np.maximum(a, 0), np.arange(len(a))]
    a[misplaced] = -1
    a[pb.locked >= 0] = pb.locked[pb.locked >= 0]
    _trim_facings(pb, a)
    complete = all(_add_facings(pb, a, int(k)) for k in np.flatnonzero(pb.must))
    repaired = a.copy()
    _fill_empty(pb, a)
    return Floor(repaired, a, pb.changes(repaired), complete)


def _trim_facings(pb: Problem, a: IntArray) -> None:
    """Drop the weakest unlocked facings of skus above their maximum."""
    for k in np.unique(a[a >= 0]).tolist():
        slots = [s for s in np.flatnonzero(a == k).tolist() if pb.locked[s] < 0]
        excess = int((a == k).sum()) - int(pb.max_f[k])
        for s in sorted(slots, key=lambda t: pb.w[t])[: max(excess, 0)]:
            a[s] = -1


def _add_facings(pb: Problem, a: IntArray, k: int) -> bool:
    """Give required sku k its minimum facings in the cheapest slots; False when no slot is left."""
    while int((a == k).sum()) < int(pb.min_f[k]):
        best, best_loss = -1, np.inf
        for s in np.flatnonzero(pb.feasible[k] & (pb.locked < 0) & (a != k)).tolist():
            loss = _loss(pb, a, s) - 1e-6 * pb.w[s]  # ties: the better-placed slot
            if loss < best_loss:
                best, best_loss = s, loss
        if best < 0:
            return False
        a[best] = k
    return True


def _loss(pb: Problem, a: IntArray, s: int) -> float:
    """Value lost by taking slot s from its occupant (inf when the occupant would drop below its minimum)."""
    occ = int(a[s])
    if occ < 0:
        return 0.0
    slots = np.flatnonzero(a == occ).tolist()
    if pb.must[occ] and len(slots) - 1 < int(pb.min_f[occ]):
        return np.inf
    return pb.sku_value(occ, slots) - pb.sku_value(occ, [t for t in slots if t != s])


def _fill_empty(pb: Problem, a: IntArray) -> None:
    """Fill empty slots, best position first, with the stocked sku whose extra facing adds most."""
    for s in sorted(np.flatnonzero((a < 0) & (pb.locked < 0)).tolist(), key=lambda t: -pb.w[t]):
        best, best_gain = -1, 1e-12
        for k in np.unique(a[a >= 0]).tolist():
            slots = np.flatnonzero(a == k).tolist()
            if not pb.feasible[k, s] or len(slots) >= int(pb.max_f[k]):
                continue
            gain = pb.sku_value(k, [*slots, s]) - pb.sku_value(k, slots)
            if gain > best_gain:
                best, best_gain = k, gain
        if best >= 0:
            a[s] = best
