"""The fitted demand/position model of one device: an immutable object with precomputed arrays."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from services.planogram.types import FloatArray


def _ro(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    a.setflags(write=False)
    return a


def facing_factor(n_facings: FloatArray | float, eps: float) -> FloatArray | float:
    """Demand multiplier of n facings over one: n ** eps, a constant space elasticity eps.

    Space elasticity is the % change in sales per % change in space (Eisend 2014: 0.17 on average), so a
    second facing (+100 % space) adds 2 ** 0.17 - 1 = 12.5 %, a third 7 % more: not eps per facing.
    """
    return np.power(np.maximum(n_facings, 1.0), eps)


def visibility(weights: Sequence[float] | FloatArray, eps: float) -> float:
    """Visibility of a sku's facings: the best facing's weight x n_facings ** eps.

    Position drives demand (the best-placed facing); extra facings add a little (space elasticity eps,
    about 0.17 in the literature) and mostly add stock.  Depending only on the best weight and the
    count is what makes the optimiser's pattern formulation exact (docs/ENGINE.md).
    """
    if len(weights) == 0:
        return 0.0
    return float(max(weights)) * float(facing_factor(len(weights), eps))


@dataclass(frozen=True, slots=True)
class DemandModel:
    """Per device x sku base demand, slot position weights, weekday pattern and trend.

    base[k]: units/day of sku k on one facing in a slot of weight 1 (the cabinet average), at the
    last day of the window, averaged over weekdays.  pos_weight[s]: multiplicative position effect
    of slot s (mean 1 over the cabinet, = row effect x column effect).  A sku on slots S sells
    base * visibility(w[S]) per day before stock limits.
    """

    device_id: str
    venue_type: str
    slot_codes: tuple[str, ...]
    skus: tuple[str, ...]
    sku_index: Mapping[str, int]
    slot_index: Mapping[str, int]
    base: FloatArray
    base_log_se: FloatArray
    observed: npt.NDArray[np.bool_]
    pos_weight: FloatArray
    pos_log_se: FloatArray
    row_log: FloatArray
    col_log: FloatArray
    dow: FloatArray
    trend_per_day: float
    trend_se: float
    space_elasticity: float
    service_interval_days: float
    start_day: int
    end_day: int
    n_obs: int
    censored_slot_days: int
    censored_by_slot: FloatArray
    obs_by_slot: FloatArray
    pair_lift: Mapping[tuple[str, str], float]
    dispersion: float = 1.0  # Pearson variance / mean of daily unit totals in the fit window (>= 1)
    pos_log_cov: FloatArray | None = None  # slots x slots covariance of log pos_weight (None: diagonal)
    # What the search plans on when it differs from base / pos_weight (which every figure uses): position
    # effects that also count the operator's placement in full (docs/ENGINE.md, "placement").
    plan_base: FloatArray | None = None
    plan_pos_weight: FloatArray | None = None

    @staticmethod
    def build(**kw: object) -> DemandModel:
        """Construct with read-only arrays and mappings (the model is shared across requests)."""
        for k, v in list(kw.items()):
            if isinstance(v, np.ndarray):
                kw[k] = _ro(v)
            elif isinstance(v, dict):
                kw[k] = MappingProxyType(v)
        return DemandModel(**kw)  # type: ignore[arg-type]

    def for_planning(self) -> DemandModel:
        """The model the optimiser's search values planograms with (itself when there is no separate one)."""
        if self.plan_base is None or self.plan_pos_weight is None:
            return self
        return self.with_estimates(self.plan_base, self.plan_pos_weight)

    def with_estimates(self, base: FloatArray, pos_weight: FloatArray, **other: object) -> DemandModel:
        """This model with one set of base rates and position weights for the figures and the search alike
        (e.g. a known truth put in); `other` replaces further fields."""
        fields = {"base": base, "pos_weight": pos_weight, "plan_base": None, "plan_pos_weight": None, **other}
        return replace(self, **fields)  # type: ignore[arg-type]

    def has_sku(self, sku: str) -> bool:
        """Whether the model knows the sku (catalogue or sales)."""
        return sku in self.sku_index

    def base_demand(self, sku: str) -> float:
        """Units/day of the sku on one facing at an average slot."""
        return float(self.base[self.sku_index[sku]])

    def weight(self, slot: str) -> float:
        """Position weight of a slot (mean 1)."""
        return float(self.pos_weight[self.slot_index[slot]])

    def expected_units_per_day(self, sku: str, slot: str) -> float:
        """Demand (units/day) of the sku on a single facing in this slot, before stock limits."""
        return self.base_demand(sku) * self.weight(slot)

    def demand(self, sku: str, slots: Sequence[str]) -> float:
        """Demand (units/day) of the sku on these facings, before stock limits."""
        w = [self.weight(s) for s in slots]
        return self.base_demand(sku) * visibility(w, self.space_elasticity)

    def day_factor(self, epoch_day: int, trend_damping: float = 1.0) -> float:
        """Multiplier for a calendar day: weekday factor x trend relative to the window end."""
        dow = self.dow[(epoch_day + 3) % 7]
        return float(dow * math.exp(trend_damping * self.trend_per_day * (epoch_day - self.end_day)))

    def lift(self, a: str, b: str) -> float:
        """Co-purchase lift of a pair (1 when not significant)."""
        key = (a, b) if a <= b else (b, a)
        return float(self.pair_lift.get(key, 1.0))

    def position_cov(self) -> FloatArray:
        """Covariance of the log position weights; the diagonal of pos_log_se when the fit gave none."""
        if self.pos_log_cov is not None:
            return self.pos_log_cov
        return np.diag(np.asarray(self.pos_log_se, dtype=np.float64) ** 2)

    def n_rows_cols(self) -> tuple[int, int]:
        """Shape of the row x column effect grid."""
        return len(self.row_log), len(self.col_log)
