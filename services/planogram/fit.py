"""Fit a device's DemandModel: a MAP Poisson log-linear model on the censored slot x day panel."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from services.planogram.affinity import affinity
from services.planogram.censoring import detect_stockouts
from services.planogram.glm import fit_poisson_map
from services.planogram.layout import n_rows_cols, row_col
from services.planogram.model import DemandModel, facing_factor
from services.planogram.occupancy import Panel, build_panel
from services.planogram.types import Cabinet, Catalog, FloatArray, IntArray, Planogram, Priors, SalesData

BoolArray = npt.NDArray[np.bool_]

TREND_UNIT_DAYS = 30.0  # the trend coefficient is fitted per 30 days for conditioning
DEVICE_PRIOR_SD = 1.0  # prior sd (log scale) when only the device's own mean rate is known
DOW_SD = 0.5
TREND_SD = 0.15  # per 30 days
WELL_OBSERVED_SE = 0.3  # skus this certain locally check how well the fleet prior predicts this device
MIN_PRIOR_CHECKS = 5
POSITION_STAGE_SKU_SD = 1.0  # stage 1: sku rates loose (e^±1), so within-sku contrasts dominate position
IDENTIFIED_SKU_SD = 10.0  # sku rates free: only within-sku contrasts (and the position prior) place the rows
PLACEMENT_SHARE_VAR = 1.0 / 12.0  # variance of a share uniform on [0, 1]: how much of the placement-only part is real
MIN_DISPERSION_DAYS = 14  # fewer observed days than this: no dispersion estimate (Poisson assumed)


def _sku_priors(
    skus: Sequence[str], products: Catalog, priors: Priors, device_rate: float
) -> tuple[FloatArray, FloatArray]:
    """Prior log-rate mean and sd per sku: sku rate, else category rate, else fleet/device rate."""
    mean = np.empty(len(skus))
    sd = np.empty(len(skus))
    fallback = priors.fleet_rate if priors.fleet_rate else device_rate
    for i, sku in enumerate(skus):
        cat = products[sku].category if sku in products else None
        if sku in priors.sku_rate and priors.sku_rate[sku] > 0:
            mean[i], sd[i] = math.log(priors.sku_rate[sku]), priors.sku_sd
        elif cat is not None and priors.category_rate.get(cat, 0.0) > 0:
            mean[i], sd[i] = math.log(priors.category_rate[cat]), max(priors.sku_sd, 0.8)
        else:
            mean[i], sd[i] = math.log(max(fallback, 1e-3)), DEVICE_PRIOR_SD
    return mean, sd


def _facing_offsets(occ: IntArray, rows: IntArray, cols: IntArray, w: FloatArray, eps: float) -> FloatArray:
    """log(visibility / sum of weights) per slot-day: a sku's demand split over its facings by weight."""
    _n_slots, n_days = occ.shape
    ws = np.broadcast_to(w[:, None], occ.shape)
    valid = occ >= 0
    key = np.where(valid, occ * n_days + np.arange(n_days)[None, :], -1)
    uniq, inv = np.unique(key[valid], return_inverse=True)
    tot = np.bincount(inv, weights=ws[valid])
    mx = np.zeros(len(uniq))
    np.maximum.at(mx, inv, ws[valid])
    vis = mx * facing_factor(np.bincount(inv).astype(np.float64), eps)  # model.visibility, vectorised
    off = np.zeros(occ.shape)
    off[valid] = np.log(vis / tot)[inv]
    return off


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each effect sits in the parameter vector: [observed skus | rows | columns | weekdays | trend]."""

    n_skus: int
    n_rows: int
    n_cols: int

    @property
    def row(self) -> int:
        """First row effect."""
        return self.n_skus

    @property
    def col(self) -> int:
        """First column effect."""
        return self.n_skus + self.n_rows

    @property
    def dow(self) -> int:
        """First weekday effect."""
        return self.n_skus + self.n_rows + self.n_cols

    @property
    def trend(self) -> int:
        """The trend coefficient."""
        return self.n_skus + self.n_rows + self.n_cols + 7

    @property
    def size(self) -> int:
        """Length of the parameter vector."""
        return self.n_skus + self.n_rows + self.n_cols + 7 + 1


@dataclass(frozen=True, slots=True)
class _Observations:
    """The panel's slot-days that enter the fit (occupied and not censored), as parallel arrays."""

    weekday: IntArray  # (days,) weekday index of each panel day (0 = Monday)
    active: BoolArray  # (slots, days) a known sku held the slot
    censored: BoolArray  # (slots, days) changeover or probable stockout
    used: BoolArray  # (slots, days) active and not censored
    slot: IntArray  # (n,) slot of each observation
    day: IntArray  # (n,) panel day of each observation
    units: FloatArray  # (n,) units sold
    sku: IntArray  # (n,) universe sku index of the occupant


