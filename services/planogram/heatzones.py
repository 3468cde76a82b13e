"""Heat zones: row x column position weights with confidence intervals from the fitted model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from services.planogram.layout import n_rows_cols
from services.planogram.model import DemandModel
from services.planogram.types import Cabinet, FloatArray, slot_code


@dataclass(frozen=True, slots=True)
class HeatZones:
    """weights[r, c] (mean 1 over slots; NaN where no slot) with [lower, upper] and a confidence label."""

    row_labels: tuple[str, ...]
    col_labels: tuple[int, ...]
    weights: FloatArray
    lower: FloatArray
    upper: FloatArray
    confidence: tuple[tuple[str, ...], ...]
    observed_slot_days: FloatArray
    row_weights: FloatArray
    col_weights: FloatArray
    level: float


def heat_zones(model: DemandModel, cabinet: Cabinet, *, level: float = 0.9) -> HeatZones:
    """Weights per cell; confidence 'high' if the interval is within +-15%, 'medium' +-35%, else 'low'."""
    n_r, n_c = n_rows_cols(cabinet)
    z = float(norm.ppf(0.5 + level / 2))
    w = np.full((n_r, n_c), np.nan)
    lo, hi, obs = w.copy(), w.copy(), np.zeros((n_r, n_c))
    conf = [["none"] * n_c for _ in range(n_r)]
    for i, s in enumerate(cabinet.slots):
        j = model.slot_index[s.code]
        wt, se = float(model.pos_weight[j]), float(model.pos_log_se[j])
        w[s.row, s.col] = wt
        lo[s.row, s.col], hi[s.row, s.col] = wt * math.exp(-z * se), wt * math.exp(z * se)
        obs[s.row, s.col] = model.obs_by_slot[j]
        half = math.exp(z * se) - 1
        conf[s.row][s.col] = "high" if half <= 0.15 else "medium" if half <= 0.35 else "low"
        del i
    return HeatZones(
        tuple(slot_code(r, 0)[:-1] for r in range(n_r)),
        tuple(range(1, n_c + 1)),
        w,
        lo,
        hi,
        tuple(tuple(r) for r in conf),
        obs,
        np.exp(model.row_log),
        np.exp(model.col_log),
        level,
    )
