"""Venue personalisation: swap weak skus for ones that sell well on venue-similar devices."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.planogram.model import DemandModel
from services.planogram.rules import is_feasible_pair
from services.planogram.types import Cabinet, Catalog, Constraints, Planogram
from services.planogram.value import ValueParams, evaluate, sku_value, slot_capacities, unit_value


@dataclass(frozen=True, slots=True)
class PeerRates:
    """Another device's position-neutral demand (units/day at weight 1) for skus it has data on."""

    device_id: str
    venue_type: str
    rates: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class PersonalizeChange:
    """Replace sku_out in slot by sku_in; gain is the objective change per day."""

    slot: str
    sku_out: str
    sku_in: str
    expected_gain_per_day: float
    expected_units_per_day: float
    peer_rate: float
    n_peers: int
    reason: str


@dataclass(frozen=True, slots=True)
class Personalization:
    """Suggested changes and how they were derived."""

    venue_type: str
    n_peers: int
    scale: float
    changes: tuple[PersonalizeChange, ...]


def peer_rates(model: DemandModel) -> PeerRates:
    """PeerRates of a fitted model (observed skus only)."""
    return PeerRates(
        model.device_id,
        model.venue_type,
        {k: float(model.base[i]) for i, k in enumerate(model.skus) if model.observed[i]},
    )


def location_personalize(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    peers: Sequence[PeerRates],
    *,
    constraints: Constraints | None = None,
    params: ValueParams | None = None,
    max_changes: int = 5,
    min_peers: int = 2,
    min_gain: float = 0.02,
) -> Personalization:
    """Peers of the same venue type (all peers if fewer than min_peers) give each absent sku a rate;
    it is scaled by this device's level (median own/peer ratio on shared skus) and valued in the slot
    of the weakest current sku it can replace; best gains first, each slot and sku used once."""
    # Point estimates on both sides: the newcomer's rate comes from same-venue peers, not from this
    # model's prior, so the model's uncertainty discount would not describe it.
    params = dataclasses.replace(params or ValueParams(), uncertainty_discount=0.0)
    constraints = constraints or Constraints()
    others = [p for p in peers if p.device_id != model.device_id]
    similar = [p for p in others if p.venue_type == model.venue_type]
    group = similar if len(similar) >= min_peers else others
    own = {k: float(model.base[i]) for i, k in enumerate(model.skus) if model.observed[i]}
    pooled: dict[str, list[float]] = {}
    for p in group:
        for k, r in p.rates.items():
            pooled.setdefault(k, []).append(r)
    ratios = [own[k] / statistics.mean(v) for k, v in pooled.items() if k in own and statistics.mean(v) > 0]
    scale = statistics.median(ratios) if ratios else 1.0
    current = planogram.mapping()
    placed = set(current.values())
    pv = evaluate(model, cabinet, products, planogram, params)
    caps = slot_capacities(cabinet, planogram)
    locked = constraints.locked_map()
    t = cabinet.service_interval_days
    # weakest single-facing skus first: their slot is what a newcomer would take
    weak = sorted(
        (o.value, o.sku, o.slots[0])
        for o in pv.per_sku.values()
        if len(o.slots) == 1 and o.sku not in constraints.must_stock and o.slots[0] not in locked
    )
    cands = sorted(
        (
            (statistics.mean(v) * scale, k, len(v))
            for k, v in pooled.items()
            if k not in placed and k in products and len(v) >= min_peers and k not in constraints.exclude
        ),
        reverse=True,
    )
    slots = {s.code: s for s in cabinet.slots}
    label = model.venue_type if len(similar) >= min_peers else "fleet"
    changes: list[PersonalizeChange] = []
    used: set[str] = set()
    for rate, sku, n in cands:
        best: tuple[float, str, str] | None = None
        for val_out, sku_out, slot in weak:
            if slot in used or not is_feasible_pair(slots[slot], products[sku]):
                continue
            w = model.weight(slot)
            u = unit_value(products[sku], params.objective)
            val_in, _, _ = sku_value(
                rate, [w], [caps[slot]], t, model.space_elasticity, u, params.stockout_penalty
            )
            gain = val_in - val_out
            if best is None or gain > best[0]:
                best = (gain, sku_out, slot)
        if best is None or best[0] < min_gain:
            continue
        gain, sku_out, slot = best
        used.add(slot)
        changes.append(
            PersonalizeChange(
                slot,
                sku_out,
                sku,
                gain,
                rate * model.weight(slot),
                rate / scale if scale else rate,
                n,
                f"{sku} sells {rate / scale:.2f}/day on {n} {label} devices; "
                f"scaled to this device x{scale:.2f}; replaces {sku_out} ({gain:+.2f}/day)",
            )
        )
        if len(changes) >= max_changes:
            break
    return Personalization(model.venue_type, len(group), scale, tuple(changes))