@dataclass(frozen=True, slots=True)
class _Effects:
    """Posterior mode and covariance of the parameter vector, and the covariance of the position effects."""

    layout: _Layout
    observed_skus: IntArray  # universe index of each sku column
    theta: FloatArray
    cov: FloatArray
    position_cov: FloatArray
    t_center: float
    dispersion: float = 1.0
    plan_theta: FloatArray | None = None  # the search's estimate when it differs from theta (two-stage fit)


def fit_model(
    cabinet: Cabinet,
    products: Catalog,
    sales: SalesData,
    planogram: Planogram | None = None,
    *,
    priors: Priors | None = None,
    history: Sequence[tuple[int, Planogram]] | None = None,
    end_day: int | None = None,
    max_days: int = 120,
    space_elasticity: float = 0.17,
    stockout_alpha: float = 0.01,
    censor_stockouts: bool = True,
    with_affinity: bool = True,
    position_from_within_sku: bool = True,
) -> DemandModel:
    """Fit base demand per sku, row/column position effects, weekday factors and a trend.

    log E[units of slot s on day d] = a_sku + r_row + c_col + dow_d + trend * t_d + offset_sd, with
    Gaussian priors (sku rates from `priors`, position/weekday effects toward fleet values or 0) and
    probable stockout days censored.  `history` is [(epoch_day_from, planogram)] if known.

    position_from_within_sku: fit the row/column effects first with nearly free sku rates (only skus
    seen in several slots inform them), then the sku rates with position fixed; see docs/ENGINE.md.
    """
    priors = priors or Priors()
    skus = tuple(dict.fromkeys([*products, *(k for k in sales.skus if k not in products)]))
    sku_index = {k: i for i, k in enumerate(skus)}
    panel = build_panel(cabinet, sku_index, sales, planogram, history, end_day, max_days)
    obs = _observations(cabinet, planogram, panel, stockout_alpha if censor_stockouts else None)
    device_rate = float(obs.units.mean()) if len(obs.units) else 0.5
    prior_mu, prior_sd = _sku_priors(skus, products, priors, device_rate)
    effects = _fit_effects(cabinet, panel, obs, prior_mu, prior_sd, priors, space_elasticity, position_from_within_sku)
    lifts: dict[tuple[str, str], float] = {}
    if with_affinity and sales.n:
        lifts = {(pair.sku_a, pair.sku_b): pair.lift for pair in affinity(sales).pairs}
    return DemandModel.build(
        device_id=cabinet.device_id,
        venue_type=cabinet.venue_type,
        slot_codes=cabinet.slot_codes(),
        skus=skus,
        sku_index=sku_index,
        slot_index=cabinet.index(),
        **_estimates(cabinet, panel, effects, prior_mu, prior_sd, priors.unstocked_factor),
        space_elasticity=space_elasticity,
        service_interval_days=cabinet.service_interval_days,
        **_data_facts(panel, obs),
        pair_lift=lifts,
    )


def _data_facts(panel: Panel, obs: _Observations) -> dict[str, object]:
    """The window and how much of it was observed or censored (DemandModel.build keywords)."""
    censored = obs.censored & obs.active
    return {
        "start_day": panel.start_day,
        "end_day": panel.start_day + panel.n_days - 1,
        "n_obs": len(obs.units),
        "censored_slot_days": int(censored.sum()),
        "censored_by_slot": censored.sum(axis=1).astype(np.float64),
        "obs_by_slot": obs.used.sum(axis=1).astype(np.float64),
    }


