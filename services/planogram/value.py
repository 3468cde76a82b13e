"""Value of a planogram per day: demand x position capped by the stock its facings hold, minus penalty."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import pdtr

from services.planogram.model import DemandModel, visibility
from services.planogram.types import Cabinet, Catalog, FloatArray, Objective, Planogram, ProductSpec

FloatLike = float | FloatArray


@dataclass(frozen=True, slots=True)
class ValueParams:
    """Objective choice and weights; the bonuses are currency/day per adjacent slot pair.

    category_bonus: same category (or same sku) side by side; affinity_bonus: times ln(lift) of a
    significant co-purchase pair side by side.  Both 0 makes the objective separable.

    uncertainty_discount (kappa): the objective counts a sku's units at u * exp(-kappa * se), se being
    the posterior sd of its log base demand.  A proven local seller (se ~ 0.1-0.2) keeps most of its
    value; a sku never sold here (se = its prior sd, 0.6-1.0) is planned at about half its prior rate.
    This is the remedy for the optimiser's curse (picking the max of noisy estimates); 0 turns it off.
    Revenue, margin and units stay point estimates.

    change_cost: currency per changed slot (a slot whose sku differs from the current planogram's,
    including one filled or emptied), amortised over change_horizon_days.  Assumption: re-labelling and
    re-stocking a coil costs about 0.50 of labour, and a planogram stays for about four weeks, so a change
    must be predicted to add more than 0.50 / 28 = 0.018 per day.  It stops the optimiser from changing
    almost every slot for differences far inside the model's error.  The optimiser maximises value minus
    this cost (`planogram_objective(..., current=...)`); `evaluate` and reported values leave it out.
    0 turns it off.
    """

    objective: Objective = "margin"
    stockout_penalty: float = 0.0
    category_bonus: float = 0.02
    affinity_bonus: float = 0.05
    uncertainty_discount: float = 1.0
    change_cost: float = 0.50
    change_horizon_days: float = 28.0

    @property
    def change_cost_per_day(self) -> float:
        """Cost per changed slot per day (0 when either setting is off)."""
        if self.change_cost <= 0.0 or self.change_horizon_days <= 0.0:
            return 0.0
        return self.change_cost / self.change_horizon_days

    @property
    def separable(self) -> bool:
        """True when no adjacency term is active (the MILP alone is then optimal)."""
        return self.category_bonus == 0.0 and self.affinity_bonus == 0.0


@dataclass(frozen=True, slots=True)
class SkuOutcome:
    """What one sku on its facings does per day."""

    sku: str
    slots: tuple[str, ...]
    demand: float
    sold: float
    stock: int
    days_of_supply: float
    lost_per_day: float
    revenue: float
    margin: float
    value: float


@dataclass(frozen=True, slots=True)
class PlanogramValue:
    """Totals per day plus per-sku outcomes and per-slot expected units."""

    value: float
    revenue_per_day: float
    margin_per_day: float
    units_per_day: float
    per_sku: Mapping[str, SkuOutcome]
    per_slot_units: Mapping[str, float]


def unit_value(product: ProductSpec, objective: Objective) -> float:
    """Value of one unit sold: margin or price."""
    return product.margin if objective == "margin" else product.price


def certainty_factor(model: DemandModel, sku: str, params: ValueParams) -> float:
    """exp(-kappa * se of log base demand): the share of a sku's value the objective relies on."""
    if params.uncertainty_discount <= 0.0:
        return 1.0
    return math.exp(-params.uncertainty_discount * float(model.base_log_se[model.sku_index[sku]]))


def planning_unit_value(model: DemandModel, product: ProductSpec, params: ValueParams) -> float:
    """Unit value the objective uses: margin or price, discounted by how uncertain the sku's demand is."""
    return unit_value(product, params.objective) * certainty_factor(model, product.sku, params)


def expected_sold(demand: FloatLike, stock: FloatLike, interval: FloatLike) -> FloatLike:
    """Units sold per day when `stock` units must last `interval` days of Poisson demand `demand`/day.

    Per refill cycle N ~ Poisson(m = demand * T) and sales are min(N, C): E[min(N, C)] = m F(C-1) +
    C (1 - F(C)), F the Poisson cdf.  Below min(demand, C / T) exactly when stock runs close: a fast
    seller whose coil holds about one interval's demand sells out in half the cycles.
    """
    m = np.asarray(demand, dtype=np.float64) * interval
    c = np.asarray(stock, dtype=np.float64)
    sold = m * pdtr(c - 1.0, m) + c * (1.0 - pdtr(c, m))
    out = np.where(c > 0, sold, 0.0) / interval
    return float(out) if np.ndim(out) == 0 else out


def sku_value(
    base: float,
    weights: Sequence[float],
    caps: Sequence[int],
    interval: float,
    eps: float,
    unit: float,
    penalty: float,
) -> tuple[float, float, float]:
    """(objective value, demand, sold) per day of one sku.

    D = base * visibility(w);  sold = expected_sold(D, C, T);  value = u * sold - penalty * max(u, 0) *
    (D - sold).  The optional stockout penalty (0 by default) prices the demand the stock cannot serve.
    """
    demand = base * visibility(weights, eps)
    sold = float(expected_sold(demand, float(sum(caps)), interval))
    return unit * sold - penalty * max(unit, 0.0) * max(0.0, demand - sold), demand, sold


def slot_capacities(cabinet: Cabinet, planogram: Planogram) -> dict[str, int]:
    """Capacity per slot: the planogram's override when given, else the slot's own capacity."""
    caps = {s.code: s.capacity for s in cabinet.slots}
    caps.update({s: c for s, c in planogram.capacities if s in caps})
    return caps


def sku_outcome(
    model: DemandModel,
    product: ProductSpec,
    slots: Sequence[str],
    caps: Mapping[str, int],
    interval: float,
    params: ValueParams,
) -> SkuOutcome:
    """Outcome of one sku on the given facings."""
    w = [model.weight(s) for s in slots]
    c = [caps[s] for s in slots]
    u = planning_unit_value(model, product, params)
    val, demand, sold = sku_value(
        model.base_demand(product.sku), w, c, interval, model.space_elasticity, u, params.stockout_penalty
    )
    stock = int(sum(c))
    dos = stock / demand if demand > 0 else float("inf")
    return SkuOutcome(
        product.sku,
        tuple(slots),
        demand,
        sold,
        stock,
        dos,
        demand - sold,
        sold * product.price,
        sold * product.margin,
        val,
    )


def evaluate(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    params: ValueParams | None = None,
) -> PlanogramValue:
    """Evaluate a planogram; unknown slots/skus are skipped (validate reports them)."""
    params = params or ValueParams()
    caps = slot_capacities(cabinet, planogram)
    interval = cabinet.service_interval_days
    per_sku: dict[str, SkuOutcome] = {}
    per_slot: dict[str, float] = {}
    for sku, slots in sorted(planogram.facings().items()):
        good = sorted({s for s in slots if s in model.slot_index and s in caps})
        if sku not in products or not model.has_sku(sku) or not good:
            continue
        out = sku_outcome(model, products[sku], good, caps, interval, params)
        per_sku[sku] = out
        w = [model.weight(s) for s in good]
        tot = sum(w)
        for s, ws in zip(good, w, strict=True):
            per_slot[s] = out.sold * ws / tot if tot > 0 else 0.0
    return PlanogramValue(
        sum(o.value for o in per_sku.values()),
        sum(o.revenue for o in per_sku.values()),
        sum(o.margin for o in per_sku.values()),
        sum(o.sold for o in per_sku.values()),
        per_sku,
        per_slot,
    )
