"""Venue personalisation: swap weak skus for ones that sell well on venue-similar devices."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.planogram.model import DemandModel
from services.planogram.rules import is_feasible_pair
from services.planogram.types import Cabinet, Catalog, Constraints, Planogram, ProductSpec
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
    label = model.venue_type if len(similar) >= min_peers else "fleet"
    pooled: dict[str, list[float]] = {}
    for peer in group:
        for sku, rate in peer.rates.items():
            pooled.setdefault(sku, []).append(rate)
    scale = _device_scale(model, pooled)
    weak = _weakest_slots(model, cabinet, products, planogram, constraints, params)
    candidates = _newcomers(pooled, scale, set(planogram.mapping().values()), products, constraints, min_peers)
    swap = _Swap(model, cabinet, slot_capacities(cabinet, planogram), params)
    changes: list[PersonalizeChange] = []
    used: set[str] = set()
    for rate, sku, n_peers in candidates:
        best = swap.best(products[sku], rate, weak, used)
        if best is None or best[0] < min_gain:
            continue
        gain, sku_out, slot = best
        used.add(slot)
        reason = (
            f"{sku} sells {rate / scale:.2f}/day on {n_peers} {label} devices; "
            f"scaled to this device x{scale:.2f}; replaces {sku_out} ({gain:+.2f}/day)"
        )
        peer_rate = rate / scale if scale else rate
        units = rate * model.weight(slot)
        changes.append(PersonalizeChange(slot, sku_out, sku, gain, units, peer_rate, n_peers, reason))
        if len(changes) >= max_changes:
            break
    return Personalization(model.venue_type, len(group), scale, tuple(changes))


def _device_scale(model: DemandModel, pooled: Mapping[str, list[float]]) -> float:
    """This device's level against its peers: median own/peer rate over the skus both sell (1 if none)."""
    own = {k: float(model.base[i]) for i, k in enumerate(model.skus) if model.observed[i]}
    ratios = [own[k] / statistics.mean(v) for k, v in pooled.items() if k in own and statistics.mean(v) > 0]
    return statistics.median(ratios) if ratios else 1.0


def _newcomers(
    pooled: Mapping[str, list[float]],
    scale: float,
    placed: set[str],
    products: Catalog,
    constraints: Constraints,
    min_peers: int,
) -> list[tuple[float, str, int]]:
    """(scaled peer rate, sku, peers) of absent skus enough peers sell, fastest first."""
    return sorted(
        (
            (statistics.mean(rates) * scale, sku, len(rates))
            for sku, rates in pooled.items()
            if sku not in placed and sku in products and len(rates) >= min_peers and sku not in constraints.exclude
        ),
        reverse=True,
    )


def _weakest_slots(
    model: DemandModel,
    cabinet: Cabinet,
    products: Catalog,
    planogram: Planogram,
    constraints: Constraints,
    params: ValueParams,
) -> list[tuple[float, str, str]]:
    """(value, sku, slot) of single-facing skus that may go, weakest first: what a newcomer would take."""
    value = evaluate(model, cabinet, products, planogram, params)
    locked = constraints.locked_map()
    return sorted(
        (outcome.value, outcome.sku, outcome.slots[0])
        for outcome in value.per_sku.values()
        if len(outcome.slots) == 1 and outcome.sku not in constraints.must_stock and outcome.slots[0] not in locked
    )


@dataclass(frozen=True, slots=True)
class _Swap:
    """Values a newcomer in the slot of a weak sku."""

    model: DemandModel
    cabinet: Cabinet
    caps: Mapping[str, int]
    params: ValueParams

    def best(
        self, product: ProductSpec, rate: float, weak: list[tuple[float, str, str]], used: set[str]
    ) -> tuple[float, str, str] | None:
        """(gain, sku out, slot) of the best free feasible weak slot for the product, None if there is none."""
        slots = {s.code: s for s in self.cabinet.slots}
        interval = self.cabinet.service_interval_days
        best: tuple[float, str, str] | None = None
        for value_out, sku_out, slot in weak:
            if slot in used or not is_feasible_pair(slots[slot], product):
                continue
            weight = self.model.weight(slot)
            unit = unit_value(product, self.params.objective)
            eps, penalty = self.model.space_elasticity, self.params.stockout_penalty
            value_in, _, _ = sku_value(rate, [weight], [self.caps[slot]], interval, eps, unit, penalty)
            gain = value_in - value_out
            if best is None or gain > best[0]:
                best = (gain, sku_out, slot)
        return best
