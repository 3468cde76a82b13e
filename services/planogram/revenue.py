"""Revenue/margin prediction of a proposed planogram versus the current one, with intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import pdtr
from scipy.stats import norm

from services.planogram.model import DemandModel
from services.planogram.types import Cabinet, Catalog, Planogram
from services.planogram.value import PlanogramValue, evaluate


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


def _var(model: DemandModel, sens: dict[str, float], pv: PlanogramValue) -> float:
    v = 0.0
    for sku, g in sens.items():
        best = max(pv.per_sku[sku].slots, key=model.weight)
        se = model.base_log_se[model.sku_index[sku]] ** 2 + model.pos_log_se[model.slot_index[best]] ** 2
        v += g * g * float(se)
    return v


def _delta_var(
    model: DemandModel,
    g_new: dict[str, float],
    g_cur: dict[str, float],
    new: PlanogramValue,
    cur: PlanogramValue,
) -> float:
    """Variance of proposed - current: shared base demand cancels; moved skus add position variance."""
    v = 0.0
    for sku in set(g_new) | set(g_cur):
        a, b = g_new.get(sku, 0.0), g_cur.get(sku, 0.0)
        v += (a - b) ** 2 * float(model.base_log_se[model.sku_index[sku]] ** 2)
        p_new = max(new.per_sku[sku].slots, key=model.weight) if sku in new.per_sku else None
        p_cur = max(cur.per_sku[sku].slots, key=model.weight) if sku in cur.per_sku else None
        if p_new != p_cur:
            for g, p in ((a, p_new), (b, p_cur)):
                if p is not None:
                    v += g * g * float(model.pos_log_se[model.slot_index[p]] ** 2)
    return v


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
    poisson = sum(products[sku].price ** 2 * outcome.sold for sku, outcome in new.per_sku.items())
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