def _slot_capacities(cabinet: Cabinet, planogram: Planogram | None) -> FloatArray:
    """Units per slot: the cabinet's capacity, or the planogram's override."""
    caps = np.array([s.capacity for s in cabinet.slots], dtype=np.float64)
    if planogram is not None:
        slot_index = cabinet.index()
        for slot, capacity in planogram.capacities:
            if slot in slot_index:
                caps[slot_index[slot]] = capacity
    return caps


def _observations(
    cabinet: Cabinet, planogram: Planogram | None, panel: Panel, stockout_alpha: float | None
) -> _Observations:
    """Censor changeovers (and probable stockouts unless stockout_alpha is None); keep the other slot-days."""
    weekday = (panel.start_day + np.arange(panel.n_days) + 3) % 7
    active = panel.occ >= 0
    censored = panel.changeover.copy()
    if stockout_alpha is not None:
        censored |= detect_stockouts(
            panel.counts,
            active,
            weekday,
            alpha=stockout_alpha,
            capacity=_slot_capacities(cabinet, planogram),
            interval=max(round(cabinet.service_interval_days), 1),
        )
    used = active & ~censored
    slot_i, day_i = np.nonzero(used)
    return _Observations(
        weekday, active, censored, used, slot_i, day_i, panel.counts[slot_i, day_i], panel.occ[slot_i, day_i]
    )


def _prior(layout: _Layout, sku_mean: FloatArray, sku_sd: FloatArray, priors: Priors) -> tuple[FloatArray, FloatArray]:
    """Prior mean and precision of the parameter vector (fleet position/weekday effects when given)."""
    mean = np.zeros(layout.size)
    precision = np.zeros(layout.size)
    mean[: layout.n_skus], precision[: layout.n_skus] = sku_mean, sku_sd**-2.0
    if priors.row_log_weights is not None and len(priors.row_log_weights) == layout.n_rows:
        mean[layout.row : layout.col] = priors.row_log_weights
    if priors.col_log_weights is not None and len(priors.col_log_weights) == layout.n_cols:
        mean[layout.col : layout.dow] = priors.col_log_weights
    precision[layout.row : layout.dow] = priors.position_sd**-2.0
    if priors.dow_log_factors is not None and len(priors.dow_log_factors) == 7:
        mean[layout.dow : layout.trend] = priors.dow_log_factors
    precision[layout.dow : layout.trend] = DOW_SD**-2.0
    precision[layout.trend] = TREND_SD**-2.0
    return mean, precision


