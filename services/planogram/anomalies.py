"""Anomalies: slots whose sales stopped or dropped abnormally, and vends at an unexpected price."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from services.planogram.model import DemandModel
from services.planogram.occupancy import epoch_days
from services.planogram.types import Cabinet, Catalog, IntArray, Planogram, SalesData


@dataclass(frozen=True, slots=True)
class Anomaly:
    """kind: stopped (empty or jammed) | drop | price; p_value of seeing so few sales if all were well."""

    slot: str
    sku: str
    kind: str
    since_day: int
    expected_units: float
    observed_units: float
    p_value: float
    evidence: str


def detect_anomalies(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    sales: SalesData,
    planogram: Planogram,
    *,
    recent_days: int = 14,
    alpha: float = 0.001,
) -> tuple[Anomaly, ...]:
    """Stopped: a trailing zero-sale run with P(0 | in stock) <= alpha.  Drop: the last recent_days sell
    under half the model's expectation with Poisson p <= alpha.  Price: vends >1% off catalogue price."""
    out: list[Anomaly] = []
    vend_days = epoch_days(sales)
    slot_pos = {c: i for i, c in enumerate(sales.slot_codes)}
    facings = planogram.facings()
    for slot, sku in sorted(planogram.mapping().items()):
        if slot not in slot_pos or not model.has_sku(sku) or slot not in model.slot_index:
            continue
        days = vend_days[sales.slot == slot_pos[slot]]
        modelled = [s for s in facings[sku] if s in model.slot_index]
        rate = model.demand(sku, modelled)
        rate *= model.weight(slot) / sum(model.weight(s) for s in modelled)
        found = _stopped(model, slot, sku, days, rate, alpha) or _drop(model, slot, sku, days, rate, recent_days, alpha)
        if found is not None:
            out.append(found)
    return tuple(out) + _price_anomalies(products, sales, vend_days)


def _stopped(model: DemandModel, slot: str, sku: str, days: IntArray, rate: float, alpha: float) -> Anomaly | None:
    """No vend since the last one although that many sales were expected (empty or jammed)."""
    last = int(days.max()) if len(days) else model.start_day - 1
    run = range(last + 1, model.end_day + 1)
    expected = sum(rate * model.day_factor(x) for x in run)
    if not (len(run) and expected >= -math.log(alpha)):
        return None
    evidence = f"no vend for {len(run)} days; {expected:.1f} expected (empty or jammed?)"
    return Anomaly(slot, sku, "stopped", last + 1, expected, 0.0, math.exp(-expected), evidence)


def _drop(
    model: DemandModel, slot: str, sku: str, days: IntArray, rate: float, recent_days: int, alpha: float
) -> Anomaly | None:
    """The last recent_days sold under half of what the slot's own earlier level predicts."""
    end = model.end_day
    lo = end - recent_days + 1
    recent = float((days >= lo).sum())
    exp_recent = sum(rate * model.day_factor(x) for x in range(lo, end + 1))
    before = float(((days < lo) & (days >= lo - 28)).sum())
    exp_before = sum(rate * model.day_factor(x) for x in range(lo - 28, lo))
    if exp_before > 0 and before > 0:
        exp_recent *= before / exp_before  # compare with this slot's own earlier level
    p_value = float(poisson.cdf(recent, exp_recent)) if exp_recent > 0 else 1.0
    if not (recent < 0.5 * exp_recent and p_value <= alpha):
        return None
    evidence = f"{recent:.0f} vends in {recent_days} days vs {exp_recent:.1f} expected"
    return Anomaly(slot, sku, "drop", lo, exp_recent, recent, p_value, evidence)


def _price_anomalies(products: Catalog, sales: SalesData, vend_days: IntArray) -> tuple[Anomaly, ...]:
    """Per sku, the vends more than 1% off the catalogue price (first one's slot and day)."""
    out: list[Anomaly] = []
    for k, sku in enumerate(sales.skus):
        if sku not in products:
            continue
        price = products[sku].price
        off = (sales.sku == k) & (np.abs(sales.price - price) > 0.01 * max(price, 0.01))
        if off.any():
            idx = np.flatnonzero(off)
            seen = sorted({round(float(x), 2) for x in sales.price[idx]})[:5]
            evidence = f"{len(idx)} vends at {seen} vs catalogue price {price:.2f}"
            slot = sales.slot_codes[int(sales.slot[idx[0]])]
            out.append(Anomaly(slot, sku, "price", int(vend_days[idx[0]]), 0.0, float(len(idx)), 0.0, evidence))
    return tuple(out)
