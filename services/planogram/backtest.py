"""How far to trust a device's numbers: fit before a cut-off, predict the held-out days, compare with what sold.

Built on the engine's public pieces: `backtest_forecast` (forecast WAPE vs seasonal-naive), `fit_model` and
`predict_revenue` (revenue per day and its intervals, the figures the editor shows).  Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.planogram.fit import fit_model
from services.planogram.forecast import TREND_DAMPING, Backtest, backtest_forecast
from services.planogram.model import DemandModel
from services.planogram.occupancy import epoch_days
from services.planogram.revenue import RevenuePrediction, predict_revenue
from services.planogram.types import Cabinet, Catalog, FloatArray, Planogram, Priors, SalesData, diff_planograms

History = tuple[tuple[int, Planogram], ...]
GOOD_BIAS_PCT = 10.0  # |revenue bias| up to this (and honest intervals, a forecast that beats naive): "good"
FAIR_BIAS_PCT = 20.0
COVERAGE_SLACK = 0.15  # day coverage this far under the nominal level still counts as honest (14 days are few)


@dataclass(frozen=True, slots=True)
class BacktestData:
    """One device: cabinet, catalogue, vends, current planogram, dated history [(epoch day from, planogram)]."""

    cabinet: Cabinet
    products: Catalog
    sales: SalesData
    planogram: Planogram
    history: History = ()
    priors: Priors | None = None


@dataclass(frozen=True, slots=True)
class BacktestSettings:
    """holdout_days: days held out at the end; level: nominal level of the predicted intervals;
    change_window_days: at most this many days compared on each side of a planogram change;
    last_fill_day: the last refill on or before the cut-off (None: assume the machine was refilled at the
    cut-off, then every service interval)."""

    holdout_days: int = 14
    level: float = 0.9
    change_window_days: int = 14
    min_train_days: int = 14
    max_changes: int = 10
    last_fill_day: int | None = None


@dataclass(frozen=True, slots=True)
class DayCheck:
    """One held-out day: what sold, what the model predicted and its day-level interval."""

    day: int
    actual_revenue: float
    predicted_revenue: float
    low: float
    high: float
    inside: bool


@dataclass(frozen=True, slots=True)
class ChangeCheck:
    """A past planogram change: the uplift the model predicted (fitted on the data before it) next to what
    followed (per-day takings over `window_days` after vs as many days before)."""

    day: int
    history_index: int
    slots_changed: int
    window_days: int
    predicted_revenue_uplift_per_day: float
    predicted_revenue_uplift_pct: float | None
    predicted_revenue_uplift_interval: tuple[float, float]
    predicted_margin_uplift_per_day: float
    predicted_margin_uplift_pct: float | None
    revenue_before_per_day: float
    revenue_after_per_day: float
    margin_before_per_day: float
    margin_after_per_day: float
    realised_revenue_uplift_per_day: float
    realised_revenue_uplift_pct: float | None
    realised_margin_uplift_per_day: float
    realised_margin_uplift_pct: float | None
    same_direction: bool


@dataclass(frozen=True, slots=True)
class DeviceBacktest:
    """Per-device backtest.  status "ok" or "insufficient_data" (then the figures are None and `verdict`
    says why).  revenue_bias_pct = (predicted - actual) / actual over the held-out days; coverage = share of
    held-out days whose takings fell inside the predicted day interval of nominal level `level`."""

    device_id: str
    status: str
    holdout_days: int
    first_day: int | None
    last_day: int | None
    cutoff_day: int | None
    train_days: int
    level: float
    forecast: Backtest | None
    wape_ratio: float | None
    revenue_actual: float | None
    revenue_predicted: float | None
    revenue_bias_pct: float | None
    coverage: float | None
    days_inside: int
    days: tuple[DayCheck, ...]
    changes: tuple[ChangeCheck, ...]
    changes_without_enough_data: int
    planogram_changed_in_holdout: bool
    trust: str
    verdict: str


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """Fleet-level figures over the devices whose backtest ran."""

    devices: int
    devices_ok: int
    median_abs_bias_pct: float | None
    within_10pct: int
    mean_coverage: float | None
    mean_wape_model: float | None
    mean_wape_naive: float | None
    changes: int
    changes_same_direction: int


def plan_on(data: BacktestData, day: int) -> Planogram:
    """The planogram in effect on an epoch day (the first history entry holds from the beginning)."""
    hist = sorted(data.history, key=lambda h: h[0])
    if not hist:
        return data.planogram
    current = hist[0][1]
    for start, plan in hist[1:]:
        if start > day:
            break
        current = plan
    return current


def daily_takings(sales: SalesData, products: Catalog, day_from: int, n_days: int) -> tuple[FloatArray, FloatArray]:
    """(revenue, margin) per day over [day_from, day_from + n_days): sale prices minus catalogue unit costs."""
    if n_days <= 0:
        return np.zeros(0), np.zeros(0)
    d = epoch_days(sales) - day_from
    keep = (d >= 0) & (d < n_days)
    cost = np.array([products[k].unit_cost if k in products else 0.0 for k in sales.skus] or [0.0])
    margin = sales.price - cost[sales.sku] if sales.n else np.zeros(0)
    rev = np.bincount(d[keep], weights=sales.price[keep], minlength=n_days).astype(np.float64)
    mar = np.bincount(d[keep], weights=margin[keep], minlength=n_days).astype(np.float64)
    return rev, mar


def fit_before(data: BacktestData, day: int, planogram: Planogram) -> DemandModel:
    """The device's model as it would have been fitted with the data before epoch day `day`."""
    d = epoch_days(data.sales)
    history = tuple(h for h in data.history if h[0] < day)
    return fit_model(
        data.cabinet,
        data.products,
        data.sales.select(d < day),
        planogram,
        priors=data.priors,
        history=history or None,
        end_day=day - 1,
        with_affinity=False,
    )


