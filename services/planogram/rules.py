"""Hard and soft merchandising rules; `validate` lists every violation with slot, sku and rule id."""

from __future__ import annotations

import itertools
from collections import Counter

from services.planogram.layout import neighbours
from services.planogram.model import DemandModel
from services.planogram.types import (
    Cabinet,
    Catalog,
    Constraints,
    Planogram,
    ProductSpec,
    SlotSpec,
    Violation,
)
from services.planogram.value import slot_capacities

PRICE_LADDER_TOLERANCE = 0.05

HARD_RULES = (
    "unknown_slot",
    "one_sku_per_slot",
    "unknown_sku",
    "dimensions",
    "temperature",
    "capacity_invalid",
    "excluded_sku",
    "locked_slot",
    "must_stock",
    "min_facings",
    "max_facings",
    "capacity_cover",
)
SOFT_RULES = (
    "ambient_in_chilled",
    "capacity_short",
    "category_blocking",
    "duplicate_facings",
    "price_ladder",
    "empty_slot",
)


def _hard(slot: str | None, sku: str | None, rule: str, msg: str) -> Violation:
    return Violation(slot, sku, rule, "hard", msg)


def _soft(slot: str | None, sku: str | None, rule: str, msg: str) -> Violation:
    return Violation(slot, sku, rule, "soft", msg)


def fit_violations(slot: SlotSpec, p: ProductSpec) -> list[Violation]:
    """Dimension and temperature rules of one product in one slot (0 mm = unknown, not checked)."""
    out: list[Violation] = []
    for name, pd, sd in (
        ("width", p.width_mm, slot.width_mm),
        ("height", p.height_mm, slot.height_mm),
        ("depth", p.depth_mm, slot.depth_mm),
    ):
        if pd > 0 and sd > 0 and pd > sd:
            out.append(
                _hard(
                    slot.code,
                    p.sku,
                    "dimensions",
                    f"{p.sku} {name} {pd:g} mm exceeds slot {slot.code} {name} {sd:g} mm",
                )
            )
    if p.temperature == "chilled" and slot.zone != "chilled":
        out.append(_hard(slot.code, p.sku, "temperature", f"{p.sku} needs a chilled slot; {slot.code} is {slot.zone}"))
    elif p.temperature == "ambient" and slot.zone == "chilled":
        out.append(
            _soft(
                slot.code,
                p.sku,
                "ambient_in_chilled",
                f"ambient {p.sku} uses chilled slot {slot.code} (allowed, wastes cooled space)",
            )
        )
    return out


def _structure(cabinet: Cabinet, products: Catalog, planogram: Planogram) -> list[Violation]:
    slots = {s.code: s for s in cabinet.slots}
    out: list[Violation] = []
    counts = Counter(s for s, _ in planogram.assignments)
    seen: set[str] = set()
    for slot, sku in planogram.assignments:
        if slot not in slots:
            out.append(_hard(slot, sku, "unknown_slot", f"slot {slot} does not exist in {cabinet.device_id}"))
            continue
        if counts[slot] > 1 and slot not in seen:
            skus = sorted({k for s, k in planogram.assignments if s == slot})
            out.append(
                _hard(
                    slot,
                    sku,
                    "one_sku_per_slot",
                    f"slot {slot} is assigned {counts[slot]} times ({', '.join(skus)})",
                )
            )
        seen.add(slot)
        if sku not in products:
            out.append(_hard(slot, sku, "unknown_sku", f"sku {sku} is not in the catalogue"))
            continue
        out.extend(fit_violations(slots[slot], products[sku]))
    for slot, cap in planogram.capacities:
        if cap <= 0:
            out.append(_hard(slot, None, "capacity_invalid", f"capacity of {slot} must be positive, got {cap}"))
    return out


def _constraints(planogram: Planogram, constraints: Constraints) -> list[Violation]:
    out: list[Violation] = []
    m = planogram.mapping()
    facings = planogram.facings()
    for slot, sku in sorted(constraints.locked):
        if m.get(slot) != sku:
            out.append(_hard(slot, sku, "locked_slot", f"{slot} is locked to {sku} but holds {m.get(slot)}"))
    for sku in sorted(constraints.must_stock):
        if sku not in facings:
            out.append(_hard(None, sku, "must_stock", f"must-stock sku {sku} is not in the planogram"))
    for sku, n_min in sorted(constraints.min_facings):
        if n_min > 0 and sku not in facings:
            out.append(_hard(None, sku, "min_facings", f"{sku} is not stocked; at least {n_min} facing(s) required"))
    for sku, slots in sorted(facings.items()):
        n = len(set(slots))
        if sku in constraints.exclude:
            out.append(_hard(slots[0], sku, "excluded_sku", f"{sku} is excluded from this device"))
        if n < constraints.min_for(sku):
            out.append(
                _hard(
                    slots[0],
                    sku,
                    "min_facings",
                    f"{sku} has {n} facing(s), at least {constraints.min_for(sku)} required",
                )
            )
        if n > constraints.max_for(sku):
            out.append(
                _hard(
                    slots[0],
                    sku,
                    "max_facings",
                    f"{sku} has {n} facings, at most {constraints.max_for(sku)} allowed",
                )
            )
    return out


