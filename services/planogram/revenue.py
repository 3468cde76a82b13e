"""Revenue/margin prediction of a proposed planogram versus the current one, with intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import pdtr
from scipy.stats import norm

from services.planogram.model import DemandModel
from services.planogram.types import Cabinet, Catalog, Planogram
from services.planogram.value import PlanogramValue, evaluate, expected_sold


@dataclass(frozen=True, slots=True)
class SlotForecast:
    """Expected sales of one slot per day."""

    slot: str
    sku: str
    units_per_day: float
    revenue_per_day: float
    margin_per_day: float


@dataclass(frozen=True, slots=True)
class RevenuePrediction:
    """Expected daily figures; *_interval covers the expected value (parameter uncertainty), *_day_interval
    a single day's takings (adds Poisson noise).  Deltas are proposed minus current."""

    level: float
    revenue_per_day: float
    margin_per_day: float
    units_per_day: float
    revenue_interval: tuple[float, float]
    margin_interval: tuple[float, float]
    revenue_day_interval: tuple[float, float]
    current_revenue_per_day: float
    current_margin_per_day: float
    delta_revenue_per_day: float
    delta_margin_per_day: float
    delta_revenue_interval: tuple[float, float]
    delta_margin_interval: tuple[float, float]
    per_slot: tuple[SlotForecast, ...]


def _sensitivity(model: DemandModel, pv: PlanogramValue, field: str) -> dict[str, float]:
    """d(value)/d(log base demand) per sku: unit value x D x P(N <= C-1), N ~ Poisson(D T).

    Sales are E[min(N, C)] / T, whose derivative in the mean D T is P(N <= C - 1): the full demand
    when stock is ample, about nothing when the coil always sells out."""
    out: dict[str, float] = {}
    t = model.service_interval_days
    for sku, o in pv.per_sku.items():
        unit = (o.revenue if field == "revenue" else o.margin) / o.sold if o.sold > 0 else 0.0
        out[sku] = unit * o.demand * float(pdtr(o.stock - 1, o.demand * t)) if o.stock > 0 else 0.0
    return out


def refill_cycle_variance(model: DemandModel, products: Catalog, pv: PlanogramValue) -> float:
    """Variance of a day's expected takings over the days of the refill cycle (phase unknown).

    Right after a refill every coil is full; towards the end fast sellers are empty, so a day's takings
    depend on where it falls in the cycle.  With Poisson demand the units sold by the end of day j are
    E[min(N(j), C)], N(j) ~ Poisson(D j), so day j sells the difference; the mean over the cycle is Z."""
    n = max(round(model.service_interval_days), 1)
    days = np.arange(1, n + 1, dtype=np.float64)
    profile = np.zeros(n)
    for sku, o in pv.per_sku.items():
        if o.stock <= 0 or o.demand <= 0:
            continue
        cumulative = np.concatenate([[0.0], days * np.asarray(expected_sold(o.demand, float(o.stock), days))])
        profile += products[sku].price * np.diff(cumulative)
    return float(np.var(profile))


def _var(model: DemandModel, sens: dict[str, float], pv: PlanogramValue) -> float:
    """Variance of the expected takings from the sku rates' and the position weights' errors.

    Position errors are correlated (the slots of one row share the row effect), so they enter through the
    slots' covariance.  Skus never sold here are all predicted from the fleet prior scaled by one device level
    and one selection factor, so their errors move together: (sum g*se)^2, not sum (g*se)^2."""
    at_slot = np.zeros(len(model.slot_codes))
    v = 0.0
    unseen = 0.0
    for sku, g in sens.items():
        k = model.sku_index[sku]
        at_slot[model.slot_index[max(pv.per_sku[sku].slots, key=model.weight)]] += g
        if model.observed[k]:
            v += g * g * float(model.base_log_se[k] ** 2)
        else:
            unseen += g * float(model.base_log_se[k])
    return v + unseen * unseen + float(at_slot @ model.position_cov() @ at_slot)


