"""Deterministic planogram engine: demand/position model, rules, scoring, optimiser and analyses (pure)."""

from services.planogram.affinity import AffinityPair, AffinityResult, affinity, basket_ids
from services.planogram.anomalies import Anomaly, detect_anomalies
from services.planogram.backtest import (
    BacktestData,
    BacktestSettings,
    ChangeCheck,
    DayCheck,
    DeviceBacktest,
    FleetSummary,
    backtest_device,
    summarize,
)
from services.planogram.batch import BatchItem, DeviceJob, batch_optimize
from services.planogram.fit import fit_model
from services.planogram.forecast import (
    Backtest,
    Forecast,
    RestockItem,
    SkuForecast,
    backtest_forecast,
    demand_forecast,
)
from services.planogram.heatzones import HeatZones, heat_zones
from services.planogram.model import DemandModel
from services.planogram.optimize import OptimizationResult, OptimizationStep, optimize, optimize_steps
from services.planogram.personalize import (
    PeerRates,
    Personalization,
    PersonalizeChange,
    location_personalize,
    peer_rates,
)
from services.planogram.revenue import RevenuePrediction, SlotForecast, predict_revenue
from services.planogram.rules import validate
from services.planogram.scoring import PlacementScore, Reason, score_placement
from services.planogram.types import (
    DEFAULT_MAX_NEW_SKUS,
    Cabinet,
    Constraints,
    InfeasibleError,
    Move,
    Planogram,
    Priors,
    ProductSpec,
    SalesData,
    SlotSpec,
    Violation,
    catalog,
    diff_planograms,
    parse_slot_code,
    slot_code,
)
from services.planogram.value import PlanogramValue, SkuOutcome, ValueParams, evaluate

__all__ = [
    "DEFAULT_MAX_NEW_SKUS",
    "AffinityPair",
    "AffinityResult",
    "Anomaly",
    "Backtest",
    "BacktestData",
    "BacktestSettings",
    "BatchItem",
    "Cabinet",
    "ChangeCheck",
    "Constraints",
    "DayCheck",
    "DemandModel",
    "DeviceBacktest",
    "DeviceJob",
    "FleetSummary",
    "Forecast",
    "HeatZones",
    "InfeasibleError",
    "Move",
    "OptimizationResult",
    "OptimizationStep",
    "PeerRates",
    "Personalization",
    "PersonalizeChange",
    "PlacementScore",
    "Planogram",
    "PlanogramValue",
    "Priors",
    "ProductSpec",
    "Reason",
    "RestockItem",
    "RevenuePrediction",
    "SalesData",
    "SkuForecast",
    "SkuOutcome",
    "SlotForecast",
    "SlotSpec",
    "ValueParams",
    "Violation",
    "affinity",
    "backtest_device",
    "backtest_forecast",
    "basket_ids",
    "batch_optimize",
    "catalog",
    "demand_forecast",
    "detect_anomalies",
    "diff_planograms",
    "evaluate",
    "fit_model",
    "heat_zones",
    "location_personalize",
    "optimize",
    "optimize_steps",
    "parse_slot_code",
    "peer_rates",
    "predict_revenue",
    "score_placement",
    "slot_code",
    "summarize",
    "validate",
]
