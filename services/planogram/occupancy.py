"""Slot x day panel: which sku each slot held each day and how many units it sold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.planogram.types import SECONDS_PER_DAY, Cabinet, FloatArray, IntArray, Planogram, SalesData


@dataclass(frozen=True, slots=True)
class Panel:
    """Daily slot panel over epoch days [start_day, start_day + n_days)."""

    start_day: int
    n_days: int
    occ: IntArray  # (slots, days) universe sku index or -1 (empty / unknown)
    counts: FloatArray  # (slots, days) units of the occupying sku sold
    changeover: npt.NDArray[np.bool_]  # (slots, days) another sku also sold there that day
    dropped_vends: int  # vends outside the window, in unknown slots or of unknown skus


def epoch_days(sales: SalesData) -> IntArray:
    """Epoch day (local to the device's tz offset) of each vend."""
    return (sales.ts + sales.tz_offset_s) // SECONDS_PER_DAY


def _infer_slot_occupants(days: IntArray, skus: IntArray, n_days: int, current: int) -> IntArray:
    """Occupant per day for one slot from its vends: each sku holds it from its first vend on."""
    occ = np.full(n_days, -1, dtype=np.int64)
    if len(days) == 0:
        if current >= 0:
            occ[:] = current
        return occ
    firsts: dict[int, int] = {}
    for d, k in zip(days.tolist(), skus.tolist(), strict=True):
        firsts.setdefault(k, d)
    order = sorted(firsts.items(), key=lambda kv: (kv[1], kv[0]))
    for i, (k, first) in enumerate(order):
        start = 0 if i == 0 else first
        end = order[i + 1][1] if i + 1 < len(order) else n_days
        occ[start:end] = k
    return occ


def build_panel(
    cabinet: Cabinet,
    sku_index: Mapping[str, int],
    sales: SalesData,
    planogram: Planogram | None,
    history: Sequence[tuple[int, Planogram]] | None,
    end_day: int | None,
    max_days: int,
) -> Panel:
    """Aggregate vends into the panel; occupancy comes from `history` (epoch day, planogram) if given.

    Without history a slot is held by each sku seen there from that sku's first vend until the next
    sku's first vend (the first occupant from the window start); a slot without vends holds the
    current planogram's sku for the whole window.
    """
    slot_map = cabinet.index()
    n_slots = len(cabinet.slots)
    vend_days = epoch_days(sales)
    last = int(vend_days.max()) if sales.n else (end_day if end_day is not None else 0)
    end = end_day if end_day is not None else last
    start = int(vend_days.min()) if sales.n else end
    start = max(start, end - max_days + 1)
    n_days = end - start + 1
    slot_of, sku_of, day_of = _window_vends(sales, slot_map, sku_index, vend_days - start, n_days)
    if history:
        occ = _occupants_from_history(slot_map, sku_index, history, start, n_slots, n_days)
    else:
        current = {
            slot_map[s]: sku_index.get(k, -1) for s, k in (planogram.assignments if planogram else ()) if s in slot_map
        }
        occ = _occupants_from_vends(slot_of, sku_of, day_of, current, n_slots, n_days)
    match = sku_of == occ[slot_of, day_of]
    counts = np.zeros((n_slots, n_days), dtype=np.float64)
    np.add.at(counts, (slot_of[match], day_of[match]), 1.0)
    changeover = np.zeros((n_slots, n_days), dtype=bool)
    changeover[slot_of[~match], day_of[~match]] = True
    return Panel(start, n_days, occ, counts, changeover, int(sales.n - int(match.sum())))


def _window_vends(
    sales: SalesData, slot_map: Mapping[str, int], sku_index: Mapping[str, int], day: IntArray, n_days: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Cabinet slot, universe sku and panel day of the vends inside the window with a known slot and sku."""
    slot_code_map = np.array([slot_map.get(c, -1) for c in sales.slot_codes], dtype=np.int64)
    sku_code_map = np.array([sku_index.get(k, -1) for k in sales.skus], dtype=np.int64)
    slot = slot_code_map[sales.slot] if sales.n else np.zeros(0, dtype=np.int64)
    sku = sku_code_map[sales.sku] if sales.n else np.zeros(0, dtype=np.int64)
    keep = (slot >= 0) & (sku >= 0) & (day >= 0) & (day < n_days)
    return slot[keep], sku[keep], day[keep]


def _occupants_from_history(
    slot_map: Mapping[str, int],
    sku_index: Mapping[str, int],
    history: Sequence[tuple[int, Planogram]],
    start: int,
    n_slots: int,
    n_days: int,
) -> IntArray:
    """(slots, days) occupant from the known planograms: each holds from its day until the next one's."""
    occ = np.full((n_slots, n_days), -1, dtype=np.int64)
    ordered = sorted(history, key=lambda h: h[0])
    for i, (day, plan) in enumerate(ordered):
        first = 0 if i == 0 else max(day - start, 0)
        stop = n_days if i + 1 == len(ordered) else max(min(ordered[i + 1][0] - start, n_days), 0)
        if first >= stop:
            continue
        for slot, sku in plan.assignments:
            if slot in slot_map:
                occ[slot_map[slot], first:stop] = sku_index.get(sku, -1)
    return occ


def _occupants_from_vends(
    slot: IntArray, sku: IntArray, day: IntArray, current: Mapping[int, int], n_slots: int, n_days: int
) -> IntArray:
    """(slots, days) occupant inferred slot by slot from the vends (the current sku where none)."""
    occ = np.full((n_slots, n_days), -1, dtype=np.int64)
    order = np.lexsort((day, slot))
    slot_sorted, day_sorted, sku_sorted = slot[order], day[order], sku[order]
    bounds = np.searchsorted(slot_sorted, np.arange(n_slots + 1))
    for s in range(n_slots):
        first, stop = bounds[s], bounds[s + 1]
        occ[s] = _infer_slot_occupants(day_sorted[first:stop], sku_sorted[first:stop], n_days, current.get(s, -1))
    return occ
