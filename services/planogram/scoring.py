"""Realtime score of dropping one sku into one slot: 0-100, deltas per day, reasons, violations."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.planogram.adjacency import pair_score
from services.planogram.model import DemandModel
from services.planogram.rules import fit_violations
from services.planogram.types import Cabinet, Catalog, Constraints, Planogram, ProductSpec, SlotSpec, Violation
from services.planogram.value import SkuOutcome, ValueParams, evaluate, sku_outcome, slot_capacities

W_POSITION, W_COVER, W_ADJ, W_GAIN = 0.4, 0.2, 0.15, 0.25


@dataclass(frozen=True, slots=True)
class Reason:
    """One explanation line: kind is position | neighbours | affinity | category | supply | value."""

    kind: str
    message: str
    impact: float


@dataclass(frozen=True, slots=True)
class PlacementScore:
    """Score (0 when a hard rule breaks) with predicted units and the change it makes per day."""

    sku: str
    slot: str
    score: int
    predicted_units_per_day: float
    delta_revenue_per_day: float
    delta_margin_per_day: float
    days_of_supply: float
    reasons: tuple[Reason, ...]
    violations: tuple[Violation, ...]


def _unknown(sku: str, slot: str, cabinet: Cabinet, products: Catalog, model: DemandModel) -> list[Violation]:
    """Hard violations for a slot or sku that neither the cabinet, the catalogue nor the model knows."""
    out: list[Violation] = []
    if slot not in model.slot_index or slot not in cabinet.index():
        out.append(Violation(slot, sku, "unknown_slot", "hard", f"slot {slot} does not exist"))
    if sku not in products or not model.has_sku(sku):
        out.append(Violation(slot, sku, "unknown_sku", "hard", f"sku {sku} is not in the catalogue"))
    return out


def score_placement(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    sku: str,
    slot: str,
    constraints: Constraints | None = None,
    params: ValueParams | None = None,
) -> PlacementScore:
    """Score = 100 x (0.4 position + 0.2 cover + 0.15 adjacency + 0.25 value gain), 0 on a hard rule."""
    params = params or ValueParams()
    constraints = constraints or Constraints()
    unknown = _unknown(sku, slot, cabinet, products, model)
    if unknown:
        return PlacementScore(sku, slot, 0, 0.0, 0.0, 0.0, 0.0, (), tuple(unknown))
    product = products[sku]
    new_plan = planogram.with_slot(slot, sku)
    interval = cabinet.service_interval_days
    d_rev, d_mar, d_val = _value_change(model, cabinet, products, planogram, new_plan, slot, sku, params)
    facings = [s for s in new_plan.facings()[sku] if s in model.slot_index]
    outcome = sku_outcome(model, product, facings, slot_capacities(cabinet, new_plan), interval, params)
    share = model.weight(slot) / sum([model.weight(s) for s in facings])
    spec = cabinet.slots[cabinet.index()[slot]]
    violations = _violations(spec, product, facings, outcome, interval, constraints)
    reasons, adjacency = _reasons(model, cabinet, products, new_plan.mapping(), sku, slot, params)
    position_reason, position = _position_reason(model, cabinet, product, slot)
    days = outcome.days_of_supply
    cover = min(1.0, days / interval) if math.isfinite(days) else 1.0
    supply = f"{outcome.stock} units cover {min(days, 999):.1f} days (service every {interval:g} days)"
    total = evaluate(model, cabinet, products, planogram, params).value
    gain = 0.5 + 0.5 * math.tanh(d_val / max(0.05, 0.02 * abs(total)))
    value = f"{d_mar:+.2f} margin/day, {d_rev:+.2f} revenue/day versus the current planogram"
    reasons = [position_reason, *reasons, Reason("supply", supply, cover), Reason("value", value, d_val)]
    hard = any(v.severity == "hard" for v in violations)
    mix = W_POSITION * position + W_COVER * cover + W_ADJ * adjacency + W_GAIN * gain
    score = 0 if hard else round(100 * mix)
    return PlacementScore(
        sku,
        slot,
        max(0, min(100, score)),
        outcome.sold * share,
        d_rev,
        d_mar,
        outcome.days_of_supply,
        tuple(reasons),
        tuple(violations),
    )


def _value_change(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    new_plan: Planogram,
    slot: str,
    sku: str,
    params: ValueParams,
) -> tuple[float, float, float]:
    """Revenue, margin and value per day gained by the placement (the placed and the displaced sku)."""
    old_sku = planogram.mapping().get(slot)
    states = (
        (new_plan.facings(), slot_capacities(cabinet, new_plan), 1.0),
        (planogram.facings(), slot_capacities(cabinet, planogram), -1.0),
    )
    d_rev = d_mar = d_val = 0.0
    for changed in {sku, old_sku} - {None}:
        assert changed is not None
        if changed not in products or not model.has_sku(changed):
            continue
        for facings, caps, sign in states:
            slots = [s for s in facings.get(changed, []) if s in model.slot_index]
            if slots:
                outcome = sku_outcome(model, products[changed], slots, caps, cabinet.service_interval_days, params)
                d_rev, d_mar, d_val = (
                    d_rev + sign * outcome.revenue,
                    d_mar + sign * outcome.margin,
                    d_val + sign * outcome.value,
                )
    return d_rev, d_mar, d_val


def _violations(
    spec: SlotSpec,
    product: ProductSpec,
    facings: list[str],
    outcome: SkuOutcome,
    interval: float,
    constraints: Constraints,
) -> list[Violation]:
    """Fit, lock, exclusion and facing rules (hard) and stock cover (soft) of the placed sku."""
    slot, sku = spec.code, product.sku
    violations = list(fit_violations(spec, product))
    locked = constraints.locked_map()
    if slot in locked and locked[slot] != sku:
        violations.append(Violation(slot, sku, "locked_slot", "hard", f"{slot} is locked to {locked[slot]}"))
    if sku in constraints.exclude:
        violations.append(Violation(slot, sku, "excluded_sku", "hard", f"{sku} is excluded from this device"))
    if len(set(facings)) > constraints.max_for(sku):
        message = f"{sku} would have {len(facings)} facings, max {constraints.max_for(sku)}"
        violations.append(Violation(slot, sku, "max_facings", "hard", message))
    need = outcome.demand * interval
    days = outcome.days_of_supply
    if outcome.stock < constraints.min_cover_fraction * need * (1 - 1e-9) - 1e-9:
        message = f"{outcome.stock} units last {days:.1f} days of a {interval:g}-day interval"
        violations.append(Violation(slot, sku, "capacity_cover", "soft", message))
    elif outcome.stock < need:
        message = f"sells out after {days:.1f} of {interval:g} days"
        violations.append(Violation(slot, sku, "capacity_short", "soft", message))
    return violations


def _position_reason(model: DemandModel, cabinet: Cabinet, product: ProductSpec, slot: str) -> tuple[Reason, float]:
    """How the slot ranks among the slots the product fits, and its weight over the best one (0..1)."""
    usable = [
        model.weight(s.code) for s in cabinet.slots if not any(v.severity == "hard" for v in fit_violations(s, product))
    ]
    weight = model.weight(slot)
    position = weight / max(usable) if usable else 0.0
    rank = sum(w > weight for w in usable) + 1
    message = (
        f"{slot} ranks {rank} of {len(usable)} usable slots for {product.sku} "
        f"(position weight {weight:.2f}, cabinet mean 1.00)"
    )
    return Reason("position", message, position), position


def _neighbour_slots(cabinet: Cabinet, spec: SlotSpec) -> list[str]:
    """Codes of the slots left, right, above and below."""
    by_cell = {(s.row, s.col): s.code for s in cabinet.slots}
    cells = ((spec.row, spec.col - 1), (spec.row, spec.col + 1), (spec.row - 1, spec.col), (spec.row + 1, spec.col))
    return [by_cell[cell] for cell in cells if cell in by_cell]


def _reasons(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    mapping: dict[str, str],
    sku: str,
    slot: str,
    params: ValueParams,
) -> tuple[list[Reason], float]:
    """Neighbour, affinity and category-block reasons and the adjacency component (0..1)."""
    neighbours = _neighbour_slots(cabinet, cabinet.slots[cabinet.index()[slot]])
    reasons: list[Reason] = []
    adjacency = 0.5
    category, category_effect = _category_reason(products, mapping, neighbours, sku, slot, params)
    if category is not None:
        reasons.append(category)
        adjacency += category_effect
    partners = [
        (s, mapping[s], model.lift(sku, mapping[s]))
        for s in neighbours
        if s in mapping and mapping[s] != sku and model.lift(sku, mapping[s]) > 1
    ]
    if partners:
        adjacency += 0.25
        partner_slot, partner, lift = max(partners, key=lambda p: p[2])
        reasons.append(
            Reason(
                "affinity",
                f"next to {partner} at {partner_slot}: bought together {lift:.1f}x more than chance",
                pair_score(model, products, sku, partner, params),
            )
        )
    if neighbours:
        names = ", ".join(f"{s}:{mapping[s]}" for s in neighbours if s in mapping) or "empty slots"
        reasons.append(Reason("neighbours", f"neighbours {names}", 0.0))
    return reasons, max(0.0, min(1.0, adjacency))


def _category_reason(
    products: Catalog, mapping: dict[str, str], neighbours: list[str], sku: str, slot: str, params: ValueParams
) -> tuple[Reason | None, float]:
    """Joins its category's block (a neighbour shares it: +0.25 adjacency) or splits it (-0.25)."""
    category = products[sku].category
    same = [s for s in neighbours if mapping.get(s) in products and products[mapping[s]].category == category]
    elsewhere = [
        s
        for s, k in mapping.items()
        if s != slot and s not in neighbours and k in products and products[k].category == category
    ]
    if same:
        return Reason("category", f"joins the {category} block ({', '.join(same)})", params.category_bonus), 0.25
    if elsewhere:
        message = f"splits {category}: other {category} items are at {', '.join(sorted(elsewhere)[:3])}"
        return Reason("category", message, -params.category_bonus), -0.25
    return None, 0.0