def _delta_var(
    model: DemandModel,
    g_new: dict[str, float],
    g_cur: dict[str, float],
    new: PlanogramValue,
    cur: PlanogramValue,
) -> float:
    """Variance of proposed - current, with the errors correlated as in `_var`.

    A sku's own rate error enters with (g_new - g_cur), so what both planograms share cancels; its position
    error enters at its best slot in each (a sku that keeps its slot cancels there too)."""
    at_slot = np.zeros(len(model.slot_codes))
    v = 0.0
    unseen = 0.0
    for sku in set(g_new) | set(g_cur):
        k = model.sku_index[sku]
        a, b = g_new.get(sku, 0.0), g_cur.get(sku, 0.0)
        if model.observed[k]:
            v += (a - b) ** 2 * float(model.base_log_se[k] ** 2)
        else:
            unseen += (a - b) * float(model.base_log_se[k])
        for g, pv in ((a, new), (-b, cur)):
            if sku in pv.per_sku:
                at_slot[model.slot_index[max(pv.per_sku[sku].slots, key=model.weight)]] += g
    return v + unseen * unseen + float(at_slot @ model.position_cov() @ at_slot)


def predict_revenue(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    proposed: Planogram,
    current: Planogram | None = None,
    *,
    level: float = 0.9,
) -> RevenuePrediction:
    """Normal-approximation intervals via the delta method on log base demand and position weights."""
    z = float(norm.ppf(0.5 + level / 2))
    new = evaluate(model, cabinet, products, proposed)
    cur = evaluate(model, cabinet, products, current) if current is not None else None
    s_rev, s_mar = _sensitivity(model, new, "revenue"), _sensitivity(model, new, "margin")
    v_rev, v_mar = _var(model, s_rev, new), _var(model, s_mar, new)
    # A day's takings vary more than Poisson sales would (shared daily shocks): scale by the fit's dispersion.
    poisson = model.dispersion * sum(products[sku].price ** 2 * outcome.sold for sku, outcome in new.per_sku.items())
    poisson += refill_cycle_variance(model, products, new)
    d_rev = d_mar = 0.0
    dv_rev = dv_mar = 0.0
    if cur is not None:
        d_rev, d_mar = new.revenue_per_day - cur.revenue_per_day, new.margin_per_day - cur.margin_per_day
        c_rev, c_mar = _sensitivity(model, cur, "revenue"), _sensitivity(model, cur, "margin")
        dv_rev, dv_mar = _delta_var(model, s_rev, c_rev, new, cur), _delta_var(model, s_mar, c_mar, new, cur)
    return RevenuePrediction(
        level,
        new.revenue_per_day,
        new.margin_per_day,
        new.units_per_day,
        _interval(z, new.revenue_per_day, v_rev),
        _interval(z, new.margin_per_day, v_mar),
        _interval(z, new.revenue_per_day, v_rev + poisson),
        cur.revenue_per_day if cur else 0.0,
        cur.margin_per_day if cur else 0.0,
        d_rev,
        d_mar,
        _interval(z, d_rev, dv_rev),
        _interval(z, d_mar, dv_mar),
        _per_slot(products, proposed, new),
    )


def _interval(z: float, mid: float, var: float) -> tuple[float, float]:
    """mid ± z standard deviations."""
    half = z * math.sqrt(max(var, 0.0))
    return (mid - half, mid + half)


def _per_slot(products: Catalog, proposed: Planogram, value: PlanogramValue) -> tuple[SlotForecast, ...]:
    """Expected units, revenue and margin per day of each stocked slot, in slot order."""
    mapping = proposed.mapping()
    return tuple(
        SlotForecast(
            slot, mapping[slot], units, units * products[mapping[slot]].price, units * products[mapping[slot]].margin
        )
        for slot, units in sorted(value.per_slot_units.items())
    )
