"""Visit sheets and pick lists: what a route driver does at each machine for a planogram change.

A sheet compares the planogram before and after a change (a saved version against the one before it, a fleet
batch proposal or the editor's proposal against the current planogram), slot by slot: take out, put in, or
move a product from another slot of the same machine. Units to load per product come from the engine's
demand forecast of the new planogram from the visit to the next service (stock that must last one service
interval, capped by what the product's facings hold). A pick list sums the units over a route's machines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.catalog import get_device
from services.errors import NotFound, ValidationFailed
from services.merchandising import batch as planogram_jobs
from services.merchandising import versions
from services.merchandising.data import load_device, model_for
from services.planogram import Planogram, demand_forecast

SlotItems = Mapping[str, Mapping[str, Any]]  # slot -> {"sku", "capacity"}
MAX_ROUTE_DEVICES = 50


@dataclass(frozen=True, slots=True)
class Source:
    """Which change a sheet is for: a saved version, a batch job's proposal or an explicit proposal."""

    version: int | None = None
    job_id: str | None = None
    proposal: Mapping[str, str | None] | None = None
    user_id: int | None = None
    is_admin: bool = False


def _planogram(items: SlotItems) -> Planogram:
    return Planogram.of(
        {s: str(v["sku"]) for s, v in items.items() if v and v.get("sku")},
        {s: int(v["capacity"]) for s, v in items.items() if v and v.get("capacity")},
    )


def _change(device_id: str, source: Source) -> tuple[Planogram, Planogram, dict[str, Any]]:
    """(before, after, label) of the change the source names."""
    if source.job_id:
        status = planogram_jobs.job_status(source.job_id, source.user_id or 0, source.is_admin)
        item = next((r for r in status["results"] if r["device_id"] == device_id), None)
        if item is None or not item.get("ok"):
            raise NotFound(
                f"Job {source.job_id} has no proposal for {device_id}",
                details={"job_id": source.job_id, "device_id": device_id},
            )
        before = load_device(device_id).planogram
        return before, _planogram(item["result"]["planogram"]), {"kind": "proposal", "job_id": source.job_id}
    if source.proposal is not None:
        mapping = {s: k for s, k in source.proposal.items() if k}
        return load_device(device_id).planogram, Planogram.of(mapping), {"kind": "proposal"}
    number = source.version or get_device(device_id).planogram_version
    if not number:
        raise NotFound(f"{device_id} has no saved planogram yet", details={"device_id": device_id})
    after = versions.show_version(device_id, number)
    before = versions.show_version(device_id, number - 1)["slots"] if number > 1 else {}
    return (
        _planogram(before),
        _planogram(after["slots"]),
        {
            "kind": "version",
            "version": number,
            "from_version": number - 1 if number > 1 else None,
            "note": after["note"],
            "source": after["source"],
        },
    )


