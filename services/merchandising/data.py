"""Loads a device's data from the database into the pure engine's types; caches fitted models.

Demo data never mixes with real data: a device sees only the products and fleet of its own side of the
``is_demo`` divide (real devices: real products and real devices' sales; demo devices: the demo's), plus the
products its own planograms and sales already hold. The engine is never told about the other side.
"""

from __future__ import annotations

import logging
import pickle  # fitted models shared through Redis: the same trust boundary as RQ's pickled jobs
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

import redis
from flask import has_app_context
from sqlalchemy import func, select

from extensions import db
from models import Device, PlanogramItem, PlanogramVersion, Product, Sale, SalesWeekly
from services import catalog as catalog_service
from services.jobs import native
from services.planogram import (
    Cabinet,
    DemandModel,
    Planogram,
    Priors,
    ProductSpec,
    SalesData,
    SlotSpec,
    fit_model,
)
from services.planogram.priors import FleetRates, StockRow
from services.processes import __name__ as _pickling  # noqa: F401 (registers pickling of the models' maps)
from services.runtime import backends

log = logging.getLogger("planogram.models")

T = TypeVar("T")
VersionKey = tuple[Any, ...]
HISTORY_DAYS = 120
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DeviceData:
    """Everything the engine needs about one device, as of one data version."""

    device_id: str
    venue_type: str
    cabinet: Cabinet
    products: dict[str, ProductSpec]
    planogram: Planogram
    history: tuple[tuple[int, Planogram], ...]
    sales: SalesData
    version_key: VersionKey
    is_demo: bool = False
    # Products left out because they sit on the other side of the demo/real divide.
    hidden_skus: frozenset[str] = frozenset()


class _LRU(Generic[T]):
    """Small thread-safe LRU for derived data keyed by (device, data version, catalogue fingerprint).

    Derived data only: a miss recomputes from the database, so several workers never disagree.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[VersionKey, T] = OrderedDict()
        self._lock = native("_thread", "allocate_lock")()  # job threads and request greenlets share it

    def get(self, key: VersionKey) -> T | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: VersionKey, item: T) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


MODEL_CACHE_SIZE = 512  # fitted models are small (tens of kB); warm-ups fill at most this many
MODELS: _LRU[DemandModel] = _LRU(MODEL_CACHE_SIZE)
PRIORS: _LRU[Priors] = _LRU(256)
DATA: _LRU[DeviceData] = _LRU()


def product_specs(demo: bool | None = None, keep: Iterable[str] = ()) -> dict[str, ProductSpec]:
    """Every product as an engine ProductSpec, by sku; with ``demo`` set, only that side of the demo/real
    divide plus the skus in ``keep``."""
    kept = set(keep)
    return {
        p.sku: ProductSpec(
            p.sku,
            p.name,
            p.category,
            p.price,
            p.unit_cost,
            p.width_mm,
            p.height_mm,
            p.depth_mm,
            p.temperature,  # type: ignore[arg-type]
        )
        for p in db.session.scalars(select(Product))
        if demo is None or p.is_demo == demo or p.sku in kept
    }


def _other_side(demo: bool) -> frozenset[str]:
    """Skus on the other side of the demo/real divide from a device with this flag."""
    return frozenset(db.session.scalars(select(Product.sku).where(Product.is_demo == (not demo))))


def cabinet_of(device: Device) -> Cabinet:
    """The device's cabinet geometry as the engine sees it."""
    slots = tuple(
        SlotSpec(s.code, s.row_index, s.col_index, s.width_mm, s.height_mm, s.depth_mm, s.capacity, s.zone)  # type: ignore[arg-type]
        for s in device.slots
    )
    return Cabinet(
        device.device_id,
        device.rows,
        device.columns,
        device.venue_type,
        device.cabinet_type,
        device.service_interval_days,
        slots,
    )


def _version_planogram(version: PlanogramVersion) -> Planogram:
    return Planogram.of(
        {i.slot_code: i.product.sku for i in version.items}, {i.slot_code: i.capacity for i in version.items}
    )


