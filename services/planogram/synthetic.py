"""Seeded synthetic devices, catalogues and vends with planted truth (for demos, tests and benches)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from services.planogram.model import visibility
from services.planogram.types import (
    SECONDS_PER_DAY,
    Cabinet,
    Catalog,
    FloatArray,
    Planogram,
    ProductSpec,
    SalesData,
    SlotSpec,
    slot_code,
)

_CATEGORIES: tuple[tuple[str, str, float, tuple[float, float, float]], ...] = (
    # category, temperature, typical price, (width, height, depth) mm
    ("soda", "chilled", 2.0, (66, 122, 66)),
    ("water", "chilled", 1.5, (70, 230, 70)),
    ("energy", "chilled", 2.8, (58, 168, 58)),
    ("juice", "chilled", 2.5, (65, 200, 65)),
    ("sandwich", "chilled", 4.0, (75, 160, 70)),
    ("chips", "ambient", 1.8, (75, 220, 45)),
    ("candy", "ambient", 1.5, (60, 150, 25)),
    ("bars", "ambient", 2.0, (50, 140, 25)),
    ("nuts", "ambient", 2.2, (70, 170, 40)),
    ("cookies", "ambient", 1.9, (70, 150, 40)),
)

VENUE_DOW: Mapping[str, tuple[float, ...]] = {
    "office": (1.2, 1.25, 1.25, 1.2, 1.1, 0.35, 0.3),
    "school": (1.3, 1.3, 1.3, 1.3, 1.2, 0.2, 0.15),
    "gym": (1.1, 1.0, 1.1, 1.0, 0.9, 1.0, 0.9),
    "hospital": (1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95),
    "station": (1.1, 1.0, 1.0, 1.0, 1.1, 0.9, 0.8),
}


@dataclass(frozen=True, slots=True)
class Truth:
    """Planted parameters of a generated device; pos_weight is per cabinet slot (mean 1)."""

    device_id: str
    row_weights: FloatArray
    col_weights: FloatArray
    pos_weight: FloatArray
    base: Mapping[str, float]
    dow: FloatArray
    trend_per_day: float
    space_elasticity: float
    pairs: tuple[tuple[str, str, float], ...]
    start_day: int
    n_days: int
    service_days: tuple[int, ...]
    stockout_events: int = 0
    lost_units: int = 0
    empty_slot_days: frozenset[tuple[str, int]] = frozenset()
    daily_units: Mapping[str, FloatArray] = field(default_factory=dict)

    def demand(self, sku: str, slot_weights: Sequence[float]) -> float:
        """True demand (units/day, weekday-averaged, at the window end) on facings with these weights."""
        return self.base.get(sku, 0.0) * visibility(list(slot_weights), self.space_elasticity)


def make_catalog(n: int, rng: np.random.Generator, *, prefix: str = "SKU") -> tuple[ProductSpec, ...]:
    """n products spread over drink and snack categories with plausible prices, costs and sizes."""
    out: list[ProductSpec] = []
    for i in range(n):
        cat, temp, price0, (w, h, d) = _CATEGORIES[i % len(_CATEGORIES)]
        price = round(price0 * float(rng.uniform(0.8, 1.3)), 2)
        cost = round(price * float(rng.uniform(0.35, 0.65)), 2)
        out.append(
            ProductSpec(
                f"{prefix}{i:03d}",
                f"{cat.title()} {i}",
                cat,
                price,
                cost,
                w,
                h,
                d,
                "chilled" if temp == "chilled" else "ambient",
            )
        )
    return tuple(out)


def make_cabinet(
    device_id: str,
    rows: int = 6,
    cols: int = 10,
    *,
    venue_type: str = "office",
    cabinet_type: str = "combo",
    service_interval_days: float = 7.0,
    capacity: int = 8,
) -> Cabinet:
    """A cabinet whose top half is chilled (combo) and whose top row is short (tall bottles don't fit)."""
    chilled = {"refrigerated": set(range(rows)), "ambient": set()}.get(cabinet_type, set(range(rows // 2)))
    slots = tuple(
        SlotSpec(
            slot_code(r, c),
            r,
            c,
            80.0,
            180.0 if r == 0 else 260.0,
            600.0,
            capacity,
            "chilled" if r in chilled else "ambient",
        )
        for r in range(rows)
        for c in range(cols)
    )
    return Cabinet(device_id, rows, cols, venue_type, cabinet_type, service_interval_days, slots)


def fits(slot: SlotSpec, p: ProductSpec) -> bool:
    """Dimension and temperature feasibility (same rule as validate's hard checks)."""
    dims_ok = all(
        pd <= sd or pd <= 0
        for pd, sd in (
            (p.width_mm, slot.width_mm),
            (p.height_mm, slot.height_mm),
            (p.depth_mm, slot.depth_mm),
        )
    )
    return dims_ok and not (p.temperature == "chilled" and slot.zone != "chilled")


def random_planogram(
    cabinet: Cabinet, products: Sequence[ProductSpec], rng: np.random.Generator, *, double_share: float = 0.2
) -> Planogram:
    """A hard-rule-valid planogram: products drawn without replacement, some given two facings."""
    order = [products[i] for i in rng.permutation(len(products))]
    mapping: dict[str, str] = {}
    free = list(cabinet.slots)
    for p in order:
        n = 2 if rng.random() < double_share else 1
        for _ in range(n):
            cand = [s for s in free if fits(s, p)]
            if not cand:
                break
            # ambient products prefer ambient slots so chilled space stays for chilled goods
            pref = [s for s in cand if s.zone == p.temperature] or cand
            s = pref[0]
            mapping[s.code] = p.sku
            free.remove(s)
        if not free:
            break
    return Planogram.of(mapping)


def operator_planogram(
    cabinet: Cabinet,
    products: Sequence[ProductSpec],
    truth: Truth | Mapping[str, float],
    rng: np.random.Generator,
    *,
    knowledge_sd: float = 0.5,
    max_facings: int = 3,
) -> Planogram:
    """What an experienced operator would load: a plausible current planogram, not a random one.

    The operator knows each sku's local demand only roughly (truth x lognormal(0, knowledge_sd)), stocks
    the skus with the best believed margin per day, gives a sku enough facings to last the service
    interval (up to `max_facings`; when the range is too short to fill the zone, the fastest believed
    sellers get extra facings up to `max_facings`), puts the best-selling categories at eye level (rows ordered by
    distance from the second row) and keeps each category in one block.  Chilled goods go to chilled
    slots; ambient goods prefer ambient slots.  The operator does not know the exact position weights.
    `truth` may be a Truth or just the true base demand per sku (units/day), as the demo fleet passes it.
    """
    base = truth.base if isinstance(truth, Truth) else truth
    belief = {p.sku: base.get(p.sku, 0.0) * float(rng.lognormal(0.0, knowledge_sd)) for p in products}
    ranked = sorted(products, key=lambda p: -belief[p.sku] * max(p.margin, 0.0))
    eye = min(1, cabinet.rows - 1)
    order = sorted(cabinet.slots, key=lambda s: (abs(s.row - eye), s.row, s.col))
    mapping: dict[str, str] = {}
    for zone in ("chilled", "ambient"):
        free = [s for s in order if s.zone == zone]
        pool = [p for p in ranked if any(fits(s, p) for s in free)]
        if zone == "chilled":  # ambient goods only fill chilled space the chilled range leaves empty
            pool = [p for p in pool if p.temperature == "chilled"] + [p for p in pool if p.temperature != "chilled"]
        queue = _zone_facings(pool, free, belief, cabinet.service_interval_days, max_facings)
        items = [p for p, n in _category_blocks(queue, belief) for _ in range(n)]
        for slot in free:
            pick = next((i for i, p in enumerate(items) if fits(slot, p)), None)
            if pick is not None:
                mapping[slot.code] = items.pop(pick).sku
    return Planogram.of(mapping)


def _zone_facings(
    pool: Sequence[ProductSpec],
    free: Sequence[SlotSpec],
    belief: Mapping[str, float],
    interval: float,
    max_facings: int,
) -> list[tuple[ProductSpec, int]]:
    """(product, facings) in belief order until the zone's slots are taken: enough facings to last the interval."""
    queue: list[tuple[ProductSpec, int]] = []
    left = len(free)
    for p in pool:
        if left <= 0:
            break
        cap = max(min((s.capacity for s in free if fits(s, p)), default=1), 1)
        n = int(min(max_facings, max(1, math.ceil(belief[p.sku] * interval / cap)), left))
        queue.append((p, n))
        left -= n
    while left > 0:  # a short range fills the rest with extra facings for the fastest believed sellers
        grow = [i for i, (_, n) in enumerate(queue) if n < max_facings]
        if not grow:
            break
        i = max(grow, key=lambda j: belief[queue[j][0].sku] / queue[j][1])
        queue[i] = (queue[i][0], queue[i][1] + 1)
        left -= 1
    return queue


def _category_blocks(
    queue: list[tuple[ProductSpec, int]], belief: Mapping[str, float]
) -> list[tuple[ProductSpec, int]]:
    """Sort the queue by category (best believed category margin first), then by belief within it."""
    cat_value: dict[str, float] = {}
    for p, _ in queue:
        cat_value[p.category] = cat_value.get(p.category, 0.0) + belief[p.sku] * max(p.margin, 0.0)
    queue.sort(key=lambda q: (-cat_value[q[0].category], q[0].category, -belief[q[0].sku]))
    return queue


def planted_positions(
    cabinet: Cabinet, rng: np.random.Generator, strength: float = 0.5
) -> tuple[FloatArray, FloatArray]:
    """Row weights peaking at eye level (second row) and mildly centre-biased column weights."""
    r = np.arange(cabinet.rows)
    c = np.arange(cabinet.cols)
    peak = min(1, cabinet.rows - 1)
    row_log = -strength * ((r - peak) / max(cabinet.rows / 2.5, 1)) ** 2 + rng.normal(0, 0.08, cabinet.rows)
    col_log = -0.5 * strength * ((c - (cabinet.cols - 1) / 2) / max(cabinet.cols / 2, 1)) ** 2
    col_log = col_log + rng.normal(0, 0.08, cabinet.cols)
    return np.exp(row_log), np.exp(col_log)


def make_truth(
    cabinet: Cabinet,
    products: Sequence[ProductSpec],
    rng: np.random.Generator,
    *,
    units_per_day: float = 20.0,
    n_pairs: int = 3,
    trend_sd: float = 0.002,
    space_elasticity: float = 0.17,
    start_day: int = 19_000,
    n_days: int = 90,
    base_scale: Mapping[str, float] | None = None,
) -> Truth:
    """Random but plausible truth: lognormal base rates scaled to ~units_per_day for a full cabinet."""
    rw, cw = planted_positions(cabinet, rng)
    pos = np.array([rw[s.row] * cw[s.col] for s in cabinet.slots])
    norm = pos.mean()
    rw = rw / math.sqrt(norm)
    cw = cw / math.sqrt(norm)
    pos = pos / norm
    raw = rng.lognormal(0.0, 0.7, len(products))
    raw = raw / raw.mean() * units_per_day / max(len(cabinet.slots), 1)
    base = {p.sku: float(v) * (base_scale or {}).get(p.sku, 1.0) for p, v in zip(products, raw, strict=True)}
    dow = np.array(VENUE_DOW.get(cabinet.venue_type, (1.0,) * 7))
    dow = dow / dow.mean()
    skus = [p.sku for p in products]
    picks = rng.permutation(len(skus))[: 2 * n_pairs]
    pairs = tuple(
        (skus[picks[2 * i]], skus[picks[2 * i + 1]], float(rng.uniform(0.25, 0.4)))
        for i in range(min(n_pairs, len(picks) // 2))
    )
    return Truth(
        cabinet.device_id,
        rw,
        cw,
        pos,
        base,
        dow,
        float(rng.normal(0, trend_sd)),
        space_elasticity,
        pairs,
        start_day,
        n_days,
        (),
    )


def generate_device_sales(
    cabinet: Cabinet,
    products: Catalog | Sequence[ProductSpec],
    planogram: Planogram | Sequence[tuple[int, Planogram]],
    days: int,
    rng: np.random.Generator,
    truth: Truth | None = None,
    *,
    start_day: int = 19_000,
    cashless_share: float = 0.7,
    jams: Sequence[tuple[str, int, int]] = (),
    open_hours: tuple[float, float] = (7.0, 21.0),
) -> tuple[SalesData, Truth]:
    """Simulate vends with stock: refill to capacity every service interval, lost sales when empty.

    `planogram` may be a schedule [(day offset, planogram)]; `jams` are (slot, from, to) day offsets
    during which the slot cannot vend.  Customers buy a sku (facing chosen by position weight),
    and a planted partner with the pair's probability in the same basket.  Demand on day d is
    base * visibility * dow * exp(trend * (d - last day)).
    """
    cat = dict(products) if isinstance(products, Mapping) else {p.sku: p for p in products}
    truth = truth or make_truth(cabinet, list(cat.values()), rng, start_day=start_day, n_days=days)
    schedule = [(0, planogram)] if isinstance(planogram, Planogram) else sorted(planogram, key=lambda x: x[0])
    machine = _Machine(cabinet, cat, truth, jams, start_day, days)
    interval = max(round(cabinet.service_interval_days), 1)
    partners: dict[str, list[tuple[str, float]]] = {}
    for a, b, probability in truth.pairs:
        partners.setdefault(a, []).append((b, probability))
        partners.setdefault(b, []).append((a, probability))
    next_txn = 0
    plan_i = 0
    for day in range(days):
        while plan_i + 1 < len(schedule) and schedule[plan_i + 1][0] <= day:
            plan_i += 1
            machine.refill()  # a re-plan comes with a full refill
        plan = schedule[plan_i][1]
        if day % interval == 0:
            machine.refill()
            machine.service_days.append(start_day + day)
        facings = plan.facings()
        factor = truth.dow[(start_day + day + 3) % 7] * math.exp(truth.trend_per_day * (day - days + 1))
        events, next_txn = _customer_events(truth, machine.index, facings, partners, factor, open_hours, next_txn, rng)
        cashless = {b for b in {e[2] for e in events} if rng.random() < cashless_share}
        for t0, sku, basket in events:
            machine.vend(day, t0, sku, facings[sku], basket if basket in cashless else -1, rng)
        machine.note_empty(plan, day)
    return machine.sales(), machine.observed_truth(days)


def _customer_events(
    truth: Truth,
    index: Mapping[str, int],
    facings: Mapping[str, list[str]],
    partners: Mapping[str, list[tuple[str, float]]],
    factor: float,
    open_hours: tuple[float, float],
    next_txn: int,
    rng: np.random.Generator,
) -> tuple[list[tuple[float, str, int]], int]:
    """One day's purchases (time, sku, basket) in time order, planted partners in the same basket."""
    opens, closes = open_hours[0] * 3600, open_hours[1] * 3600
    events: list[tuple[float, str, int]] = []
    for sku in sorted(facings):
        weights = [float(truth.pos_weight[index[s]]) for s in facings[sku]]
        rate = truth.demand(sku, weights) * factor
        for _ in range(int(rng.poisson(rate))):
            t0 = float(rng.uniform(opens, closes))
            events.append((t0, sku, next_txn))
            for partner, probability in partners.get(sku, []):
                if partner in facings and rng.random() < probability:
                    events.append((t0 + float(rng.uniform(5, 40)), partner, next_txn))
            next_txn += 1
    events.sort()
    return events, next_txn


class _Machine:
    """Coil stock of a simulated device and the log of its vends, stockouts and lost sales."""

    def __init__(
        self,
        cabinet: Cabinet,
        products: Catalog,
        truth: Truth,
        jams: Sequence[tuple[str, int, int]],
        start_day: int,
        days: int,
    ) -> None:
        self.cabinet = cabinet
        self.index = cabinet.index()
        self.capacity = np.array([s.capacity for s in cabinet.slots], dtype=np.int64)
        self.stock = self.capacity.copy()
        self.jammed = {(self.index[s], d) for s, a, b in jams for d in range(a, b)}
        self.products = products
        self.truth = truth
        self.sku_index = {k: i for i, k in enumerate(products)}
        self.start_day = start_day
        self.daily_units = {k: np.zeros(days) for k in products}
        self.stockouts = self.lost = 0
        self.service_days: list[int] = []
        self.empty: set[tuple[str, int]] = set()
        self.ts: list[int] = []
        self.slot: list[int] = []
        self.sku: list[int] = []
        self.price: list[float] = []
        self.txn: list[int] = []

    def refill(self) -> None:
        """Every coil back to capacity (a service visit)."""
        self.stock = self.capacity.copy()

    def vend(self, day: int, t0: float, sku: str, slots: list[str], txn: int, rng: np.random.Generator) -> None:
        """The customer tries the facings in a position-weighted random order; lost when none can vend."""
        weights = np.array([self.truth.pos_weight[self.index[s]] for s in slots])
        tries = [slots[i] for i in rng.choice(len(slots), len(slots), replace=False, p=weights / weights.sum())]
        chosen = next(
            (s for s in tries if self.stock[self.index[s]] > 0 and (self.index[s], day) not in self.jammed), None
        )
        if chosen is None:
            self.lost += 1
            return
        slot = self.index[chosen]
        self.stock[slot] -= 1
        self.stockouts += int(self.stock[slot] == 0)
        self.ts.append((self.start_day + day) * SECONDS_PER_DAY + int(t0))
        self.slot.append(slot)
        self.sku.append(self.sku_index[sku])
        self.price.append(self.products[sku].price)
        self.txn.append(txn)
        self.daily_units[sku][day] += 1

    def note_empty(self, plan: Planogram, day: int) -> None:
        """Remember the planogram's slots that end the day empty."""
        occupied = {self.index[s] for s in plan.mapping()}
        self.empty.update((self.cabinet.slots[i].code, self.start_day + day) for i in occupied if self.stock[i] == 0)

    def observed_truth(self, days: int) -> Truth:
        """The truth with what the simulation saw: window, service days, stockouts, lost units, empty slots."""
        return dataclasses.replace(
            self.truth,
            start_day=self.start_day,
            n_days=days,
            service_days=tuple(self.service_days),
            stockout_events=self.stockouts,
            lost_units=self.lost,
            empty_slot_days=frozenset(self.empty),
            daily_units=self.daily_units,
        )

    def sales(self) -> SalesData:
        """The vend log as SalesData in time order."""
        order = np.argsort(np.asarray(self.ts, dtype=np.int64), kind="stable")
        return SalesData(
            self.cabinet.device_id,
            self.cabinet.slot_codes(),
            tuple(self.products),
            np.asarray(self.ts, dtype=np.int64)[order],
            np.asarray(self.slot, dtype=np.int64)[order],
            np.asarray(self.sku, dtype=np.int64)[order],
            np.asarray(self.price, dtype=np.float64)[order],
            np.asarray(self.txn, dtype=np.int64)[order],
        )


@dataclass(frozen=True, slots=True)
class FleetDevice:
    """One generated device with its current planogram, vends and truth."""

    cabinet: Cabinet
    planogram: Planogram
    sales: SalesData
    truth: Truth


@dataclass(frozen=True, slots=True)
class Fleet:
    """A generated fleet sharing one catalogue; venue_boost[venue][sku] multiplies base demand."""

    products: tuple[ProductSpec, ...]
    devices: tuple[FleetDevice, ...]
    venue_boost: Mapping[str, Mapping[str, float]]


def generate_fleet(
    n_devices: int,
    rng: np.random.Generator,
    *,
    n_products: int = 80,
    rows: int = 6,
    cols: int = 10,
    days: int = 90,
    venue_types: Sequence[str] = ("office", "gym", "school", "hospital", "station"),
    venue_sd: float = 0.6,
    start_day: int = 19_000,
    current: str = "random",
) -> Fleet:
    """Devices cycle through venue types; each venue has its own lognormal sku preferences.

    current: "random" (a random valid planogram, as the older benches use) or "operator"
    (`operator_planogram`: what a competent operator would load, for realistic uplift figures).
    """
    products = make_catalog(n_products, rng)
    boost = {
        v: {p.sku: float(x) for p, x in zip(products, rng.lognormal(0, venue_sd, n_products), strict=True)}
        for v in venue_types
    }
    devices: list[FleetDevice] = []
    for i in range(n_devices):
        venue = venue_types[i % len(venue_types)]
        cab = make_cabinet(f"D{i:04d}", rows, cols, venue_type=venue)
        if current == "operator":
            truth = make_truth(cab, products, rng, start_day=start_day, n_days=days, base_scale=boost[venue])
            plan = operator_planogram(cab, products, truth, rng)
        else:
            plan = random_planogram(cab, products, rng)
            truth = make_truth(cab, products, rng, start_day=start_day, n_days=days, base_scale=boost[venue])
        sales, truth = generate_device_sales(cab, products, plan, days, rng, truth, start_day=start_day)
        devices.append(FleetDevice(cab, plan, sales, truth))
    return Fleet(products, tuple(devices), boost)
