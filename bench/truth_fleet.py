"""A second truth generator, deliberately unlike services/planogram/synthetic.py (which the engine was tuned on).

Differences that matter for the engine's numbers:
* demand: heavy-tailed popularity (lognormal sd 1.1) x device level (sd 0.35) x venue taste (sd 0.4) x a
  device-by-product idiosyncrasy (sd 0.5) that the operator partly knows: operators stock what sells at
  *that* machine, so a product never stocked somewhere is weaker there than the fleet rate says;
* position: eye level at a random row (1-3), random strength, a left-right gradient and per-slot noise;
  visibility is (1 - e) * best + e * sum of facing weights with e = 0.1 (the engine assumes otherwise);
* operators' planograms: a noisy belief of local demand, one facing for most products and two for a few,
  so fast sellers are often short of days-of-cover (soft rules broken), categories not blocked;
* sales: simulated per customer with pooled stock over a product's facings, refills every T days, a
  customer choosing a facing by weight among the non-empty ones.
The true value of a planogram is analytic: per product E[min(Poisson(D T), C)] / T x margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import pdtr

from services.planogram.synthetic import fits, make_cabinet, make_catalog
from services.planogram.types import SECONDS_PER_DAY, Cabinet, Planogram, ProductSpec, SalesData

TRUE_EPS = 0.1
VENUES = ("office", "gym", "school", "hospital", "station")
DOW = (1.15, 1.2, 1.2, 1.15, 1.05, 0.6, 0.65)


@dataclass(frozen=True)
class TrueDevice:
    """A device with its true per-product demand (units/day on one facing of weight 1) and slot weights."""

    cabinet: Cabinet
    planogram: Planogram
    sales: SalesData
    base: dict[str, float]
    weight: dict[str, float]
    facing_eps: float = TRUE_EPS  # visibility = (1 - e) * best weight + e * sum of the facings' weights

    def demand(self, sku: str, slots: list[str]) -> float:
        """True demand per day of a product on these facings."""
        return self.base.get(sku, 0.0) * visibility([self.weight[s] for s in slots], self.facing_eps)

    def value(self, planogram: Planogram, products: dict[str, ProductSpec], what: str = "margin") -> float:
        """True expected margin (or revenue) per day."""
        caps = {s.code: s.capacity for s in self.cabinet.slots}
        t = self.cabinet.service_interval_days
        total = 0.0
        for sku, slots in planogram.facings().items():
            m = self.demand(sku, slots) * t
            c = float(sum(caps[s] for s in slots))
            sold = (m * pdtr(c - 1, m) + c * (1 - pdtr(c, m))) / t
            p = products[sku]
            total += sold * (p.margin if what == "margin" else p.price)
        return total


@dataclass(frozen=True)
class TrueFleet:
    """Devices sharing a catalogue."""

    products: tuple[ProductSpec, ...]
    devices: tuple[TrueDevice, ...]


def _weights(cab: Cabinet, rng: np.random.Generator) -> dict[str, float]:
    eye = int(rng.integers(1, min(4, cab.rows)))
    strength = float(rng.uniform(0.3, 0.9))
    tilt = float(rng.uniform(-0.4, 0.4))
    raw = {
        s.code: math.exp(
            -strength * ((s.row - eye) / 2.0) ** 2
            + tilt * (s.col / max(cab.cols - 1, 1) - 0.5)
            + float(rng.normal(0, 0.1))
        )
        for s in cab.slots
    }
    mean = sum(raw.values()) / len(raw)
    return {k: v / mean for k, v in raw.items()}


def _operator(
    cab: Cabinet,
    products: tuple[ProductSpec, ...],
    base: dict[str, float],
    weight: dict[str, float],
    rng: np.random.Generator,
) -> Planogram:
    """Best believed sellers, mostly one facing, best believed at the best-looking rows (not the true ones)."""
    belief = {p.sku: base[p.sku] * float(rng.lognormal(0, 0.4)) * max(p.margin, 0.01) for p in products}
    ranked = sorted(products, key=lambda p: -belief[p.sku])
    order = sorted(cab.slots, key=lambda s: (abs(s.row - 1), s.col))  # the operator believes row B is best
    mapping: dict[str, str] = {}
    free = list(order)
    for i, p in enumerate(ranked):
        n = 2 if i < 4 else 1
        for _ in range(n):
            slot = next(
                (s for s in free if fits(s, p) and (s.zone == p.temperature or p.temperature == "ambient")), None
            )
            if slot is None:
                break
            mapping[slot.code] = p.sku
            free.remove(slot)
        if not free:
            break
    del weight
    return Planogram.of(mapping)


def visibility(weights: list[float], eps: float) -> float:
    """The truth's facing rule: (1 - eps) x the best facing's weight + eps x the sum of all of them."""
    return (1 - eps) * max(weights) + eps * sum(weights)


def simulate(
    dev_cab: Cabinet,
    plan: Planogram,
    base: dict[str, float],
    weight: dict[str, float],
    products: dict[str, ProductSpec],
    days: int,
    start_day: int,
    rng: np.random.Generator,
    facing_eps: float = TRUE_EPS,
) -> SalesData:
    """Vends with pooled stock per product, refills every T days, facing chosen by weight among non-empty."""
    caps = {s.code: s.capacity for s in dev_cab.slots}
    t = max(round(dev_cab.service_interval_days), 1)
    facings = plan.facings()
    rows: list[tuple[int, str, str, float, int | None]] = []
    stock: dict[str, int] = {}
    txn = 0
    for d in range(days):
        if d % t == 0:
            stock = dict(caps)
        f = DOW[(start_day + d + 3) % 7]
        for sku, slots in sorted(facings.items()):
            w = [weight[s] for s in slots]
            lam = base[sku] * visibility(w, facing_eps) * f
            for _ in range(int(rng.poisson(lam))):
                open_ = [s for s in slots if stock[s] > 0]
                if not open_:
                    break
                ww = np.array([weight[s] for s in open_])
                s = open_[int(rng.choice(len(open_), p=ww / ww.sum()))]
                stock[s] -= 1
                ts = (start_day + d) * SECONDS_PER_DAY + int(rng.uniform(7, 21) * 3600)
                rows.append((ts, s, sku, products[sku].price, txn))
                txn += 1
    return SalesData.from_rows(dev_cab.device_id, rows, dev_cab.slot_codes())


def generate_true_fleet(
    n_devices: int,
    seed: int,
    *,
    n_products: int = 90,
    days: int = 90,
    start_day: int = 20_000,
    facing_eps: float = TRUE_EPS,
) -> TrueFleet:
    """n devices (6 x 8 cabinets) with operator planograms, simulated sales and the truth to grade with.

    facing_eps: how much an extra facing adds (module docstring); 0 = stock only, 1 = every facing sells alone.
    """
    rng = np.random.default_rng(seed)
    products = make_catalog(n_products, rng, prefix="T")
    cat = {p.sku: p for p in products}
    popularity = {p.sku: float(rng.lognormal(0, 1.1)) for p in products}
    taste = {v: {p.sku: float(rng.lognormal(0, 0.4)) for p in products} for v in VENUES}
    devices = []
    for i in range(n_devices):
        venue = VENUES[i % len(VENUES)]
        cab = make_cabinet(
            f"T{i:03d}",
            6,
            8,
            venue_type=venue,
            service_interval_days=float(rng.choice([5, 7, 7, 10])),
            capacity=int(rng.choice([6, 8, 10])),
        )
        level = float(rng.lognormal(0, 0.35)) * 0.25
        base = {k: level * popularity[k] * taste[venue][k] * float(rng.lognormal(0, 0.5)) for k in cat}
        weight = _weights(cab, rng)
        plan = _operator(cab, products, base, weight, rng)
        sales = simulate(cab, plan, base, weight, cat, days, start_day, rng, facing_eps)
        devices.append(TrueDevice(cab, plan, sales, base, weight, facing_eps))
    return TrueFleet(products, tuple(devices))
