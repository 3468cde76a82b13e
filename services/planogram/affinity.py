"""Baskets from vends and co-purchase pairs with support, confidence, lift and a significance filter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.stats import poisson

from services.planogram.types import FloatArray, IntArray, SalesData


@dataclass(frozen=True, slots=True)
class AffinityPair:
    """A co-purchase pair; confidence_ab = P(b in basket | a in basket)."""

    sku_a: str
    sku_b: str
    count: int
    count_a: int
    count_b: int
    support: float
    confidence_ab: float
    confidence_ba: float
    lift: float
    expected: float
    p_value: float


@dataclass(frozen=True, slots=True)
class AffinityResult:
    """Surviving pairs (strongest lift first) and the basket counts they were mined from."""

    n_baskets: int
    n_multi_item_baskets: int
    pairs: tuple[AffinityPair, ...]

    def lift_map(self) -> dict[tuple[str, str], float]:
        """{(a, b) sorted: lift} of the surviving pairs."""
        return {tuple(sorted((p.sku_a, p.sku_b))): p.lift for p in self.pairs}  # type: ignore[misc]


def basket_ids(sales: SalesData, window_s: int = 90) -> IntArray:
    """Basket id per vend: shared transaction_id, else a chain of vends <= window_s apart."""
    n = sales.n
    out = np.empty(n, dtype=np.int64)
    has_txn = sales.txn >= 0
    _, txn_ids = np.unique(sales.txn[has_txn], return_inverse=True)
    out[has_txn] = txn_ids
    offset = int(txn_ids.max()) + 1 if len(txn_ids) else 0
    rest = np.flatnonzero(~has_txn)
    if len(rest):
        order = rest[np.argsort(sales.ts[rest], kind="stable")]
        gaps = np.diff(sales.ts[order])
        session = np.concatenate(([0], np.cumsum(gaps > window_s)))
        out[order] = session + offset
    return out


def affinity(
    sales: SalesData | Sequence[SalesData],
    *,
    window_s: int = 90,
    min_count: int = 5,
    min_lift: float = 1.5,
    alpha: float = 0.01,
) -> AffinityResult:
    """Mine pairs; keep those with count >= min_count, lift >= min_lift and Bonferroni p <= alpha.

    The p-value is P(X >= count) for X ~ Poisson(n_a n_b / N), the co-occurrence expected if the two
    skus were bought independently; Bonferroni divides alpha by the number of candidate pairs.
    """
    parts = [sales] if isinstance(sales, SalesData) else list(sales)
    incidence, skus = _incidence(parts, window_s)
    if incidence is None:
        return AffinityResult(0, 0, ())
    n_baskets = incidence.shape[0]
    sizes = np.asarray(incidence.sum(axis=1)).ravel()
    together = (incidence.T @ incidence).tocoo()
    single = np.asarray(incidence.sum(axis=0)).ravel()
    n_skus = max(len(skus), 2)
    m_tests = n_skus * (n_skus - 1) / 2
    pairs: list[AffinityPair] = []
    for i, j, count in zip(together.row.tolist(), together.col.tolist(), together.data.tolist(), strict=True):
        if i >= j or count < min_count:
            continue
        expected = single[i] * single[j] / n_baskets
        lift = count / expected
        if lift < min_lift:
            continue
        p_value = float(poisson.sf(count - 1, expected))
        if p_value * m_tests > alpha:
            continue
        pairs.append(_pair(skus, single, n_baskets, (i, j), count, lift, expected, p_value))
    pairs.sort(key=lambda p: (-p.lift, p.sku_a, p.sku_b))
    return AffinityResult(n_baskets, int((sizes > 1).sum()), tuple(pairs))


def _pair(
    skus: list[str],
    single: FloatArray,
    n_baskets: int,
    ij: tuple[int, int],
    count: float,
    lift: float,
    expected: float,
    p_value: float,
) -> AffinityPair:
    """The pair with its skus in name order and the support and confidences of its counts."""
    i, j = ij
    a, b = (i, j) if skus[i] <= skus[j] else (j, i)
    return AffinityPair(
        skus[a],
        skus[b],
        int(count),
        int(single[a]),
        int(single[b]),
        count / n_baskets,
        count / single[a],
        count / single[b],
        float(lift),
        float(expected),
        p_value,
    )


def _incidence(parts: Sequence[SalesData], window_s: int) -> tuple[sp.csr_matrix | None, list[str]]:
    """Baskets x skus 0/1 matrix over all devices' vends (None when there are no vends) and the sku names."""
    vocab: dict[str, int] = {}
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    n_baskets = 0
    for part in parts:
        if part.n == 0:
            continue
        remap = np.array([vocab.setdefault(s, len(vocab)) for s in part.skus], dtype=np.int64)
        baskets = basket_ids(part, window_s)
        rows.append(baskets + n_baskets)
        cols.append(remap[part.sku])
        n_baskets += int(baskets.max()) + 1
    skus = list(vocab)
    if n_baskets == 0:
        return None, skus
    basket_of = np.concatenate(rows)
    sku_of = np.concatenate(cols)
    incidence = sp.csr_matrix((np.ones(len(basket_of)), (basket_of, sku_of)), shape=(n_baskets, len(skus)))
    incidence.sum_duplicates()
    incidence.data[:] = 1.0  # a sku bought twice in one basket counts once
    return incidence, skus
