"""Planogram features over the pure engine: load data, check references, call the engine, shape JSON."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from flask import current_app, has_app_context

from services.errors import ValidationFailed
from services.merchandising.data import DeviceData, load_device, model_for
from services.planogram import (
    DEFAULT_MAX_NEW_SKUS,
    Constraints,
    InfeasibleError,
    Planogram,
    ValueParams,
    affinity,
    demand_forecast,
    detect_anomalies,
    heat_zones,
    location_personalize,
    optimize,
    peer_rates,
    predict_revenue,
    score_placement,
    validate,
)


def to_json(value: Any) -> Any:
    """Engine results (frozen dataclasses, tuples, numpy scalars) as plain JSON values; NaN -> null."""
    if isinstance(value, Planogram):
        caps = value.capacity_map()
        return {slot: {"sku": sku, "capacity": caps.get(slot)} for slot, sku in sorted(value.mapping().items())}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, np.generic):
        return to_json(value.item())
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    return value


def _check_refs(
    data: DeviceData, skus: Iterable[str], slots: Iterable[str], sku_field: str, slot_field: str | None = None
) -> None:
    """422 naming every unknown sku or slot of this device (and the request field that holds it)."""
    slot_codes = {s.code for s in data.cabinet.slots}
    problems = [
        {"field": slot_field or sku_field, "reason": f"unknown slot '{slot}' for device {data.device_id}"}
        for slot in slots
        if slot not in slot_codes
    ]
    problems += [{"field": sku_field, "reason": _unknown_sku(data, sku)} for sku in skus if sku not in data.products]
    if problems:
        raise ValidationFailed("Unknown slot or sku", details=problems)


def _unknown_sku(data: DeviceData, sku: str) -> str:
    """Why a sku is not this device's: unknown, or on the other side of the demo/real divide."""
    if sku in data.hidden_skus:
        mine, other = ("demo", "real") if data.is_demo else ("real", "demo")
        return f"sku '{sku}' is {other} data, kept apart from the {mine} device {data.device_id}"
    return f"unknown sku '{sku}'"


def planogram_from(data: DeviceData, mapping: Mapping[str, str | None] | None, field: str = "planogram") -> Planogram:
    """The editor's unsaved state (slot -> sku, null = empty) or the saved current planogram."""
    if mapping is None:
        return data.planogram
    skus = sorted({s for s in mapping.values() if s})
    _check_refs(data, skus, mapping.keys(), field)
    capacities = data.planogram.capacity_map()
    return Planogram.of(
        {slot: sku for slot, sku in mapping.items() if sku},
        {slot: capacities[slot] for slot, sku in mapping.items() if sku and slot in capacities},
    )


def default_max_new_skus() -> int | None:
    """The configured limit on new skus per optimisation (OPTIMIZER_MAX_NEW_SKUS; the engine's outside an app)."""
    if has_app_context():
        value = current_app.config.get("OPTIMIZER_MAX_NEW_SKUS", DEFAULT_MAX_NEW_SKUS)
        return None if value is None else int(value)
    return DEFAULT_MAX_NEW_SKUS


def default_max_changed_slots() -> int | None:
    """The configured change budget: slots one optimisation may change (OPTIMIZER_MAX_CHANGED_SLOTS)."""
    if has_app_context():
        value = current_app.config.get("OPTIMIZER_MAX_CHANGED_SLOTS")
        return None if value is None else int(value)
    return None


def constraints_from(data: DeviceData, spec: Mapping[str, Any] | None) -> Constraints:
    """Build engine constraints; locked slots keep the sku they hold in the current planogram.

    ``max_new_skus`` and ``max_changed_slots``: absent = the configured default, None = unlimited."""
    spec = spec or {}
    locked_slots: Sequence[str] = spec.get("locked_slots", ())
    must_stock: Sequence[str] = spec.get("must_stock", ())
    min_f: Mapping[str, int] = spec.get("min_facings", {})
    max_f: Mapping[str, int] = spec.get("max_facings", {})
    _check_refs(data, [*must_stock, *min_f, *max_f], locked_slots, "constraints.skus", "constraints.locked_slots")
    current = data.planogram.mapping()
    empty = [s for s in locked_slots if s not in current]
    if empty:
        raise ValidationFailed(
            "Cannot lock an empty slot",
            details=[{"field": "constraints.locked_slots", "reason": f"slot {s} is empty"} for s in empty],
        )
    return Constraints(
        must_stock=frozenset(must_stock),
        locked=tuple((s, current[s]) for s in locked_slots),
        min_facings=tuple(min_f.items()),
        max_facings=tuple(max_f.items()),
        max_new_skus=spec["max_new_skus"] if "max_new_skus" in spec else default_max_new_skus(),
        max_changed_slots=(spec["max_changed_slots"] if "max_changed_slots" in spec else default_max_changed_slots()),
    )


