"""Backtest of the planogram numbers per device: load the data, run the engine's backtest, shape the figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from extensions import db
from models import Device, PlanogramVersion
from services.merchandising.analysis import to_json
from services.merchandising.data import _LRU, DeviceData, fit_priors, load_device
from services.planogram import (
    BacktestData,
    BacktestSettings,
    ChangeCheck,
    DeviceBacktest,
    FleetSummary,
    backtest_device,
    summarize,
)

LEVEL = 0.9  # the level of predict-revenue's default interval, the one the editor shows
RESULTS: _LRU[DeviceBacktest] = _LRU(64)
EPOCH = date(1970, 1, 1)


def iso(day: int | None) -> str | None:
    """An epoch day as an ISO date."""
    return None if day is None else (EPOCH + timedelta(days=day)).isoformat()


def _rounded(value: Any) -> dict[str, Any]:
    """JSON values (NaN -> null, 6 decimals) of a mapping or dataclass."""
    out: dict[str, Any] = to_json(value)
    return out


def _version_numbers(device_id: str) -> list[int]:
    """Version numbers of the saved (non-draft) planograms in history order (as `data._history`)."""
    return list(
        db.session.scalars(
            select(PlanogramVersion.version_number)
            .join(Device, Device.id == PlanogramVersion.device_pk)
            .where(Device.device_id == device_id, PlanogramVersion.status != "draft")
            .order_by(PlanogramVersion.version_number)
        )
    )


def device_ids() -> list[str]:
    """Every device id, in order."""
    return list(db.session.scalars(select(Device.device_id).order_by(Device.device_id)))


def run_device(data: DeviceData, holdout_days: int) -> DeviceBacktest:
    """The engine backtest of one device's data (cached per data version and holdout)."""
    key = (*data.version_key, holdout_days)
    cached = RESULTS.get(key)
    if cached is None:
        engine_data = BacktestData(
            data.cabinet,
            data.products,
            data.sales,
            data.planogram,
            data.history,
            fit_priors(data),  # same demo/real side as the model the device is served with
        )
        cached = backtest_device(engine_data, BacktestSettings(holdout_days=holdout_days, level=LEVEL))
        RESULTS.put(key, cached)
    return cached


def _change_json(check: ChangeCheck, versions: Sequence[int]) -> dict[str, Any]:
    """One past planogram change: predicted next to realised, per day and in %."""
    return _rounded(
        {
            "version": versions[check.history_index] if check.history_index < len(versions) else None,
            "date": iso(check.day),
            "slots_changed": check.slots_changed,
            "window_days": check.window_days,
            "predicted": {
                "revenue_per_day": check.predicted_revenue_uplift_per_day,
                "revenue_pct": check.predicted_revenue_uplift_pct,
                "revenue_interval": check.predicted_revenue_uplift_interval,
                "margin_per_day": check.predicted_margin_uplift_per_day,
                "margin_pct": check.predicted_margin_uplift_pct,
            },
            "realised": {
                "revenue_before_per_day": check.revenue_before_per_day,
                "revenue_after_per_day": check.revenue_after_per_day,
                "revenue_per_day": check.realised_revenue_uplift_per_day,
                "revenue_pct": check.realised_revenue_uplift_pct,
                "margin_before_per_day": check.margin_before_per_day,
                "margin_after_per_day": check.margin_after_per_day,
                "margin_per_day": check.realised_margin_uplift_per_day,
                "margin_pct": check.realised_margin_uplift_pct,
            },
            "same_direction": check.same_direction,
        }
    )


def device_json(result: DeviceBacktest, versions: Sequence[int]) -> dict[str, Any]:
    """The figures of one device as the API and the editor panel show them."""
    fc = result.forecast
    return _rounded(
        {
            "device_id": result.device_id,
            "status": result.status,
            "trust": result.trust,
            "verdict": result.verdict,
            "holdout_days": result.holdout_days,
            "first_day": iso(result.first_day),
            "last_day": iso(result.last_day),
            "cutoff_day": iso(result.cutoff_day),
            "train_days": result.train_days,
            "forecast": None
            if fc is None
            else {
                "wape_model": fc.wape_model,
                "wape_naive": fc.wape_naive,
                "wape_ratio": result.wape_ratio,
                "wape_model_daily_total": fc.wape_model_daily_total,
                "wape_naive_daily_total": fc.wape_naive_daily_total,
                "actual_units": fc.actual_units,
            },
            "revenue": {
                "actual": result.revenue_actual,
                "predicted": result.revenue_predicted,
                "bias_pct": result.revenue_bias_pct,
            },
            "coverage": {
                "level": result.level,
                "interval": "day",
                "share": result.coverage,
                "days_inside": result.days_inside,
                "days": len(result.days),
            },
            "days": [
                {
                    "date": iso(d.day),
                    "actual_revenue": d.actual_revenue,
                    "predicted_revenue": d.predicted_revenue,
                    "low": d.low,
                    "high": d.high,
                    "inside": d.inside,
                }
                for d in result.days
            ],
            "changes": [_change_json(c, versions) for c in result.changes],
            "changes_without_enough_data": result.changes_without_enough_data,
            "planogram_changed_in_holdout": result.planogram_changed_in_holdout,
        }
    )


def summary_json(summary: FleetSummary) -> dict[str, Any]:
    """Fleet figures over the devices whose backtest ran."""
    return _rounded(summary)


def backtest(device_id: str | None, holdout_days: int) -> dict[str, Any]:
    """Backtest one device (NotFound when unknown) or every device, with a fleet summary."""
    ids = [device_id] if device_id is not None else device_ids()
    results = [run_device(load_device(i), holdout_days) for i in ids]  # load_device: NotFound when unknown
    return {
        "holdout_days": holdout_days,
        "level": LEVEL,
        "devices": [device_json(r, _version_numbers(r.device_id)) for r in results],
        "summary": summary_json(summarize(results)),
    }
