"""Anomalies: slots whose sales stopped or dropped abnormally, and vends at an unexpected price."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from services.planogram.model import DemandModel
from services.planogram.occupancy import epoch_days
from services.planogram.types import Cabinet, Catalog, Planogram, SalesData


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
    d = epoch_days(sales)
    end = model.end_day
    slot_pos = {c: i for i, c in enumerate(sales.slot_codes)}
    for slot, sku in sorted(planogram.mapping().items()):
        if slot not in slot_pos or not model.has_sku(sku) or slot not in model.slot_index:
            continue
        mask = sales.slot == slot_pos[slot]
        days = d[mask]
        rate = model.demand(sku, [s for s in planogram.facings()[sku] if s in model.slot_index])
        rate *= model.weight(slot) / sum(
            model.weight(s) for s in planogram.facings()[sku] if s in model.slot_index
        )
        last = int(days.max()) if len(days) else model.start_day - 1
        run = range(last + 1, end + 1)
        expected = sum(rate * model.day_factor(x) for x in run)
        if len(run) and expected >= -math.log(alpha):
            out.append(
                Anomaly(
                    slot,
                    sku,
                    "stopped",
                    last + 1,
                    expected,
                    0.0,
                    math.exp(-expected),
                    f"no vend for {len(run)} days; {expected:.1f} expected (empty or jammed?)",
                )
            )
            continue
        lo = end - recent_days + 1
        recent = float((days >= lo).sum())
        exp_recent = sum(rate * model.day_factor(x) for x in range(lo, end + 1))
        before = float(((days < lo) & (days >= lo - 28)).sum())
        exp_before = sum(rate * model.day_factor(x) for x in range(lo - 28, lo))
        if exp_before > 0 and before > 0:
            exp_recent *= before / exp_before  # compare with this slot's own earlier level
        p = float(poisson.cdf(recent, exp_recent)) if exp_recent > 0 else 1.0
        if recent < 0.5 * exp_recent and p <= alpha:
            out.append(
                Anomaly(
                    slot,
                    sku,
                    "drop",
                    lo,
                    exp_recent,
                    recent,
                    p,
                    f"{recent:.0f} vends in {recent_days} days vs {exp_recent:.1f} expected",
                )
            )
    for k, sku in enumerate(sales.skus):
        if sku not in products:
            continue
        price = products[sku].price
        bad = (sales.sku == k) & (np.abs(sales.price - price) > 0.01 * max(price, 0.01))
        if bad.any():
            idx = np.flatnonzero(bad)
            seen = sorted({round(float(x), 2) for x in sales.price[idx]})[:5]
            out.append(
                Anomaly(
                    sales.slot_codes[int(sales.slot[idx[0]])],
                    sku,
                    "price",
                    int(d[idx[0]]),
                    0.0,
                    float(len(idx)),
                    0.0,
                    f"{len(idx)} vends at {seen} vs catalogue price {price:.2f}",
                )
            )
    return tuple(out)
