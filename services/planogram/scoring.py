"""Realtime score of dropping one sku into one slot: 0-100, deltas per day, reasons, violations."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.planogram.adjacency import pair_score
from services.planogram.model import DemandModel
from services.planogram.rules import fit_violations
from services.planogram.types import Cabinet, Catalog, Constraints, Planogram, Violation
from services.planogram.value import ValueParams, evaluate, sku_outcome, slot_capacities

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
    bad = _unknown(sku, slot, cabinet, products, model)
    if bad:
        return PlacementScore(sku, slot, 0, 0.0, 0.0, 0.0, 0.0, (), tuple(bad))
    spec = cabinet.slots[cabinet.index()[slot]]
    product = products[sku]
    old_map = planogram.mapping()
    new_plan = planogram.with_slot(slot, sku)
    new_map = new_plan.mapping()
    caps_old, caps_new = slot_capacities(cabinet, planogram), slot_capacities(cabinet, new_plan)
    t = cabinet.service_interval_days
    f_old, f_new = planogram.facings(), new_plan.facings()
    d_rev = d_mar = d_val = 0.0
    for k in {sku, old_map.get(slot)} - {None}:
        assert k is not None
        if k not in products or not model.has_sku(k):
            continue
        for facings, caps, sign in ((f_new, caps_new, 1.0), (f_old, caps_old, -1.0)):
            sl = [s for s in facings.get(k, []) if s in model.slot_index]
            if sl:
                o = sku_outcome(model, products[k], sl, caps, t, params)
                d_rev, d_mar, d_val = (
                    d_rev + sign * o.revenue,
                    d_mar + sign * o.margin,
                    d_val + sign * o.value,
                )
    mine = [s for s in f_new[sku] if s in model.slot_index]
    out = sku_outcome(model, product, mine, caps_new, t, params)
    weights = [model.weight(s) for s in mine]
    share = model.weight(slot) / sum(weights)
    violations = list(fit_violations(spec, product))
    locked = constraints.locked_map()
    if slot in locked and locked[slot] != sku:
        violations.append(Violation(slot, sku, "locked_slot", "hard", f"{slot} is locked to {locked[slot]}"))
    if sku in constraints.exclude:
        violations.append(Violation(slot, sku, "excluded_sku", "hard", f"{sku} is excluded from this device"))
    if len(set(mine)) > constraints.max_for(sku):
        violations.append(
            Violation(
                slot,
                sku,
                "max_facings",
                "hard",
                f"{sku} would have {len(mine)} facings, max {constraints.max_for(sku)}",
            )
        )
    need = out.demand * t
    if out.stock < constraints.min_cover_fraction * need * (1 - 1e-9) - 1e-9:
        violations.append(
            Violation(
                slot,
                sku,
                "capacity_cover",
                "soft",
                f"{out.stock} units last {out.days_of_supply:.1f} days of a {t:g}-day interval",
            )
        )
    elif out.stock < need:
        violations.append(
            Violation(
                slot, sku, "capacity_short", "soft", f"sells out after {out.days_of_supply:.1f} of {t:g} days"
            )
        )
    reasons, adj = _reasons(model, cabinet, products, new_map, sku, slot, params)
    feas_w = [
        model.weight(s.code)
        for s in cabinet.slots
        if not any(v.severity == "hard" for v in fit_violations(s, product))
    ]
    pos = model.weight(slot) / max(feas_w) if feas_w else 0.0
    rank = sum(w > model.weight(slot) for w in feas_w) + 1
    reasons.insert(
        0,
        Reason(
            "position",
            f"{slot} ranks {rank} of {len(feas_w)} usable slots for {sku} "
            f"(position weight {model.weight(slot):.2f}, cabinet mean 1.00)",
            pos,
        ),
    )
    cover = min(1.0, out.days_of_supply / t) if math.isfinite(out.days_of_supply) else 1.0
    reasons.append(
        Reason(
            "supply",
            f"{out.stock} units cover {min(out.days_of_supply, 999):.1f} days (service every {t:g} days)",
            cover,
        )
    )
    total = evaluate(model, cabinet, products, planogram, params).value
    scale = max(0.05, 0.02 * abs(total))
    gain = 0.5 + 0.5 * math.tanh(d_val / scale)
    reasons.append(
        Reason(
            "value", f"{d_mar:+.2f} margin/day, {d_rev:+.2f} revenue/day versus the current planogram", d_val
        )
    )
    hard = any(v.severity == "hard" for v in violations)
    score = 0 if hard else round(100 * (W_POSITION * pos + W_COVER * cover + W_ADJ * adj + W_GAIN * gain))
    return PlacementScore(
        sku,
        slot,
        max(0, min(100, score)),
        out.sold * share,
        d_rev,
        d_mar,
        out.days_of_supply,
        tuple(reasons),
        tuple(violations),
    )


def _reasons(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    m: dict[str, str],
    sku: str,
    slot: str,
    params: ValueParams,
) -> tuple[list[Reason], float]:
    """Neighbour, affinity and category-block reasons and the adjacency component (0..1)."""
    spec = cabinet.slots[cabinet.index()[slot]]
    near = {(s.row, s.col): s.code for s in cabinet.slots}
    nb = [
        near[p]
        for p in (
            (spec.row, spec.col - 1),
            (spec.row, spec.col + 1),
            (spec.row - 1, spec.col),
            (spec.row + 1, spec.col),
        )
        if p in near
    ]
    cat = products[sku].category
    reasons: list[Reason] = []
    adj = 0.5
    same = [s for s in nb if m.get(s) in products and products[m[s]].category == cat]
    elsewhere = [
        s for s, k in m.items() if s != slot and s not in nb and k in products and products[k].category == cat
    ]
    if same:
        adj += 0.25
        reasons.append(
            Reason("category", f"joins the {cat} block ({', '.join(same)})", params.category_bonus)
        )
    elif elsewhere:
        adj -= 0.25
        reasons.append(
            Reason(
                "category",
                f"splits {cat}: other {cat} items are at {', '.join(sorted(elsewhere)[:3])}",
                -params.category_bonus,
            )
        )
    partners = [
        (s, m[s], model.lift(sku, m[s])) for s in nb if s in m and m[s] != sku and model.lift(sku, m[s]) > 1
    ]
    if partners:
        adj += 0.25
        best = max(partners, key=lambda p: p[2])
        reasons.append(
            Reason(
                "affinity",
                f"next to {best[1]} at {best[0]}: bought together {best[2]:.1f}x more than chance",
                pair_score(model, products, sku, best[1], params),
            )
        )
    if nb:
        names = ", ".join(f"{s}:{m[s]}" for s in nb if s in m) or "empty slots"
        reasons.append(Reason("neighbours", f"neighbours {names}", 0.0))
    return reasons, max(0.0, min(1.0, adj))