def _capacity(
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    constraints: Constraints,
    model: DemandModel | None,
) -> list[Violation]:
    """Stock against the model's demand over the service interval; without a model only > 2 facings is flagged."""
    out: list[Violation] = []
    caps = slot_capacities(cabinet, planogram)
    interval = cabinet.service_interval_days
    for sku, raw in sorted(planogram.facings().items()):
        slots = sorted({s for s in raw if s in caps})
        if not slots or sku not in products:
            continue
        stock = sum(caps[s] for s in slots)
        if model is None or not model.has_sku(sku):
            if len(slots) > 2:
                out.append(_soft(slots[0], sku, "duplicate_facings", f"{sku} has {len(slots)} facings"))
            continue
        need = model.demand(sku, [s for s in slots if s in model.slot_index]) * interval
        out.extend(_cover(sku, slots[0], stock, need, interval, constraints.min_cover_fraction))
        smallest = min(caps[s] for s in slots)
        if len(slots) > 1 and stock - smallest >= need:
            out.append(
                _soft(
                    slots[-1],
                    sku,
                    "duplicate_facings",
                    f"{sku}: {len(slots)} facings hold {stock} units; {len(slots) - 1} would cover "
                    f"the {need:.1f} expected over {interval:g} days",
                )
            )
    return out


def _cover(sku: str, slot: str, stock: int, need: float, interval: float, min_cover: float) -> list[Violation]:
    """Stock short of the required share of the interval's demand (capacity_cover) or of all of it (short)."""
    if stock < min_cover * need * (1 - 1e-9) - 1e-9:
        # a service rule: shown and priced (lost sales), never a reason to reject
        message = (
            f"{sku}: {stock} units cover {stock / max(need / interval, 1e-9):.1f} days; "
            f"{min_cover:.0%} of the {interval:g}-day interval needs {min_cover * need:.1f}"
        )
        return [_soft(slot, sku, "capacity_cover", message)]
    if stock < need:
        message = f"{sku}: {stock} units for {need:.1f} expected over {interval:g} days (sells out early)"
        return [_soft(slot, sku, "capacity_short", message)]
    return []


def _layout(cabinet: Cabinet, products: Catalog, planogram: Planogram) -> list[Violation]:
    """Split category blocks, falling price ladders and empty slots."""
    mapping = planogram.mapping()
    empty = [
        _soft(code, None, "empty_slot", f"slot {code} is empty") for code in cabinet.slot_codes() if code not in mapping
    ]
    return _category_blocking(cabinet, products, mapping) + _price_ladder(cabinet, products, mapping) + empty


def _category_blocking(cabinet: Cabinet, products: Catalog, mapping: dict[str, str]) -> list[Violation]:
    """Every connected block of a category but its largest is flagged as split from it."""
    codes = cabinet.slot_codes()
    near = neighbours(cabinet)
    cat_of = {s: products[k].category for s, k in mapping.items() if k in products}
    seen: set[str] = set()
    blocks: dict[str, list[list[str]]] = {}
    for i, code in enumerate(codes):
        if code not in cat_of or code in seen:
            continue
        category = cat_of[code]
        stack, members = [i], []
        seen.add(code)
        while stack:
            j = stack.pop()
            members.append(codes[j])
            for k in near[j]:
                if codes[k] not in seen and cat_of.get(codes[k]) == category:
                    seen.add(codes[k])
                    stack.append(k)
        blocks.setdefault(category, []).append(sorted(members))
    out: list[Violation] = []
    for category, parts in sorted(blocks.items()):
        parts.sort(key=len, reverse=True)
        for part in parts[1:]:
            message = f"{category} is split: {', '.join(part)} is apart from its main block at {parts[0][0]}"
            out.append(_soft(part[0], mapping[part[0]], "category_blocking", message))
    return out


def _price_ladder(cabinet: Cabinet, products: Catalog, mapping: dict[str, str]) -> list[Violation]:
    """Within a category, prices should not fall from left to right along a row."""
    out: list[Violation] = []
    by_row: dict[int, list[SlotSpec]] = {}
    for s in cabinet.slots:
        by_row.setdefault(s.row, []).append(s)
    for row in by_row.values():
        row.sort(key=lambda s: s.col)
        for left, right in itertools.pairwise(row):
            left_sku, right_sku = mapping.get(left.code), mapping.get(right.code)
            if left_sku is None or right_sku is None or left_sku == right_sku:
                continue
            if left_sku not in products or right_sku not in products:
                continue
            left_price, right_price = products[left_sku].price, products[right_sku].price
            same_category = products[left_sku].category == products[right_sku].category
            if same_category and right_price < left_price * (1 - PRICE_LADDER_TOLERANCE):
                message = (
                    f"{right_sku} ({right_price:.2f}) right of {left_sku} ({left_price:.2f}): within a category "
                    "prices should rise left to right"
                )
                out.append(_soft(right.code, right_sku, "price_ladder", message))
    return out


def validate(
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    constraints: Constraints | None = None,
    model: DemandModel | None = None,
) -> tuple[Violation, ...]:
    """All violations, hard first, then by slot and rule; capacity rules need a model."""
    constraints = constraints or Constraints()
    out = (
        _structure(cabinet, products, planogram)
        + _constraints(planogram, constraints)
        + _capacity(cabinet, products, planogram, constraints, model)
        + _layout(cabinet, products, planogram)
    )
    return tuple(sorted(out, key=lambda v: (v.severity != "hard", v.slot or "", v.rule_id, v.sku or "")))


def hard_violations(violations: tuple[Violation, ...]) -> tuple[Violation, ...]:
    """Only the hard ones."""
    return tuple(v for v in violations if v.severity == "hard")


def feasible_slots(cabinet: Cabinet, product: ProductSpec) -> list[str]:
    """Slots where the product passes every per-slot hard rule."""
    return [s.code for s in cabinet.slots if not any(v.severity == "hard" for v in fit_violations(s, product))]


def is_feasible_pair(slot: SlotSpec, product: ProductSpec) -> bool:
    """Whether the product passes the per-slot hard rules in this slot."""
    return not any(v.severity == "hard" for v in fit_violations(slot, product))