def _history(device: Device) -> tuple[Planogram, tuple[tuple[int, Planogram], ...]]:
    """Current planogram and [(epoch day it took effect, planogram)] for every saved version."""
    from sqlalchemy.orm import selectinload

    versions = list(
        db.session.scalars(
            select(PlanogramVersion)
            .where(PlanogramVersion.device_pk == device.id)
            .options(selectinload(PlanogramVersion.items).selectinload(PlanogramItem.product))
            .order_by(PlanogramVersion.version_number)
        )
    )
    active = next((v for v in versions if v.status == "active"), None)
    current = _version_planogram(active) if active else Planogram.of({})
    history = tuple(
        (0 if i == 0 else int(v.created_at.timestamp()) // SECONDS_PER_DAY, _version_planogram(v))
        for i, v in enumerate(versions)
        if v.status != "draft"
    )
    return current, history


def _sales(device: Device, slot_codes: tuple[str, ...]) -> SalesData:
    latest = db.session.scalar(select(func.max(Sale.ts)).where(Sale.device_pk == device.id))
    query = (
        select(Sale.ts, Sale.slot_code, Product.sku, Sale.price, Sale.transaction_id)
        .join(Product, Product.id == Sale.product_id)
        .where(Sale.device_pk == device.id)
    )
    if latest is not None:
        query = query.where(Sale.ts >= latest - timedelta(days=HISTORY_DAYS))
    known = set(slot_codes)
    rows = [tuple(r) for r in db.session.execute(query.order_by(Sale.ts)) if r[1] in known]
    return SalesData.from_rows(device.device_id, rows, slot_codes)  # type: ignore[arg-type]


def version_key(device_id: str) -> VersionKey:
    """(device, data version, catalogue fingerprint) in one cheap query; NotFound for an unknown device."""
    count = select(func.count(Product.id)).scalar_subquery()
    latest = select(func.max(Product.updated_at)).scalar_subquery()
    row = db.session.execute(
        select(Device.data_version, count, latest, Device.is_demo).where(Device.device_id == device_id)
    ).one_or_none()
    if row is None:
        catalog_service.get_device(device_id)  # raises the standard 404
        raise AssertionError("unreachable")
    data_version, n_products, updated, is_demo = row
    stamp = updated.isoformat() if hasattr(updated, "isoformat") else str(updated)
    return (device_id, int(data_version), f"{n_products}:{stamp}", bool(is_demo))


_LOADING: set[VersionKey] = set()
_LOADING_LOCK = native("_thread", "allocate_lock")()
LOAD_POLL_S = 0.005


def load_device(device_id: str) -> DeviceData:
    """One device's cabinet, catalogue, planograms and recent sales; re-read only when its data changed.

    One loader per data version: callers arriving meanwhile (20 streams started at once) wait for its result
    with short cooperative sleeps instead of each reading the same rows again."""
    key = version_key(device_id)
    while True:
        cached = DATA.get(key)
        if cached is not None:
            return cached
        with _LOADING_LOCK:
            loader = key not in _LOADING
            _LOADING.add(key)
        if loader:
            break
        time.sleep(LOAD_POLL_S)  # a greenlet yields (gevent patches sleep); a job thread just waits
    try:
        return _load(device_id, key)
    finally:
        with _LOADING_LOCK:
            _LOADING.discard(key)


def _load(device_id: str, key: VersionKey) -> DeviceData:
    """Read the device's data from the database and cache it under ``key``."""
    device = catalog_service.get_device(device_id)
    cabinet = cabinet_of(device)
    current, history = _history(device)
    sales = _sales(device, tuple(s.code for s in cabinet.slots))
    own = {*current.mapping().values(), *sales.skus}.union(*(p.mapping().values() for _, p in history))
    demo = bool(device.is_demo)
    data = DeviceData(
        device.device_id,
        device.venue_type,
        cabinet,
        product_specs(demo, own),
        current,
        history,
        sales,
        key,
        demo,
        _other_side(demo) - own,
    )
    DATA.put(key, data)
    return data


@dataclass(frozen=True)
class FleetSales:
    """Per (device, sku) units sold and days stocked in the priors window, pooled once per fleet state.

    The priors logic itself is the engine's (`services.planogram.priors.FleetRates`): venue-aware, rates
    measured over the devices that stocked a sku, the device itself left out.
    """

    days: int
    rates: FleetRates

    def priors(self, exclude_device: str | None, venue_type: str | None = None) -> Priors:
        """Units/day per sku, category and fleet, leaving one device out (its own data is not its prior)."""
        return self.rates.priors(exclude_device, venue_type)


FLEET: _LRU[FleetSales] = _LRU(4)


def fleet_priors(exclude_device: str | None = None, venue_type: str | None = None, demo: bool = False) -> Priors:
    """Shrinkage targets from the fleet: units/day per sku (venue-blended), per category and overall (cached).

    venue_type defaults to the excluded device's venue. Only devices on the caller's side of the demo/real
    divide count (``demo``): the demo fleet is never a real machine's prior, nor the other way round.
    """
    # The fleet's state from the devices table alone: every import that adds a device's vends bumps its
    # data_version, so no per-call scan of the sales (a count over every vend made a 20,000-machine batch
    # quadratic: one full scan per device).
    n_dev, versions, last_pk = db.session.execute(
        select(func.count(Device.id), func.sum(Device.data_version), func.max(Device.id)).where(Device.is_demo == demo)
    ).one()
    if not n_dev:
        return Priors()
    fleet_key = (demo, int(n_dev), int(versions or 0), int(last_pk or 0))
    key = (exclude_device or "", venue_type or "", *fleet_key)
    cached = PRIORS.get(key)
    if cached is None:
        sales = FLEET.get(fleet_key)
        if sales is None:
            last_day = db.session.scalar(
                select(func.max(SalesWeekly.last_day))
                .join(Device, Device.id == SalesWeekly.device_pk)
                .where(Device.is_demo == demo)
            )
            if last_day is None:
                return Priors()
            sales = _fleet_sales(last_day, demo)
            FLEET.put(fleet_key, sales)
        cached = sales.priors(exclude_device, venue_type)
        PRIORS.put(key, cached)
    return cached


def _stocked_days(
    start: datetime, end: datetime, demo: bool
) -> tuple[dict[tuple[str, str], float], set[tuple[str, str]]]:
    """Days each (device, sku) held a slot within [start, end], from the saved planogram versions (one scan),
    and the (device, sku) pairs added after the device's first version (trials of unstocked products).

    As in `_history`: non-draft versions in version order, the first one in effect from the beginning.
    """
    rows = db.session.execute(
        select(Device.device_id, PlanogramVersion.version_number, PlanogramVersion.created_at, Product.sku)
        .join(PlanogramVersion, PlanogramVersion.device_pk == Device.id)
        .outerjoin(PlanogramItem, PlanogramItem.version_id == PlanogramVersion.id)
        .outerjoin(Product, Product.id == PlanogramItem.product_id)
        .where(PlanogramVersion.status != "draft", Device.is_demo == demo)
    ).all()
    versions: dict[str, dict[int, tuple[datetime, set[str]]]] = {}
    for device_id, number, created, sku in rows:
        entry = versions.setdefault(device_id, {}).setdefault(int(number), (created, set()))
        if sku is not None:
            entry[1].add(sku)
    out: dict[tuple[str, str], float] = {}
    added: set[tuple[str, str]] = set()
    for device_id, by_number in versions.items():
        ordered = [by_number[n] for n in sorted(by_number)]
        added.update((device_id, sku) for _, skus in ordered[1:] for sku in skus - ordered[0][1])
        for i, (created, skus) in enumerate(ordered):
            lo = start if i == 0 else max(start, _aware(created))
            hi = end if i + 1 == len(ordered) else min(end, _aware(ordered[i + 1][0]))
            span = (hi - lo).total_seconds() / SECONDS_PER_DAY
            if span > 0:
                for sku in skus:
                    out[(device_id, sku)] = out.get((device_id, sku), 0.0) + span
    return out, added


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fleet_sales(last_day: date, demo: bool) -> FleetSales:
    """One grouped scan of the window's weekly counts (`sales_weekly`, kept by each import) and one of the
    planogram versions, over the devices on one side of the demo/real divide. The window runs from the
    Monday of the week HISTORY_DAYS before the last day with a vend to the end of that day (whole weeks, so
    the counts cover exactly the window; no week holds a vend after its end)."""
    until = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC)
    first_day = (until - timedelta(days=HISTORY_DAYS)).date()
    first_week = first_day - timedelta(days=first_day.weekday())  # its Monday
    start = datetime.combine(first_week, datetime.min.time(), UTC)
    window = max((until - start).days, 1)
    rows = db.session.execute(
        select(Product.sku, Device.device_id, func.sum(SalesWeekly.units))
        .join(Product, Product.id == SalesWeekly.product_id)
        .join(Device, Device.id == SalesWeekly.device_pk)
        .where(SalesWeekly.week >= first_week, Device.is_demo == demo)
        .group_by(Product.sku, Device.device_id)
    ).all()
    category: dict[str, str] = {r[0]: r[1] for r in db.session.execute(select(Product.sku, Product.category))}
    venue: dict[str, str] = {r[0]: r[1] for r in db.session.execute(select(Device.device_id, Device.venue_type))}
    sold = {(device_id, sku): int(n) for sku, device_id, n in rows}
    stocked, added = _stocked_days(start, until, demo)
    stock_rows = []
    for dev_sku in sorted(set(sold) | set(stocked)):
        device_id, sku = dev_sku
        days = stocked.get(dev_sku)
        if days is None:  # sold but never in a saved planogram here: assume the whole window (as before)
            days = float(window)
        units = float(sold.get(dev_sku, 0))
        stock_rows.append(StockRow(device_id, venue.get(device_id, ""), sku, units, days, dev_sku in added))
    return FleetSales(window, FleetRates.from_rows(stock_rows, category))