def day_interval(pred: RevenuePrediction, factor: float) -> tuple[float, float, float]:
    """(mid, low, high) of one day's takings on a day whose demand is `factor` x an average day.

    predict_revenue's revenue_interval holds parameter uncertainty (scales with factor^2 in variance) and its
    revenue_day_interval adds Poisson noise (scales with factor); both half-widths already carry the z of the
    level, so the day's half-width is sqrt(f^2 h1^2 + f (h2^2 - h1^2))."""
    mid = pred.revenue_per_day
    h1 = (pred.revenue_interval[1] - pred.revenue_interval[0]) / 2.0
    h2 = (pred.revenue_day_interval[1] - pred.revenue_day_interval[0]) / 2.0
    half = math.sqrt(max(factor * factor * h1 * h1 + factor * max(h2 * h2 - h1 * h1, 0.0), 0.0))
    return factor * mid, factor * mid - half, factor * mid + half


def day_checks(model: DemandModel, data: BacktestData, start: int, n_days: int, level: float) -> tuple[DayCheck, ...]:
    """Predicted vs actual takings on each held-out day, with the planogram in effect that day."""
    actual, _ = daily_takings(data.sales, data.products, start, n_days)
    preds: dict[Planogram, RevenuePrediction] = {}
    out: list[DayCheck] = []
    for i in range(n_days):
        plan = plan_on(data, start + i)
        if plan not in preds:
            preds[plan] = predict_revenue(model, data.cabinet, data.products, plan, level=level)
        mid, low, high = day_interval(preds[plan], model.day_factor(start + i, TREND_DAMPING))
        a = float(actual[i])
        out.append(DayCheck(start + i, a, mid, low, high, low <= a <= high))
    return tuple(out)


def _pct(delta: float, base: float) -> float | None:
    return 100.0 * delta / base if base > 0 else None