@dataclass(frozen=True, slots=True)
class _Regression:
    """The Poisson regression of the observations, refitted with facing offsets when skus share a day."""

    x: sp.csr_matrix
    units: FloatArray
    panel: Panel
    obs: _Observations
    layout: _Layout
    rows: IntArray
    cols: IntArray
    eps: float
    multi: bool

    def fit(
        self, mean: FloatArray, precision: FloatArray, start: FloatArray, offset: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """MAP fit from `start`; with multiple facings alternate with the offsets (returns the last offset)."""
        theta = start
        for _ in range(3 if self.multi else 1):
            result = fit_poisson_map(self.x, self.units, offset, mean, precision, theta)
            theta, cov = result.theta, result.cov
            if not self.multi:
                break
            weights = np.exp(theta[self.layout.row + self.rows] + theta[self.layout.col + self.cols])
            offset = _facing_offsets(self.panel.occ, self.rows, self.cols, weights, self.eps)[
                self.obs.slot, self.obs.day
            ]
        return theta, cov, offset


def _regression(
    cabinet: Cabinet,
    panel: Panel,
    obs: _Observations,
    layout: _Layout,
    sku_column: IntArray,
    t_center: float,
    eps: float,
) -> _Regression:
    """Design matrix: one column per observed sku, row, column and weekday, and the trend in 30-day units."""
    rows, cols = row_col(cabinet)
    n = len(obs.units)
    trend = (obs.day - t_center) / TREND_UNIT_DAYS
    row_idx = np.repeat(np.arange(n), 5)
    col_idx = np.stack(
        [
            sku_column,
            layout.row + rows[obs.slot],
            layout.col + cols[obs.slot],
            layout.dow + obs.weekday[obs.day],
            np.full(n, layout.trend),
        ],
        axis=1,
    ).ravel()
    values = np.stack([np.ones(n), np.ones(n), np.ones(n), np.ones(n), trend], axis=1).ravel()
    x = sp.csr_matrix((values, (row_idx, col_idx)), shape=(n, layout.size))
    return _Regression(x, obs.units, panel, obs, layout, rows, cols, eps, _has_multi_facings(panel))


def _fit_effects(
    cabinet: Cabinet,
    panel: Panel,
    obs: _Observations,
    prior_mu: FloatArray,
    prior_sd: FloatArray,
    priors: Priors,
    eps: float,
    position_from_within_sku: bool,
) -> _Effects:
    """Prior, then the MAP fit (in two stages when position_from_within_sku); the prior alone without data."""
    observed_skus, sku_column = np.unique(obs.sku, return_inverse=True)
    layout = _Layout(len(observed_skus), *n_rows_cols(cabinet))
    mean, precision = _prior(layout, prior_mu[observed_skus], prior_sd[observed_skus], priors)
    t_center = (panel.n_days - 1) / 2.0
    positions = slice(layout.row, layout.dow)
    theta, cov = mean.copy(), np.diag(1.0 / precision)
    position_cov = cov[positions, positions]
    if len(obs.units):
        regression = _regression(cabinet, panel, obs, layout, sku_column, t_center, eps)
        offset = np.zeros(len(obs.units))
        plan_theta = None
        if position_from_within_sku:
            theta, cov, position_cov, offset, plan_theta = _two_stage_fit(regression, mean, precision, theta, offset)
        else:
            theta, cov, offset = regression.fit(mean, precision, theta, offset)
            position_cov = cov[positions, positions]
        dispersion = _day_dispersion(regression, theta, offset)
        return _Effects(layout, observed_skus, theta, cov, position_cov, t_center, dispersion, plan_theta)
    return _Effects(layout, observed_skus, theta, cov, position_cov, t_center)


def _day_dispersion(regression: _Regression, theta: FloatArray, offset: FloatArray) -> float:
    """Pearson dispersion of the daily totals (>= 1): how much more a day's sales vary than Poisson says.

    Measured on day totals, not slot-days, because what the day intervals must cover is a day's takings:
    shocks common to all slots of a day (traffic, weather, an event) add variance that slot-level
    residuals spread thin.  It also holds what the model misses (weekday pattern, trend)."""
    mu = np.exp(np.asarray(regression.x @ theta) + offset)
    days = regression.obs.day
    observed = np.bincount(days, weights=regression.units)
    expected = np.bincount(days, weights=mu)
    keep = expected > 0
    n_days = int(keep.sum())
    if n_days < MIN_DISPERSION_DAYS:
        return 1.0
    pearson = float(np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep]))
    return max(1.0, pearson / (n_days - 1))