def slot_steps(
    before: Planogram, after: Planogram, order: Sequence[str], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each changed slot, in cabinet order: what to take out (and where it goes), what to put in (and from where).

    A product leaving one slot and entering another on the same visit is a move: its units go across instead
    of back to the van. Capacity changes of an unchanged product are not slot changes."""
    a, b = before.mapping(), after.mapping()
    changed = [s for s in order if a.get(s) != b.get(s)]
    freed: dict[str, list[str]] = {}
    for slot in changed:
        if a.get(slot):
            freed.setdefault(a[slot], []).append(slot)
    source: dict[str, str] = {}  # target slot -> slot its product comes from
    for slot in changed:
        sku = b.get(slot)
        if sku and freed.get(sku):
            source[slot] = freed[sku].pop(0)
    target = {src: dst for dst, src in source.items()}
    rows = []
    for slot in changed:
        out, put = a.get(slot), b.get(slot)
        action = "replace" if out and put else "remove" if out else "move" if slot in source else "add"
        rows.append(
            {
                "slot": slot,
                "action": action,
                "remove": {"sku": out, "name": names.get(out, out), "to_slot": target.get(slot)} if out else None,
                "add": {"sku": put, "name": names.get(put, put), "from_slot": source.get(slot)} if put else None,
            }
        )
    return rows


def load_list(device_id: str, before: Planogram, after: Planogram) -> tuple[list[dict[str, Any]], int]:
    """Units to load per product of the new planogram, and the forecast horizon (days to the next service)."""
    data = load_device(device_id)
    interval = max(round(data.cabinet.service_interval_days), 1)
    forecast = demand_forecast(model_for(data), data.cabinet, after, horizon_days=interval)
    per_sku = {f.sku: f for f in forecast.per_sku}
    units = {r.sku: r.units for r in forecast.restock}
    old = set(before.mapping().values())
    rows = []
    for sku, slots in sorted(after.facings().items(), key=lambda kv: _name(data.products, kv[0]).lower()):
        f = per_sku.get(sku)
        rows.append(
            {
                "sku": sku,
                "name": _name(data.products, sku),
                "slots": sorted(slots),
                "new": sku not in old,
                "capacity": f.capacity if f else None,
                "forecast_units": round(sum(f.demand[:interval]), 1) if f else None,
                "load_units": units.get(sku, 0) if f else None,  # None: no forecast for it (say so, never guess)
            }
        )
    return rows, interval


def _name(products: Mapping[str, Any], sku: str) -> str:
    product = products.get(sku)
    return str(product.name) if product is not None else sku


def device_sheet(device_id: str, source: Source) -> dict[str, Any]:
    """The visit sheet of one machine for the change the source names."""
    data = load_device(device_id)
    before, after, label = _change(device_id, source)
    names = {sku: p.name for sku, p in data.products.items()}
    steps = slot_steps(before, after, data.cabinet.slot_codes(), names)
    load, interval = load_list(device_id, before, after)
    device = get_device(device_id)
    return {
        "device_id": device_id,
        "name": device.name,
        "venue_type": device.venue_type,
        "service_interval_days": interval,
        "change": label,
        "steps": steps,
        "load": load,
        "counts": {a: sum(1 for s in steps if s["action"] == a) for a in ("replace", "remove", "add", "move")},
        "first_fill": not before.mapping(),
    }


def route_sheet(device_ids: Sequence[str], job_id: str | None, user_id: int, is_admin: bool) -> dict[str, Any]:
    """Visit sheets of a route day's machines and the pick list summed over them.

    With a batch job, each machine it has a proposal for uses that proposal; the others their last saved change."""
    ids = list(dict.fromkeys(device_ids))
    if not ids or len(ids) > MAX_ROUTE_DEVICES:
        raise ValidationFailed(
            "Choose 1 to 50 machines",
            details=[
                {"field": "devices", "reason": f"{len(ids)} machines given; a route takes 1 to {MAX_ROUTE_DEVICES}"}
            ],
        )
    proposed: set[str] = set()
    if job_id:
        results = planogram_jobs.job_status(job_id, user_id, is_admin)["results"]
        proposed = {r["device_id"] for r in results if r.get("ok")}
    sheets = [
        device_sheet(d, Source(job_id=job_id if d in proposed else None, user_id=user_id, is_admin=is_admin))
        for d in ids
    ]
    return {"sheets": sheets, "pick_list": pick_list(sheets), "job_id": job_id}


def pick_list(sheets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Units to bring per product, summed over the machines, with the machines that need it."""
    totals: dict[str, dict[str, Any]] = {}
    for sheet in sheets:
        for row in sheet["load"]:
            entry = totals.setdefault(
                row["sku"],
                {"sku": row["sku"], "name": row["name"], "units": 0, "machines": [], "unforecast_machines": []},
            )
            if row["load_units"] is None:
                entry["unforecast_machines"].append(sheet["device_id"])
            elif row["load_units"] > 0:
                entry["units"] += row["load_units"]
                entry["machines"].append(sheet["device_id"])
    return sorted(
        (t for t in totals.values() if t["units"] or t["unforecast_machines"]),
        key=lambda t: (-t["units"], t["name"].lower()),
    )


def sheet_csv(sheet: Mapping[str, Any]) -> str:
    """One machine's sheet as CSV: a row per changed slot, then a row per product to load."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "section",
            "device_id",
            "slot",
            "action",
            "remove_sku",
            "remove_name",
            "remove_to_slot",
            "add_sku",
            "add_name",
            "add_from_slot",
            "load_units",
            "forecast_units",
            "capacity",
        ]
    )
    for step in sheet["steps"]:
        rem, add = step["remove"] or {}, step["add"] or {}
        w.writerow(
            [
                "change",
                sheet["device_id"],
                step["slot"],
                step["action"],
                rem.get("sku", ""),
                rem.get("name", ""),
                rem.get("to_slot") or "",
                add.get("sku", ""),
                add.get("name", ""),
                add.get("from_slot") or "",
                "",
                "",
                "",
            ]
        )
    for row in sheet["load"]:
        w.writerow(
            [
                "load",
                sheet["device_id"],
                " ".join(row["slots"]),
                "load",
                "",
                "",
                "",
                row["sku"],
                row["name"],
                "",
                _blank(row["load_units"]),
                _blank(row["forecast_units"]),
                _blank(row["capacity"]),
            ]
        )
    return out.getvalue()


def pick_list_csv(route: Mapping[str, Any]) -> str:
    """A route's pick list as CSV: product, units, machines."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["sku", "name", "units", "machines", "machines_without_forecast"])
    for item in route["pick_list"]:
        w.writerow(
            [
                item["sku"],
                item["name"],
                item["units"],
                " ".join(item["machines"]),
                " ".join(item["unforecast_machines"]),
            ]
        )
    return out.getvalue()


def _blank(value: object) -> object:
    return "" if value is None else value