def _window(data: BacktestData, index: int, first: int, last: int, max_days: int) -> int:
    """Whole weeks (same weekday mix each side) of data before and after change `index`, at most max_days."""
    hist = sorted(data.history, key=lambda h: h[0])
    day = hist[index][0]
    prev = max(hist[index - 1][0], first) if index > 1 else first
    nxt = hist[index + 1][0] if index + 1 < len(hist) else last + 1
    n = min(max_days, day - prev, min(nxt, last + 1) - day)
    return 7 * (n // 7)


def change_check(data: BacktestData, index: int, window: int, level: float) -> ChangeCheck:
    """Predicted (fitted before the change) vs realised per-day uplift of history entry `index`."""
    hist = sorted(data.history, key=lambda h: h[0])
    day, new = hist[index]
    old = hist[index - 1][1]
    pred = predict_revenue(fit_before(data, day, old), data.cabinet, data.products, new, old, level=level)
    rev, mar = daily_takings(data.sales, data.products, day - window, 2 * window)
    rb, ra = float(rev[:window].mean()), float(rev[window:].mean())
    mb, ma = float(mar[:window].mean()), float(mar[window:].mean())
    return ChangeCheck(
        day,
        index,
        len(diff_planograms(old, new)),
        window,
        pred.delta_revenue_per_day,
        _pct(pred.delta_revenue_per_day, pred.current_revenue_per_day),
        pred.delta_revenue_interval,
        pred.delta_margin_per_day,
        _pct(pred.delta_margin_per_day, pred.current_margin_per_day),
        rb,
        ra,
        mb,
        ma,
        ra - rb,
        _pct(ra - rb, rb),
        ma - mb,
        _pct(ma - mb, mb),
        (pred.delta_revenue_per_day >= 0) == (ra - rb >= 0),
    )


def change_checks(
    data: BacktestData, first: int, last: int, settings: BacktestSettings
) -> tuple[tuple[ChangeCheck, ...], int]:
    """Checks of the most recent planogram changes that have a whole week of data on both sides; and how
    many changes lacked that."""
    hist = sorted(data.history, key=lambda h: h[0])
    real = [i for i in range(1, len(hist)) if diff_planograms(hist[i - 1][1], hist[i][1])]
    out: list[ChangeCheck] = []
    skipped = 0
    for i in reversed(real):
        window = _window(data, i, first, last, settings.change_window_days)
        if window < 7 or hist[i][0] <= first:
            skipped += 1
        elif len(out) < settings.max_changes:
            out.append(change_check(data, i, window, settings.level))
    return tuple(sorted(out, key=lambda c: c.day)), skipped


def trust_of(bias: float, coverage: float, level: float, wape_ratio: float | None) -> str:
    """good | fair | poor: how far the numbers held on the held-out days."""
    honest = coverage >= level - COVERAGE_SLACK
    beats_naive = wape_ratio is None or wape_ratio < 1.0
    if abs(bias) <= GOOD_BIAS_PCT and honest and beats_naive:
        return "good"
    return "fair" if abs(bias) <= FAIR_BIAS_PCT else "poor"


def verdict_of(bias: float, checks: Sequence[DayCheck], level: float, wape_ratio: float | None) -> str:
    """One plain sentence on the held-out days."""
    n = len(checks)
    inside = sum(c.inside for c in checks)
    side = "above" if bias > 0 else "below"
    bound = max(math.ceil(abs(bias)), 1)
    text = f"Revenue predictions within ±{bound} % over the last {n} days ({abs(bias):.1f} % {side} actual)"
    text += f"; {inside} of {n} days inside the {level * 100:.0f} % day range"
    if wape_ratio is not None:
        better = "better" if wape_ratio < 1.0 else "no better"
        text += f"; product-level forecast {better} than same-weekday-last-week ({wape_ratio:.2f}x its error)"
    return text + "."


def _insufficient(
    data: BacktestData, s: BacktestSettings, first: int | None, last: int | None, why: str
) -> DeviceBacktest:
    changes: tuple[ChangeCheck, ...] = ()
    skipped = 0
    if first is not None and last is not None:
        changes, skipped = change_checks(data, first, last, s)
    return DeviceBacktest(
        device_id=data.cabinet.device_id,
        status="insufficient_data",
        holdout_days=s.holdout_days,
        first_day=first,
        last_day=last,
        cutoff_day=None,
        train_days=0,
        level=s.level,
        forecast=None,
        wape_ratio=None,
        revenue_actual=None,
        revenue_predicted=None,
        revenue_bias_pct=None,
        coverage=None,
        days_inside=0,
        days=(),
        changes=changes,
        changes_without_enough_data=skipped,
        planogram_changed_in_holdout=False,
        trust="unknown",
        verdict=why,
    )


def _held_out(data: BacktestData, s: BacktestSettings, cutoff: int) -> tuple[Backtest, tuple[DayCheck, ...]]:
    """The forecast WAPE (engine backtest) and the day checks of the model fitted up to the cut-off."""
    plan = plan_on(data, cutoff)
    fill = s.last_fill_day if s.last_fill_day is not None else cutoff
    fc = backtest_forecast(
        data.cabinet,
        data.products,
        data.sales,
        plan,
        holdout_days=s.holdout_days,
        last_fill_day=fill,
        priors=data.priors,
    )
    checks = day_checks(fit_before(data, cutoff + 1, plan), data, cutoff + 1, s.holdout_days, s.level)
    return fc, checks


def backtest_device(data: BacktestData, settings: BacktestSettings | None = None) -> DeviceBacktest:
    """Fit on the data up to (last day - holdout), predict the held-out days and the past changes, compare."""
    s = settings or BacktestSettings()
    if s.holdout_days < 1 or not 0.5 < s.level < 1.0:
        raise ValueError("holdout_days must be >= 1 and level in (0.5, 1)")
    if data.sales.n == 0:
        return _insufficient(data, s, None, None, "No sales yet: nothing to check the predictions against.")
    days = epoch_days(data.sales)
    first, last = int(days.min()), int(days.max())
    cutoff = last - s.holdout_days
    if cutoff - first + 1 < s.min_train_days:
        why = (
            f"Only {last - first + 1} days of sales: a {s.holdout_days}-day backtest needs at least "
            f"{s.holdout_days + s.min_train_days}."
        )
        return _insufficient(data, s, first, last, why)
    fc, checks = _held_out(data, s, cutoff)
    actual = sum(c.actual_revenue for c in checks)
    predicted = sum(c.predicted_revenue for c in checks)
    bias = _pct(predicted - actual, actual)
    ratio = fc.wape_model / fc.wape_naive if fc.wape_naive > 0 else None
    inside = sum(c.inside for c in checks)
    changes, skipped = change_checks(data, first, last, s)
    starts = [d for d, _ in sorted(data.history, key=lambda h: h[0])[1:]]
    return DeviceBacktest(
        device_id=data.cabinet.device_id,
        status="ok",
        holdout_days=s.holdout_days,
        first_day=first,
        last_day=last,
        cutoff_day=cutoff,
        train_days=cutoff - first + 1,
        level=s.level,
        forecast=fc,
        wape_ratio=ratio,
        revenue_actual=actual,
        revenue_predicted=predicted,
        revenue_bias_pct=bias,
        coverage=inside / len(checks),
        days_inside=inside,
        days=checks,
        changes=changes,
        changes_without_enough_data=skipped,
        planogram_changed_in_holdout=any(cutoff < d <= last for d in starts),
        trust=trust_of(bias, inside / len(checks), s.level, ratio) if bias is not None else "unknown",
        verdict=verdict_of(bias, checks, s.level, ratio) if bias is not None else "No takings in the held-out days.",
    )


def summarize(results: Sequence[DeviceBacktest]) -> FleetSummary:
    """Fleet figures: median |bias|, devices within ±10 %, mean coverage and WAPEs, changes in the right direction."""
    ok = [r for r in results if r.status == "ok" and r.revenue_bias_pct is not None]
    biases = [abs(r.revenue_bias_pct) for r in ok if r.revenue_bias_pct is not None]
    covs = [r.coverage for r in ok if r.coverage is not None]
    fcs = [r.forecast for r in ok if r.forecast is not None]
    changes = [c for r in results for c in r.changes]
    return FleetSummary(
        len(results),
        len(ok),
        float(np.median(biases)) if biases else None,
        sum(b <= GOOD_BIAS_PCT for b in biases),
        float(np.mean(covs)) if covs else None,
        float(np.mean([f.wape_model for f in fcs])) if fcs else None,
        float(np.mean([f.wape_naive for f in fcs])) if fcs else None,
        len(changes),
        sum(c.same_direction for c in changes),
    )
