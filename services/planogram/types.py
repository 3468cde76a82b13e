"""Plain, immutable input/output types of the planogram engine (no I/O, no framework objects)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

Zone = Literal["chilled", "ambient"]
Severity = Literal["hard", "soft"]
Objective = Literal["margin", "revenue"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_SLOT_RE = re.compile(r"^([A-Z]+)(\d+)$")
SECONDS_PER_DAY = 86_400


def parse_slot_code(code: str) -> tuple[int, int]:
    """Turn a slot code such as 'B3' into zero-based (row, col) indices."""
    m = _SLOT_RE.match(code.strip().upper())
    if m is None:
        raise ValueError(f"malformed slot code {code!r}")
    letters, digits = m.groups()
    row = 0
    for ch in letters:
        row = row * 26 + (ord(ch) - 64)
    return row - 1, int(digits) - 1


def slot_code(row: int, col: int) -> str:
    """Turn zero-based (row, col) indices into a slot code such as 'B3'."""
    letters = ""
    n = row + 1
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{col + 1}"


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """One selection of a cabinet: physical size, units it holds per facing, temperature zone."""

    code: str
    row: int
    col: int
    width_mm: float
    height_mm: float
    depth_mm: float
    capacity: int
    zone: Zone = "ambient"


@dataclass(frozen=True, slots=True)
class Cabinet:
    """A device's cabinet: grid size, venue, refill interval and its slots (any order)."""

    device_id: str
    rows: int
    cols: int
    venue_type: str
    cabinet_type: str
    service_interval_days: float
    slots: tuple[SlotSpec, ...]

    @staticmethod
    def uniform(
        device_id: str,
        rows: int,
        cols: int,
        *,
        venue_type: str = "office",
        cabinet_type: str = "combo",
        service_interval_days: float = 7.0,
        width_mm: float = 80.0,
        height_mm: float = 200.0,
        depth_mm: float = 600.0,
        capacity: int = 8,
        chilled_rows: Iterable[int] | None = None,
    ) -> Cabinet:
        """Build a cabinet whose slots share one size; chilled_rows default follows cabinet_type."""
        if chilled_rows is None:
            chilled = set(range(rows)) if cabinet_type == "refrigerated" else set()
            if cabinet_type == "combo":
                chilled = set(range(rows // 2))
        else:
            chilled = set(chilled_rows)
        slots = tuple(
            SlotSpec(
                slot_code(r, c),
                r,
                c,
                width_mm,
                height_mm,
                depth_mm,
                capacity,
                "chilled" if r in chilled else "ambient",
            )
            for r in range(rows)
            for c in range(cols)
        )
        return Cabinet(device_id, rows, cols, venue_type, cabinet_type, service_interval_days, slots)

    def slot_codes(self) -> tuple[str, ...]:
        """Slot codes in the cabinet's canonical order (the order of `slots`)."""
        return tuple(s.code for s in self.slots)

    def index(self) -> dict[str, int]:
        """Map slot code to its position in `slots`."""
        return {s.code: i for i, s in enumerate(self.slots)}


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """A catalogue product; dimensions of 0 mean 'unknown' and are not checked."""

    sku: str
    name: str
    category: str
    price: float
    unit_cost: float = 0.0
    width_mm: float = 0.0
    height_mm: float = 0.0
    depth_mm: float = 0.0
    temperature: Zone = "ambient"

    @property
    def margin(self) -> float:
        """Unit margin (price minus unit cost)."""
        return self.price - self.unit_cost


Catalog = Mapping[str, ProductSpec]


def catalog(products: Iterable[ProductSpec]) -> dict[str, ProductSpec]:
    """Index products by sku."""
    return {p.sku: p for p in products}


@dataclass(frozen=True, slots=True)
class Planogram:
    """Slot -> sku assignment (+ optional per-slot capacity overrides) as sorted tuples.

    Kept as pairs rather than a dict so that malformed input (a slot listed twice) is representable
    and can be reported by `validate`; use `Planogram.of` for the common case.
    """

    assignments: tuple[tuple[str, str], ...]
    capacities: tuple[tuple[str, int], ...] = ()

    @staticmethod
    def of(mapping: Mapping[str, str], capacities: Mapping[str, int] | None = None) -> Planogram:
        """Build a planogram from a {slot: sku} mapping (and optional {slot: capacity})."""
        caps = tuple(sorted((capacities or {}).items()))
        return Planogram(tuple(sorted(mapping.items())), caps)

    def mapping(self) -> dict[str, str]:
        """{slot: sku}; for a duplicated slot the last pair wins (validate reports it)."""
        return dict(self.assignments)

    def capacity_map(self) -> dict[str, int]:
        """{slot: capacity override}."""
        return dict(self.capacities)

    def with_slot(self, slot: str, sku: str | None) -> Planogram:
        """Copy with one slot set to sku (None empties it); that slot's capacity override is dropped."""
        m = self.mapping()
        if sku is None:
            m.pop(slot, None)
        else:
            m[slot] = sku
        caps = {s: c for s, c in self.capacities if s != slot}
        return Planogram.of(m, caps)

    def facings(self) -> dict[str, list[str]]:
        """{sku: [slots]}."""
        out: dict[str, list[str]] = {}
        for slot, sku in self.assignments:
            out.setdefault(sku, []).append(slot)
        return out


@dataclass(frozen=True, slots=True)
class Move:
    """One slot changing content in an optimisation step."""

    slot: str
    from_sku: str | None
    to_sku: str | None


def diff_planograms(old: Planogram, new: Planogram) -> tuple[Move, ...]:
    """Slot-level moves turning `old` into `new`, in slot order."""
    a, b = old.mapping(), new.mapping()
    return tuple(Move(s, a.get(s), b.get(s)) for s in sorted(set(a) | set(b)) if a.get(s) != b.get(s))


DEFAULT_MAX_NEW_SKUS: int | None = None


@dataclass(frozen=True, slots=True)
class Constraints:
    """Merchandising constraints; facings bounds apply to skus that are stocked at all.

    `min_facings` {sku: n}: stock this sku with at least n facings (n >= 1 makes it must-stock).
    `max_new_skus`: how many skus absent from the current planogram the optimised one may introduce
    (None = unlimited).  It applies only when the current planogram stocks something: an empty machine
    is filled freely.  `max_changed_slots`: at most this many slots may differ from the current
    planogram (a route driver's visit); changes the request itself forces (must-stock, locks) are
    allowed beyond it.  `min_cover_fraction` only grades the soft `capacity_cover` rule.
    """

    must_stock: frozenset[str] = frozenset()
    locked: tuple[tuple[str, str], ...] = ()
    min_facings: tuple[tuple[str, int], ...] = ()
    max_facings: tuple[tuple[str, int], ...] = ()
    default_max_facings: int = 4
    exclude: frozenset[str] = frozenset()
    min_cover_fraction: float = 0.5
    max_new_skus: int | None = DEFAULT_MAX_NEW_SKUS
    max_changed_slots: int | None = None

    def required(self) -> frozenset[str]:
        """Skus the planogram must stock: must-stock, min facings >= 1 and locked skus."""
        mins = {k for k, n in self.min_facings if n > 0}
        return frozenset(self.must_stock | mins | {k for _, k in self.locked})

    def locked_map(self) -> dict[str, str]:
        """{slot: sku} of locked slots."""
        return dict(self.locked)

    def min_for(self, sku: str) -> int:
        """Minimum facings of a stocked sku (1 unless set)."""
        return dict(self.min_facings).get(sku, 1)

    def max_for(self, sku: str) -> int:
        """Maximum facings of a sku."""
        return dict(self.max_facings).get(sku, self.default_max_facings)


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule: where, what, how bad."""

    slot: str | None
    sku: str | None
    rule_id: str
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class Priors:
    """Shrinkage targets for thin data: rates are units/day at an average slot (weight 1)."""

    sku_rate: Mapping[str, float] = field(default_factory=dict)
    category_rate: Mapping[str, float] = field(default_factory=dict)  # for a sku with no rate of its own
    fleet_rate: float | None = None
    row_log_weights: tuple[float, ...] | None = None
    col_log_weights: tuple[float, ...] | None = None
    dow_log_factors: tuple[float, ...] | None = None
    sku_sd: float = 0.6
    position_sd: float = 0.5
    unstocked_factor: float = 1.0  # a never-stocked sku's local rate / its fleet prior (selection bias)


@dataclass(frozen=True, slots=True)
class SalesData:
    """Vends of ONE device as parallel columns; indices point into `slot_codes` and `skus`.

    ts: epoch seconds (int64); slot/sku: int64 indices; price: float64; txn: int64 transaction
    id or -1 when unknown.  `day0` is the epoch day (UTC + tz_offset_s) that day index 0 refers to.
    """

    device_id: str
    slot_codes: tuple[str, ...]
    skus: tuple[str, ...]
    ts: IntArray
    slot: IntArray
    sku: IntArray
    price: FloatArray
    txn: IntArray
    tz_offset_s: int = 0

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in ("slot", "sku", "price", "txn"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"column {name} has length {len(getattr(self, name))}, expected {n}")
        for arr in (self.ts, self.slot, self.sku, self.price, self.txn):
            arr.setflags(write=False)

    @property
    def n(self) -> int:
        """Number of vends."""
        return len(self.ts)

    def day(self, day0: int | None = None) -> IntArray:
        """Day index of each vend relative to `day0` (default: the first vend's day)."""
        days = (self.ts + self.tz_offset_s) // SECONDS_PER_DAY
        base = int(days.min()) if day0 is None and len(days) else (day0 or 0)
        return (days - base).astype(np.int64)

    def first_day(self) -> int:
        """Epoch day of the first vend (0 when empty)."""
        return int(((self.ts + self.tz_offset_s) // SECONDS_PER_DAY).min()) if self.n else 0

    def select(self, mask: npt.NDArray[np.bool_]) -> SalesData:
        """Subset of vends."""
        return SalesData(
            self.device_id,
            self.slot_codes,
            self.skus,
            self.ts[mask],
            self.slot[mask],
            self.sku[mask],
            self.price[mask],
            self.txn[mask],
            self.tz_offset_s,
        )

    @staticmethod
    def from_rows(
        device_id: str,
        rows: Iterable[tuple[datetime | int | float, str, str, float, str | int | None]],
        slot_codes: Sequence[str],
        *,
        tz_offset_s: int = 0,
    ) -> SalesData:
        """Build columns from (timestamp, slot, sku, price, transaction_id) rows; unknown slots raise."""
        slot_idx = {c: i for i, c in enumerate(slot_codes)}
        sku_idx: dict[str, int] = {}
        txn_idx: dict[str | int, int] = {}
        ts: list[int] = []
        sl: list[int] = []
        sk: list[int] = []
        pr: list[float] = []
        tx: list[int] = []
        for t, slot, sku, price, txn in rows:
            if isinstance(t, datetime):
                t = (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
            if slot not in slot_idx:
                raise ValueError(f"unknown slot {slot!r}")
            ts.append(int(t))
            sl.append(slot_idx[slot])
            sk.append(sku_idx.setdefault(sku, len(sku_idx)))
            pr.append(float(price))
            tx.append(-1 if txn is None or txn == "" else txn_idx.setdefault(txn, len(txn_idx)))
        order = np.argsort(np.asarray(ts, dtype=np.int64), kind="stable")
        return SalesData(
            device_id,
            tuple(slot_codes),
            tuple(sku_idx),
            np.asarray(ts, dtype=np.int64)[order],
            np.asarray(sl, dtype=np.int64)[order],
            np.asarray(sk, dtype=np.int64)[order],
            np.asarray(pr, dtype=np.float64)[order],
            np.asarray(tx, dtype=np.int64)[order],
            tz_offset_s,
        )

    def rows(self) -> list[tuple[int, str, str, float, int | None]]:
        """Back to (epoch seconds, slot code, sku, price, transaction id or None) rows."""
        return [
            (int(t), self.slot_codes[s], self.skus[k], float(p), None if x < 0 else int(x))
            for t, s, k, p, x in zip(self.ts, self.slot, self.sku, self.price, self.txn, strict=True)
        ]


class InfeasibleError(ValueError):
    """The constraints admit no planogram that satisfies every hard rule."""
