"""Demand forecast per sku, days to stockout, restock list, and a backtest against seasonal-naive."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.planogram.fit import fit_model
from services.planogram.model import DemandModel
from services.planogram.occupancy import epoch_days
from services.planogram.types import Cabinet, Catalog, FloatArray, Planogram, Priors, SalesData
from services.planogram.value import slot_capacities

TREND_DAMPING = 0.5  # extrapolate half the fitted trend: trends rarely persist at full strength


@dataclass(frozen=True, slots=True)
class SkuForecast:
    """Expected units per day (demand) and expected sales given stock, for one sku."""

    sku: str
    slots: tuple[str, ...]
    demand: tuple[float, ...]
    expected_sales: tuple[float, ...]
    capacity: int
    stock_now: float
    days_to_stockout: float | None


@dataclass(frozen=True, slots=True)
class RestockItem:
    """Units to load at the next visit; urgent when the sku empties before that visit."""

    sku: str
    slots: tuple[str, ...]
    units: int
    days_to_stockout: float | None
    urgent: bool


@dataclass(frozen=True, slots=True)
class Forecast:
    """Forecast over epoch days `days` (the day after the model window onwards unless told)."""

    days: tuple[int, ...]
    next_service_day: int | None
    per_sku: tuple[SkuForecast, ...]
    restock: tuple[RestockItem, ...]


def _sold_since(sales: SalesData | None, sku: str, day_from: int, day_to: int) -> float:
    if sales is None or sales.n == 0 or sku not in sales.skus:
        return 0.0
    d = epoch_days(sales)
    k = sales.skus.index(sku)
    return float(((sales.sku == k) & (d >= day_from) & (d <= day_to)).sum())


def demand_forecast(
    model: DemandModel,
    cabinet: Cabinet,
    planogram: Planogram,
    *,
    horizon_days: int = 14,
    start_day: int | None = None,
    sales: SalesData | None = None,
    last_fill_day: int | None = None,
) -> Forecast:
    """Daily demand = base x visibility x weekday x damped trend; stock starts full at last_fill_day
    (minus vends since then) and refills every service interval; without last_fill_day stock is
    assumed full at start_day and no refills are simulated."""
    start = start_day if start_day is not None else model.end_day + 1
    days = tuple(range(start, start + horizon_days))
    factors = np.array([model.day_factor(d, TREND_DAMPING) for d in days])
    caps = slot_capacities(cabinet, planogram)
    interval = max(round(cabinet.service_interval_days), 1)
    fills: set[int] = set()
    next_service: int | None = None
    if last_fill_day is not None:
        fills = {d for d in days if d > last_fill_day and (d - last_fill_day) % interval == 0}
        next_service = last_fill_day + interval * max(1, math.ceil((start - last_fill_day) / interval))
    until = (next_service - start) if next_service is not None else interval
    per_sku: list[SkuForecast] = []
    restock: list[RestockItem] = []
    for sku, slots in sorted(planogram.facings().items()):
        modelled = tuple(sorted(s for s in slots if s in model.slot_index))
        if not modelled or not model.has_sku(sku):
            continue
        capacity = int(sum(caps[s] for s in modelled))
        stock = float(capacity)
        if last_fill_day is not None:
            stock = max(0.0, capacity - _sold_since(sales, sku, last_fill_day, start - 1))
        demand = model.demand(sku, modelled) * factors
        forecast = _run_stock(sku, modelled, capacity, stock, demand, days, fills)
        per_sku.append(forecast)
        item = _restock(forecast, demand, until)
        if item is not None:
            restock.append(item)
    restock.sort(key=lambda r: (r.days_to_stockout if r.days_to_stockout is not None else 1e9, r.sku))
    return Forecast(days, next_service, tuple(per_sku), tuple(restock))


def _run_stock(
    sku: str,
    slots: tuple[str, ...],
    capacity: int,
    stock: float,
    demand: FloatArray,
    days: tuple[int, ...],
    fills: set[int],
) -> SkuForecast:
    """Sell min(demand, stock) day by day, refilling on fill days; the first shortfall is the stockout."""
    stock_now = stock
    expected_sales: list[float] = []
    days_to_stockout: float | None = None
    for i, (day, wanted) in enumerate(zip(days, demand.tolist(), strict=True)):
        if day in fills:
            stock = float(capacity)
        sold = min(wanted, stock)
        if days_to_stockout is None and wanted > stock and day not in fills:
            days_to_stockout = i + (stock / wanted if wanted > 0 else 0.0)
        stock -= sold
        expected_sales.append(sold)
    return SkuForecast(sku, slots, tuple(demand.tolist()), tuple(expected_sales), capacity, stock_now, days_to_stockout)


def _restock(forecast: SkuForecast, demand: FloatArray, until: int) -> RestockItem | None:
    """Units to fill the coils at the next visit (`until` days ahead); None when nothing is missing."""
    before_visit = float(demand[: max(until, 0)].sum())
    remaining_at_visit = max(0.0, forecast.stock_now - before_visit)
    units = round(forecast.capacity - remaining_at_visit)
    if units <= 0:
        return None
    dts = forecast.days_to_stockout
    return RestockItem(forecast.sku, forecast.slots, units, dts, dts is not None and dts < until)


@dataclass(frozen=True, slots=True)
class Backtest:
    """WAPE of the model and of seasonal-naive (same weekday last week) on held-out sku-days, and on
    device-day totals."""

    holdout_days: int
    wape_model: float
    wape_naive: float
    wape_model_daily_total: float
    wape_naive_daily_total: float
    actual_units: float


def sku_daily(sales: SalesData, skus: Sequence[str], day_from: int, n_days: int) -> FloatArray:
    """(skus x days) vend counts."""
    out = np.zeros((len(skus), n_days))
    pos = {k: i for i, k in enumerate(skus)}
    d = epoch_days(sales) - day_from
    for k, dd in zip(sales.sku.tolist(), d.tolist(), strict=True):
        sku = sales.skus[k]
        if sku in pos and 0 <= dd < n_days:
            out[pos[sku], dd] += 1
    return out


def backtest_forecast(
    cabinet: Cabinet,
    products: Catalog,
    sales: SalesData,
    planogram: Planogram,
    *,
    holdout_days: int = 14,
    last_fill_day: int | None = None,
    priors: Priors | None = None,
) -> Backtest:
    """Fit on all but the last holdout_days, forecast expected sales, compare with seasonal-naive."""
    d = epoch_days(sales)
    last = int(d.max())
    train_end = last - holdout_days
    model = fit_model(
        cabinet,
        products,
        sales.select(d <= train_end),
        planogram,
        priors=priors,
        end_day=train_end,
        with_affinity=False,
    )
    fc = demand_forecast(
        model,
        cabinet,
        planogram,
        horizon_days=holdout_days,
        start_day=train_end + 1,
        sales=sales.select(d <= train_end),
        last_fill_day=last_fill_day,
    )
    skus = [f.sku for f in fc.per_sku]
    hist = sku_daily(sales, skus, train_end - 6, 7 + holdout_days)
    actual = hist[:, 7:]
    naive = np.tile(hist[:, :7], (1, math.ceil(holdout_days / 7)))[:, :holdout_days]
    pred = np.array([f.expected_sales for f in fc.per_sku]).reshape(len(skus), holdout_days)
    tot = float(actual.sum()) or 1.0

    def wape(a: FloatArray, p: FloatArray) -> float:
        return float(np.abs(a - p).sum() / tot)

    return Backtest(
        holdout_days,
        wape(actual, pred),
        wape(actual, naive),
        wape(actual.sum(axis=0), pred.sum(axis=0)),
        wape(actual.sum(axis=0), naive.sum(axis=0)),
        float(actual.sum()),
    )