def _two_stage_fit(
    regression: _Regression, mean: FloatArray, precision: FloatArray, start: FloatArray, offset: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Position first, then sku rates with position fixed: (theta, cov, position cov, offset, plan theta).

    theta is what every figure uses; plan theta is what the search uses (docs/ENGINE.md, "placement").
    """
    layout = regression.layout
    positions = slice(layout.row, layout.dow)
    # Stage 1: position effects with the sku rates loose, so that skus seen in several slots (moves,
    # multiple facings) carry the position information.  With sku rates held to their fleet priors, an
    # operator who put the local best sellers at eye level would make eye level look better than it is.
    theta1, cov1, offset = regression.fit(mean, _sku_precision(precision, layout, POSITION_STAGE_SKU_SD), start, offset)
    # The same with the sku rates free: only within-sku contrasts place the rows.  What stage 1 adds to
    # it is supported by where the operator put which product alone, and operators put what sells *here*
    # where they believe it sells best: that part may be position or selection, in an unknown share.
    identified, _, _ = regression.fit(mean, _sku_precision(precision, layout, IDENTIFIED_SKU_SD), theta1, offset)
    placement = theta1[positions] - identified[positions]
    # The search plans on stage 1 (placement is informative about what to put where); the figures count
    # half of the placement-only part (the mean of a uniform share) and its spread in the covariance.
    plan, _, _ = _fixed_position_fit(regression, mean, precision, theta1, offset)
    shown = theta1.copy()
    shown[positions] = identified[positions] + 0.5 * placement
    theta, cov, offset = _fixed_position_fit(regression, mean, precision, shown, offset)
    position_cov = cov1[positions, positions] + PLACEMENT_SHARE_VAR * np.outer(placement, placement)
    return theta, cov, position_cov, offset, plan


def _sku_precision(precision: FloatArray, layout: _Layout, sku_sd: float) -> FloatArray:
    """The prior precision with every sku rate's sd replaced by sku_sd."""
    out = precision.copy()
    out[: layout.n_skus] = sku_sd**-2.0
    return out


def _fixed_position_fit(
    regression: _Regression, mean: FloatArray, precision: FloatArray, start: FloatArray, offset: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Stage 2: position effects held at start's, sku rates (and the rest) fitted with their usual priors."""
    positions = slice(regression.layout.row, regression.layout.dow)
    fixed_mean, fixed_precision = mean.copy(), precision.copy()
    fixed_mean[positions] = start[positions]
    fixed_precision[positions] = 1e8
    return regression.fit(fixed_mean, fixed_precision, start, offset)


@dataclass(frozen=True, slots=True)
class _Normalisers:
    """Log constants making the mean position weight and the mean weekday factor 1, and their gradients."""

    log_weight: FloatArray  # (slots,) row + column effect before normalising
    c_pos: float
    dow_raw: FloatArray
    c_dow: float
    grad_pos: FloatArray  # d c_pos / d theta
    grad_dow: FloatArray  # d c_dow / d theta


def _normalisers(theta: FloatArray, layout: _Layout, rows: IntArray, cols: IntArray) -> _Normalisers:
    """Normalise: mean position weight 1 over the cabinet, mean weekday factor 1."""
    log_weight = theta[layout.row + rows] + theta[layout.col + cols]
    weight_raw = np.exp(log_weight)
    c_pos = math.log(weight_raw.mean())
    dow_raw = np.exp(theta[layout.dow : layout.trend])
    c_dow = math.log(dow_raw.mean())
    grad_pos = np.zeros(layout.size)
    np.add.at(grad_pos, layout.row + rows, weight_raw / weight_raw.sum())
    np.add.at(grad_pos, layout.col + cols, weight_raw / weight_raw.sum())
    grad_dow = np.zeros(layout.size)
    grad_dow[layout.dow : layout.trend] = dow_raw / dow_raw.sum()
    return _Normalisers(log_weight, c_pos, dow_raw, c_dow, grad_pos, grad_dow)


def _estimates(
    cabinet: Cabinet,
    panel: Panel,
    effects: _Effects,
    prior_mu: FloatArray,
    prior_sd: FloatArray,
    unstocked_factor: float,
) -> dict[str, object]:
    """The model's fitted fields (DemandModel.build keywords): rates, position, weekday and trend."""
    layout, theta, cov = effects.layout, effects.theta, effects.cov
    rows, cols = row_col(cabinet)
    norm = _normalisers(theta, layout, rows, cols)
    t_end = (panel.n_days - 1 - effects.t_center) / TREND_UNIT_DAYS
    base_log, base_se = _base_rates(effects, norm, t_end, prior_mu, prior_sd, unstocked_factor)
    observed = np.zeros(len(prior_mu), dtype=bool)
    observed[effects.observed_skus] = True
    pos_cov = _position_cov(effects, norm, rows, cols)
    row_effects = theta[layout.row : layout.col]
    col_effects = theta[layout.col : layout.dow]
    return {
        "base": np.exp(base_log),
        "base_log_se": base_se,
        "observed": observed,
        "pos_weight": np.exp(norm.log_weight - norm.c_pos),
        "pos_log_se": np.sqrt(np.maximum(np.diag(pos_cov), 0.0)),
        "pos_log_cov": pos_cov,
        "row_log": row_effects - row_effects.mean(),
        "col_log": col_effects - col_effects.mean(),
        "dow": norm.dow_raw / norm.dow_raw.mean(),
        "trend_per_day": float(theta[layout.trend] / TREND_UNIT_DAYS),
        "trend_se": float(math.sqrt(cov[layout.trend, layout.trend]) / TREND_UNIT_DAYS),
        "dispersion": effects.dispersion,
        **_plan_estimates(effects, rows, cols, t_end, prior_mu, prior_sd, unstocked_factor),
    }


def _plan_estimates(
    effects: _Effects,
    rows: IntArray,
    cols: IntArray,
    t_end: float,
    prior_mu: FloatArray,
    prior_sd: FloatArray,
    unstocked_factor: float,
) -> dict[str, object]:
    """The search's base rates and position weights when they differ from the shown ones (else none)."""
    if effects.plan_theta is None:
        return {}
    plan = replace(effects, theta=effects.plan_theta, plan_theta=None)
    norm = _normalisers(plan.theta, plan.layout, rows, cols)
    base_log, _ = _base_rates(plan, norm, t_end, prior_mu, prior_sd, unstocked_factor)
    return {"plan_base": np.exp(base_log), "plan_pos_weight": np.exp(norm.log_weight - norm.c_pos)}


def _base_rates(
    effects: _Effects,
    norm: _Normalisers,
    t_end: float,
    prior_mu: FloatArray,
    prior_sd: FloatArray,
    unstocked_factor: float,
) -> tuple[FloatArray, FloatArray]:
    """Log base demand per sku (weight-1 slot, average weekday, window end) and its delta-method se."""
    layout, theta, observed_skus = effects.layout, effects.theta, effects.observed_skus
    n_k = layout.n_skus
    base_log = prior_mu.copy()
    base_se = prior_sd.copy()
    if n_k:
        gradient = np.zeros((n_k, layout.size))
        gradient[np.arange(n_k), np.arange(n_k)] = 1.0
        gradient += norm.grad_pos + norm.grad_dow
        gradient[:, layout.trend] += t_end
        base_log[observed_skus] = theta[:n_k] + norm.c_pos + norm.c_dow + theta[layout.trend] * t_end
        base_se[observed_skus] = np.sqrt(np.einsum("ij,jk,ik->i", gradient, effects.cov, gradient))
        # How far the fleet prior has been off at this device, measured on its well-observed skus: a
        # sku never sold here is at least that uncertain (the width only; the prior mean is kept).
        _calibrate_unseen(base_log, base_se, prior_mu, observed_skus, unstocked_factor)
    return base_log, base_se


def _position_cov(effects: _Effects, norm: _Normalisers, rows: IntArray, cols: IntArray) -> FloatArray:
    """Covariance of the slots' normalised log position weights (slots of one row share its error)."""
    layout = effects.layout
    n_slots = len(rows)
    gradient = np.zeros((n_slots, layout.size))
    gradient[np.arange(n_slots), layout.row + rows] += 1.0
    gradient[np.arange(n_slots), layout.col + cols] += 1.0
    gradient -= norm.grad_pos
    position_gradient = gradient[:, layout.row : layout.dow]
    cov: FloatArray = position_gradient @ effects.position_cov @ position_gradient.T
    return cov


def _calibrate_unseen(
    base_log: FloatArray, base_se: FloatArray, prior_mu: FloatArray, obs_skus: IntArray, unstocked_factor: float
) -> None:
    """Move the rate of skus never sold here from the fleet prior to what it predicts at *this* device.

    The well-observed skus measure the device's level against the fleet prior (median log gap) and how
    far the prior is off here (rms gap: the unseen skus' se is at least that).  A sku the operator did
    not stock is, besides, weaker here than where it is stocked (operators stock what sells at that
    machine): `unstocked_factor` (Priors) scales it down.
    """
    unseen = np.ones(len(base_log), dtype=bool)
    unseen[obs_skus] = False
    good = obs_skus[base_se[obs_skus] < WELL_OBSERVED_SE]
    level = 0.0
    if len(good) >= MIN_PRIOR_CHECKS:
        gap = base_log[good] - prior_mu[good]
        level = float(np.median(gap))
        base_se[unseen] = np.maximum(base_se[unseen], float(np.sqrt(np.mean((gap - level) ** 2))))
    base_log[unseen] = prior_mu[unseen] + level + math.log(max(unstocked_factor, 1e-6))


def _has_multi_facings(panel: Panel) -> bool:
    """Whether any sku held two or more slots on the same day."""
    for d in range(panel.n_days):
        col = panel.occ[:, d]
        col = col[col >= 0]
        if len(col) != len(np.unique(col)):
            return True
    return False
