"""Stockout detection: zero-sale runs too long to be chance are censored, not read as low demand."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from services.planogram.types import FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]


def dow_factors(counts: FloatArray, active: BoolArray, dow: IntArray) -> FloatArray:
    """Rough day-of-week multipliers (mean 1): each selling slot's weekday profile, averaged with
    equal weight per slot so that one fast seller's stockout days cannot distort the pattern."""
    profiles: list[FloatArray] = []
    for y, act in zip(counts, active, strict=True):
        if y[act].sum() < 5:
            continue
        tot = np.bincount(dow[act], weights=y[act], minlength=7)
        n = np.bincount(dow[act], minlength=7).astype(np.float64)
        mean = y[act].mean()
        profiles.append((tot + mean) / (n + 1.0) / mean)  # one pseudo-day at the slot's mean per weekday
    if not profiles:
        return np.ones(7)
    f = np.mean(profiles, axis=0)
    return np.asarray(f / f.mean(), dtype=np.float64)


def _zero_runs(zero: BoolArray) -> list[tuple[int, int]]:
    """Maximal [start, end) runs of True."""
    padded = np.concatenate(([False], zero, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def detect_stockouts(
    counts: FloatArray,
    active: BoolArray,
    dow: IntArray,
    *,
    alpha: float = 0.01,
    rounds: int = 3,
    capacity: FloatArray | None = None,
    interval: int = 7,
) -> BoolArray:
    """Censor mask (slots x days) of probable empty-slot days.

    Heuristic: for each slot, with its in-stock rate r (estimated on uncensored active days) and
    day-of-week factors f_d, a maximal run of active zero-sale days is censored when
    P(no sale on all of them | in stock) = exp(-sum_d r f_d) <= alpha; the last selling day before
    such a run is censored too (it sold out part-way, so its count is only a lower bound).  The rate
    is re-estimated without censored days and the test repeated a few rounds.  With `capacity` a
    zero-sale day also counts as empty when the previous interval-1 days sold at least capacity-1
    units (a slot cannot sell more than it holds between refills), and so is its last selling day.
    """
    threshold = -math.log(alpha)
    censored = np.zeros_like(active)
    by_capacity = np.zeros_like(active)
    if capacity is not None:
        by_capacity = (
            np.stack(
                [_capacity_censor(counts[s], active[s], float(capacity[s]), interval) for s in range(counts.shape[0])]
            )
            if counts.shape[0]
            else by_capacity
        )
    for _ in range(rounds):  # weekday factors are re-estimated without the days censored so far
        fd = dow_factors(counts, active & ~censored, dow)[dow]
        new = (
            np.stack(
                [
                    _censor_slot(counts[s], active[s], by_capacity[s], fd, threshold, rounds)
                    for s in range(counts.shape[0])
                ]
            )
            if counts.shape[0]
            else censored
        )
        if np.array_equal(new, censored):
            break
        censored = new
    return censored


def _censor_slot(
    y: FloatArray, act: BoolArray, fixed: BoolArray, fd: FloatArray, threshold: float, rounds: int
) -> BoolArray:
    """Censor mask of one slot (always including `fixed`), iterating rate estimate and run test."""
    cens = fixed.copy()
    if not act.any():
        return cens
    for _ in range(rounds):
        use = act & ~cens
        exposure = float(fd[use].sum())
        if exposure <= 0:
            break
        rate = float(y[use].sum()) / exposure
        if rate <= 0:
            break
        new = fixed.copy()
        for a, b in _zero_runs(act & (y == 0)):
            if rate * float(fd[a:b].sum()) >= threshold:
                new[a:b] = True
                prev = np.flatnonzero(act[:a])
                if len(prev) and y[prev[-1]] > 0:
                    new[prev[-1]] = True
        if np.array_equal(new, cens):
            break
        cens = new
    return cens


def _capacity_censor(y: FloatArray, act: BoolArray, cap: float, interval: int) -> BoolArray:
    """Zero days right after the slot sold (nearly) its whole capacity within one service interval."""
    out = np.zeros(len(y), dtype=bool)
    if cap <= 0 or interval < 2 or not act.any():
        return out
    csum = np.concatenate(([0.0], np.cumsum(np.where(act, y, 0.0))))
    days = np.arange(len(y))
    window = csum[days] - csum[np.maximum(0, days - interval + 1)]  # sales on the interval-1 days before
    hit = act & (y == 0) & (window >= cap - 1)
    if not hit.any():
        return out
    out |= hit
    selling = np.where(act & (y > 0), days, -1)
    last_sale = np.maximum.accumulate(selling)  # last selling day at or before each day
    prev = last_sale[hit]
    out[prev[prev >= 0]] = True  # the sell-out day itself is partial
    return out
