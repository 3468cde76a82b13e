"""Fixtures for the planogram engine tests: generated devices with known truth and hand-built models."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from services.planogram.fit import fit_model
from services.planogram.model import DemandModel
from services.planogram.synthetic import (
    Truth,
    generate_device_sales,
    make_cabinet,
    make_catalog,
    random_planogram,
)
from services.planogram.types import Cabinet, Planogram, ProductSpec, SalesData


@dataclass(frozen=True)
class Device:
    cabinet: Cabinet
    products: dict[str, ProductSpec]
    plans: list[tuple[int, Planogram]]
    sales: SalesData
    truth: Truth
    model: DemandModel

    @property
    def current(self) -> Planogram:
        return self.plans[-1][1]


@pytest.fixture(scope="session")
def device() -> Device:
    """6x10 combo cabinet, 80 products, planogram reshuffled every 30 days (positions identifiable)."""
    rng = np.random.default_rng(7)
    cab = make_cabinet("DEV1", 6, 10)
    prods = make_catalog(80, rng)
    plans = [(d, random_planogram(cab, prods, rng)) for d in (0, 30, 60)]
    sales, truth = generate_device_sales(cab, prods, plans, 90, rng)
    cat = {p.sku: p for p in prods}
    return Device(cab, cat, plans, sales, truth, fit_model(cab, cat, sales, plans[-1][1]))


def build_model(
    cabinet: Cabinet,
    base: Mapping[str, float],
    weights: Sequence[float] | None = None,
    *,
    lifts: Mapping[tuple[str, str], float] | None = None,
    eps: float = 0.17,
) -> DemandModel:
    """A DemandModel with given truth (no fitting): for optimiser/rule tests."""
    skus = tuple(base)
    n_s = len(cabinet.slots)
    w = np.asarray(weights if weights is not None else np.ones(n_s), dtype=np.float64)
    return DemandModel.build(
        device_id=cabinet.device_id,
        venue_type=cabinet.venue_type,
        slot_codes=cabinet.slot_codes(),
        skus=skus,
        sku_index={k: i for i, k in enumerate(skus)},
        slot_index=cabinet.index(),
        base=np.array([base[k] for k in skus]),
        base_log_se=np.full(len(skus), 0.1),
        observed=np.ones(len(skus), dtype=bool),
        pos_weight=w,
        pos_log_se=np.full(n_s, 0.05),
        row_log=np.zeros(cabinet.rows),
        col_log=np.zeros(cabinet.cols),
        dow=np.ones(7),
        trend_per_day=0.0,
        trend_se=0.0,
        space_elasticity=eps,
        service_interval_days=cabinet.service_interval_days,
        start_day=0,
        end_day=89,
        n_obs=0,
        censored_slot_days=0,
        censored_by_slot=np.zeros(n_s),
        obs_by_slot=np.zeros(n_s),
        pair_lift=dict(lifts or {}),
    )


@pytest.fixture
def model_factory() -> Callable[..., DemandModel]:
    """Expose build_model as a fixture."""
    return build_model