def realtime_score(device_id: str, sku: str, slot: str, mapping: Mapping[str, str | None] | None) -> dict[str, Any]:
    """Score dropping ``sku`` into ``slot`` of the (unsaved) planogram; texts name products, not codes."""
    data = load_device(device_id)
    _check_refs(data, [sku], [slot], "sku", "slot")
    planogram = planogram_from(data, mapping)
    result = to_json(score_placement(model_for(data), data.cabinet, data.products, planogram, sku, slot))
    names = {k: p.name for k, p in data.products.items() if k == sku or k in planogram.mapping().values()}
    for item in (*result["reasons"], *result["violations"]):
        item["message"] = readable(item["message"], names)
    result["hard_rule_broken"] = any(v["severity"] == "hard" for v in result["violations"])
    return {"device_id": device_id, **result}


_NO_USABLE_SLOT = re.compile(r"^(\w+) ranks \d+ of 0 usable slots for (.+?) \(")


def readable(message: str, names: Mapping[str, str]) -> str:
    """An engine message for people: product names instead of skus, no "rank 1 of 0" for a product that fits
    nowhere."""
    for sku in sorted(names, key=len, reverse=True):  # longest first: one sku may prefix another
        message = re.sub(rf"(?<![\w-]){re.escape(sku)}(?![\w-])", names[sku], message)
    found = _NO_USABLE_SLOT.match(message)
    if found:
        return f"no slot of this cabinet fits {found.group(2)}, so {found.group(1)} cannot hold it either"
    return message


def validate_constraints(
    device_id: str, mapping: Mapping[str, str | None] | None, constraints: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Every hard and soft rule broken by the planogram."""
    data = load_device(device_id)
    planogram = planogram_from(data, mapping)
    violations = validate(data.cabinet, data.products, planogram, constraints_from(data, constraints), model_for(data))
    items = to_json(violations)
    return {"device_id": device_id, "valid": not any(v["severity"] == "hard" for v in items), "violations": items}


def revenue(device_id: str, mapping: Mapping[str, str | None], level: float) -> dict[str, Any]:
    """Proposed vs current planogram: daily revenue and margin with an interval."""
    data = load_device(device_id)
    proposed = planogram_from(data, mapping)
    result = predict_revenue(model_for(data), data.cabinet, data.products, proposed, data.planogram, level=level)
    return {"device_id": device_id, **to_json(result)}


def heat(device_id: str, level: float) -> dict[str, Any]:
    """Row x column position weights with confidence."""
    data = load_device(device_id)
    return {"device_id": device_id, **to_json(heat_zones(model_for(data), data.cabinet, level=level))}


def affinity_pairs(device_ids: Sequence[str], min_count: int, min_lift: float) -> dict[str, Any]:
    """Co-purchase pairs over the baskets of one or more devices; a fleet holding real devices leaves the demo out."""
    loaded = [load_device(d) for d in device_ids]
    if any(not d.is_demo for d in loaded):
        loaded = [d for d in loaded if not d.is_demo]
    result = affinity([d.sales for d in loaded], min_count=min_count, min_lift=min_lift)
    return {"device_ids": [d.device_id for d in loaded], **to_json(result)}


def forecast(device_id: str, horizon_days: int) -> dict[str, Any]:
    """Per-sku daily forecast, days to stockout and the restock list."""
    data = load_device(device_id)
    result = demand_forecast(model_for(data), data.cabinet, data.planogram, horizon_days=horizon_days, sales=data.sales)
    return {"device_id": device_id, **to_json(result)}


def personalize(device_id: str, peer_ids: Sequence[str], max_changes: int) -> dict[str, Any]:
    """Assortment changes suggested by devices of similar venues (on the same side of the demo/real divide)."""
    data = load_device(device_id)
    loaded = (load_device(p) for p in peer_ids if p != device_id)
    peers = [peer_rates(model_for(p)) for p in loaded if p.is_demo == data.is_demo]
    result = location_personalize(
        model_for(data), data.cabinet, data.products, data.planogram, peers, max_changes=max_changes
    )
    return {"device_id": device_id, **to_json(result)}


def anomalies(device_id: str, recent_days: int) -> dict[str, Any]:
    """Slots whose sales stopped or dropped abnormally, or sold at the wrong price, with evidence."""
    data = load_device(device_id)
    found = detect_anomalies(
        model_for(data), data.cabinet, data.products, data.sales, data.planogram, recent_days=recent_days
    )
    return {"device_id": device_id, "anomalies": to_json(found)}


def optimise(device_id: str, objective: str, constraints: Mapping[str, Any] | None) -> dict[str, Any]:
    """The best planogram under the hard rules, with its uplift over the current one."""
    data = load_device(device_id)
    try:
        result = optimize(
            model_for(data),
            data.cabinet,
            data.products,
            data.planogram,
            constraints_from(data, constraints),
            ValueParams(objective=objective),  # type: ignore[arg-type]
            time_limit_s=float(current_app.config["OPTIMIZATION_TIME_LIMIT_SECONDS"]),
        )
    except InfeasibleError as exc:
        raise ValidationFailed(
            "No planogram satisfies these constraints",
            details=[{"field": "constraints", "reason": reason} for reason in str(exc).split("; ")],
        ) from None
    moves = sum(1 for slot, sku in result.planogram.mapping().items() if data.planogram.mapping().get(slot) != sku)
    return {"device_id": device_id, "objective_name": objective, "slots_changed": moves, **to_json(result)}
