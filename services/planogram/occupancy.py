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
    sd = epoch_days(sales)
    last = int(sd.max()) if sales.n else (end_day if end_day is not None else 0)
    end = end_day if end_day is not None else last
    start = int(sd.min()) if sales.n else end
    start = max(start, end - max_days + 1)
    n_days = end - start + 1
    s_map = np.array([slot_map.get(c, -1) for c in sales.slot_codes], dtype=np.int64)
    k_map = np.array([sku_index.get(k, -1) for k in sales.skus], dtype=np.int64)
    vs = s_map[sales.slot] if sales.n else np.zeros(0, dtype=np.int64)
    vk = k_map[sales.sku] if sales.n else np.zeros(0, dtype=np.int64)
    vd = sd - start
    keep = (vs >= 0) & (vk >= 0) & (vd >= 0) & (vd < n_days)
    vs, vk, vd = vs[keep], vk[keep], vd[keep]
    current = {
        slot_map[s]: sku_index.get(k, -1)
        for s, k in (planogram.assignments if planogram else ())
        if s in slot_map
    }
    occ = np.full((n_slots, n_days), -1, dtype=np.int64)
    if history:
        hist = sorted(history, key=lambda h: h[0])
        for i, (day, plan) in enumerate(hist):
            a = 0 if i == 0 else max(day - start, 0)
            b = n_days if i + 1 == len(hist) else max(min(hist[i + 1][0] - start, n_days), 0)
            if a >= b:
                continue
            for slot, sku in plan.assignments:
                if slot in slot_map:
                    occ[slot_map[slot], a:b] = sku_index.get(sku, -1)
    else:
        order = np.lexsort((vd, vs))
        vs_o, vd_o, vk_o = vs[order], vd[order], vk[order]
        bounds = np.searchsorted(vs_o, np.arange(n_slots + 1))
        for s in range(n_slots):
            a, b = bounds[s], bounds[s + 1]
            occ[s] = _infer_slot_occupants(vd_o[a:b], vk_o[a:b], n_days, current.get(s, -1))
    match = vk == occ[vs, vd]
    counts = np.zeros((n_slots, n_days), dtype=np.float64)
    np.add.at(counts, (vs[match], vd[match]), 1.0)
    changeover = np.zeros((n_slots, n_days), dtype=bool)
    changeover[vs[~match], vd[~match]] = True
    return Panel(start, n_days, occ, counts, changeover, int(sales.n - int(match.sum())))
