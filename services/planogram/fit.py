"""Fit a device's DemandModel: a MAP Poisson log-linear model on the censored slot x day panel."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from services.planogram.affinity import affinity
from services.planogram.censoring import detect_stockouts
from services.planogram.glm import fit_poisson_map
from services.planogram.layout import n_rows_cols, row_col
from services.planogram.model import DemandModel
from services.planogram.occupancy import Panel, build_panel
from services.planogram.types import Cabinet, Catalog, FloatArray, IntArray, Planogram, Priors, SalesData

TREND_UNIT_DAYS = 30.0  # the trend coefficient is fitted per 30 days for conditioning
DEVICE_PRIOR_SD = 1.0  # prior sd (log scale) when only the device's own mean rate is known
DOW_SD = 0.5
TREND_SD = 0.15  # per 30 days
WELL_OBSERVED_SE = 0.3  # skus this certain locally check how well the fleet prior predicts this device
MIN_PRIOR_CHECKS = 5
POSITION_STAGE_SKU_SD = 1.0  # stage 1: sku rates loose (e^±1), so within-sku contrasts dominate position


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
    vis = mx * (1.0 + eps * (np.bincount(inv) - 1))  # model.visibility, vectorised
    off = np.zeros(occ.shape)
    off[valid] = np.log(vis / tot)[inv]
    return off


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
    eps = space_elasticity
    skus = tuple(dict.fromkeys([*products, *(k for k in sales.skus if k not in products)]))
    sku_index = {k: i for i, k in enumerate(skus)}
    panel = build_panel(cabinet, sku_index, sales, planogram, history, end_day, max_days)
    rows, cols = row_col(cabinet)
    n_r, n_c = n_rows_cols(cabinet)
    dow_idx = (panel.start_day + np.arange(panel.n_days) + 3) % 7
    active = panel.occ >= 0
    caps = np.array([s.capacity for s in cabinet.slots], dtype=np.float64)
    if planogram is not None:
        over = cabinet.index()
        for slot, c in planogram.capacities:
            if slot in over:
                caps[over[slot]] = c
    interval = max(round(cabinet.service_interval_days), 1)
    cens = panel.changeover.copy()
    if censor_stockouts:
        cens |= detect_stockouts(
            panel.counts, active, dow_idx, alpha=stockout_alpha, capacity=caps, interval=interval
        )
    use = active & ~cens
    s_i, d_i = np.nonzero(use)
    y = panel.counts[s_i, d_i]
    k_i = panel.occ[s_i, d_i]
    device_rate = float(y.mean()) if len(y) else 0.5
    prior_mu, prior_sd = _sku_priors(skus, products, priors, device_rate)
    obs_skus, kc = np.unique(k_i, return_inverse=True)
    n_k = len(obs_skus)
    p = n_k + n_r + n_c + 7 + 1
    o_r, o_c, o_d, o_t = n_k, n_k + n_r, n_k + n_r + n_c, n_k + n_r + n_c + 7
    t_center = (panel.n_days - 1) / 2.0
    t = (d_i - t_center) / TREND_UNIT_DAYS
    m = np.zeros(p)
    prec = np.zeros(p)
    m[:n_k], prec[:n_k] = prior_mu[obs_skus], prior_sd[obs_skus] ** -2.0
    if priors.row_log_weights is not None and len(priors.row_log_weights) == n_r:
        m[o_r:o_c] = priors.row_log_weights
    if priors.col_log_weights is not None and len(priors.col_log_weights) == n_c:
        m[o_c:o_d] = priors.col_log_weights
    prec[o_r:o_d] = priors.position_sd**-2.0
    if priors.dow_log_factors is not None and len(priors.dow_log_factors) == 7:
        m[o_d:o_t] = priors.dow_log_factors
    prec[o_d:o_t] = DOW_SD**-2.0
    prec[o_t] = TREND_SD**-2.0
    theta = m.copy()
    cov = np.diag(1.0 / prec)
    pos_cov = cov[o_r:o_d, o_r:o_d]
    if len(y):
        n = len(y)
        ridx = np.repeat(np.arange(n), 5)
        cidx = np.stack(
            [kc, o_r + rows[s_i], o_c + cols[s_i], o_d + dow_idx[d_i], np.full(n, o_t)], axis=1
        ).ravel()
        vals = np.stack([np.ones(n), np.ones(n), np.ones(n), np.ones(n), t], axis=1).ravel()
        x = sp.csr_matrix((vals, (ridx, cidx)), shape=(n, p))
        multi = _has_multi_facings(panel)
        offset = np.zeros(n)

        def run(mean: FloatArray, precision: FloatArray, start: FloatArray) -> tuple[FloatArray, FloatArray]:
            nonlocal offset
            th, cv = start, np.diag(1.0 / precision)
            for _ in range(3 if multi else 1):
                fit = fit_poisson_map(x, y, offset, mean, precision, th)
                th, cv = fit.theta, fit.cov
                if not multi:
                    break
                w_now = np.exp(th[o_r + rows] + th[o_c + cols])
                offset = _facing_offsets(panel.occ, rows, cols, w_now, eps)[s_i, d_i]
            return th, cv

        if position_from_within_sku:
            # Stage 1: position effects from within-sku contrasts only (a sku seen in several slots, by
            # moves or multiple facings).  With sku rates held to their fleet priors, an operator who put
            # the local best sellers at eye level would make eye level look better than it is, and the
            # optimiser would then move weak skus there for a gain that is not real.
            prec1 = prec.copy()
            prec1[:n_k] = POSITION_STAGE_SKU_SD**-2.0
            theta1, cov1 = run(m, prec1, theta)
            pos_cov = cov1[o_r:o_d, o_r:o_d]
            # Stage 2: position fixed at the stage-1 estimate, sku rates shrunk to their priors as before.
            m2, prec2 = m.copy(), prec.copy()
            m2[o_r:o_d] = theta1[o_r:o_d]
            prec2[o_r:o_d] = 1e8
            theta, cov = run(m2, prec2, theta1)
        else:
            theta, cov = run(m, prec, theta)
            pos_cov = cov[o_r:o_d, o_r:o_d]
    # normalise: mean position weight 1 over the cabinet, mean weekday factor 1
    lw = theta[o_r + rows] + theta[o_c + cols]
    w_raw = np.exp(lw)
    c_pos = math.log(w_raw.mean())
    dw_raw = np.exp(theta[o_d:o_t])
    c_dow = math.log(dw_raw.mean())
    t_end = (panel.n_days - 1 - t_center) / TREND_UNIT_DAYS
    grad_c = np.zeros(p)
    np.add.at(grad_c, o_r + rows, w_raw / w_raw.sum())
    np.add.at(grad_c, o_c + cols, w_raw / w_raw.sum())
    grad_d = np.zeros(p)
    grad_d[o_d:o_t] = dw_raw / dw_raw.sum()
    base_log = prior_mu.copy()
    base_se = prior_sd.copy()
    if n_k:
        lk = np.zeros((n_k, p))
        lk[np.arange(n_k), np.arange(n_k)] = 1.0
        lk += grad_c + grad_d
        lk[:, o_t] += t_end
        base_log[obs_skus] = theta[:n_k] + c_pos + c_dow + theta[o_t] * t_end
        base_se[obs_skus] = np.sqrt(np.einsum("ij,jk,ik->i", lk, cov, lk))
        # How far the fleet prior has been off at this device, measured on its well-observed skus: a
        # sku never sold here is at least that uncertain (the width only; the prior mean is kept).
        _calibrate_unseen(base_log, base_se, prior_mu, obs_skus, priors.unstocked_factor)
    ls = np.zeros((len(rows), p))
    ls[np.arange(len(rows)), o_r + rows] += 1.0
    ls[np.arange(len(rows)), o_c + cols] += 1.0
    ls -= grad_c
    ls_pos = ls[:, o_r:o_d]
    pos_se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", ls_pos, pos_cov, ls_pos), 0.0))
    observed = np.zeros(len(skus), dtype=bool)
    observed[obs_skus] = True
    lifts: dict[tuple[str, str], float] = {}
    if with_affinity and sales.n:
        lifts = {(a.sku_a, a.sku_b): a.lift for a in affinity(sales).pairs}
    return DemandModel.build(
        device_id=cabinet.device_id,
        venue_type=cabinet.venue_type,
        slot_codes=cabinet.slot_codes(),
        skus=skus,
        sku_index=sku_index,
        slot_index=cabinet.index(),
        base=np.exp(base_log),
        base_log_se=base_se,
        observed=observed,
        pos_weight=np.exp(lw - c_pos),
        pos_log_se=pos_se,
        row_log=theta[o_r:o_c] - theta[o_r:o_c].mean(),
        col_log=theta[o_c:o_d] - theta[o_c:o_d].mean(),
        dow=dw_raw / dw_raw.mean(),
        trend_per_day=float(theta[o_t] / TREND_UNIT_DAYS),
        trend_se=float(math.sqrt(cov[o_t, o_t]) / TREND_UNIT_DAYS),
        space_elasticity=eps,
        service_interval_days=cabinet.service_interval_days,
        start_day=panel.start_day,
        end_day=panel.start_day + panel.n_days - 1,
        n_obs=len(y),
        censored_slot_days=int((cens & active).sum()),
        censored_by_slot=(cens & active).sum(axis=1).astype(np.float64),
        obs_by_slot=use.sum(axis=1).astype(np.float64),
        pair_lift=lifts,
    )


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