MODEL_TTL_S = 7 * SECONDS_PER_DAY
MODEL_FORMAT = 3  # in the shared key: bump when DemandModel's fields or fit change (models are pickled)


def fit_priors(data: DeviceData) -> Priors:
    """The fleet priors a device's model is fitted with (its own sales left out, same demo side)."""
    return fleet_priors(exclude_device=data.device_id, venue_type=data.venue_type, demo=data.is_demo)


def model_for(data: DeviceData) -> DemandModel:
    """The fitted demand/position model of this data version: this process's cache, then Redis (shared by
    every worker and work horse), else fitted now and kept in both."""
    model = MODELS.get(data.version_key)
    if model is None:
        model = _shared_model(data.version_key)
        if model is None:
            model = fit_model(
                data.cabinet,
                data.products,
                data.sales,
                data.planogram,
                priors=fit_priors(data),
                history=data.history or None,
            )
            _share_model(data.version_key, model)
        MODELS.put(data.version_key, model)
    return model


def model_ready(key: VersionKey) -> bool:
    """Whether the model of this data version is fitted already (in this process or in Redis)."""
    if MODELS.get(key) is not None:
        return True
    client = _redis()
    try:
        return client is not None and bool(client.exists(_model_key(key)))
    except redis.RedisError:
        return False


def _model_key(key: VersionKey) -> str:
    return f"pgw:model:v{MODEL_FORMAT}:" + ":".join(str(part) for part in key)


def _redis() -> redis.Redis | None:
    return backends().redis if has_app_context() else None


def _shared_model(key: VersionKey) -> DemandModel | None:
    client = _redis()
    if client is None:
        return None
    try:
        raw = client.get(_model_key(key))
    except redis.RedisError:  # Redis down: fit here (the cache is an optimisation, never a dependency)
        return None
    return pickle.loads(raw) if raw else None  # type: ignore[arg-type]  # noqa: S301 (our Redis)


def _share_model(key: VersionKey, model: DemandModel) -> None:
    client = _redis()
    if client is None:
        return
    try:
        client.set(_model_key(key), pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), ex=MODEL_TTL_S)
    except redis.RedisError:
        log.warning("fitted model not shared: Redis unavailable", extra={"device_id": key[0]})
