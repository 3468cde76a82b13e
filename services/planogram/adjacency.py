"""Adjacency value: same-category blocks and co-purchase pairs placed side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from services.planogram.layout import neighbours
from services.planogram.model import DemandModel
from services.planogram.types import Cabinet, Catalog, FloatArray, Planogram
from services.planogram.value import ValueParams


def pair_score(model: DemandModel, products: Catalog, a: str, b: str, params: ValueParams) -> float:
    """Per-day bonus of skus a and b in neighbouring slots."""
    same = a == b or (a in products and b in products and products[a].category == products[b].category)
    lift = model.lift(a, b) if a != b else 1.0
    return params.category_bonus * float(same) + params.affinity_bonus * math.log(max(lift, 1.0))


def pair_matrix(model: DemandModel, products: Catalog, skus: Sequence[str], params: ValueParams) -> FloatArray:
    """Symmetric matrix of pair_score over `skus`."""
    n = len(skus)
    cats = [products[k].category if k in products else f"?{k}" for k in skus]
    codes = {c: i for i, c in enumerate(dict.fromkeys(cats))}
    cv = np.array([codes[c] for c in cats])
    m = params.category_bonus * (cv[:, None] == cv[None, :]).astype(np.float64)
    if params.affinity_bonus:
        pos = {k: i for i, k in enumerate(skus)}
        for (a, b), lift in model.pair_lift.items():
            if a in pos and b in pos and lift > 1.0:
                v = params.affinity_bonus * math.log(lift)
                m[pos[a], pos[b]] += v
                m[pos[b], pos[a]] += v
    return m if n else np.zeros((0, 0))


def adjacency_value(
    model: DemandModel, cabinet: Cabinet, products: Catalog, planogram: Planogram, params: ValueParams
) -> float:
    """Sum of pair_score over unordered neighbouring slot pairs that are both filled."""
    if params.separable:
        return 0.0
    m = planogram.mapping()
    codes = cabinet.slot_codes()
    total = 0.0
    for i, nb in enumerate(neighbours(cabinet)):
        a = m.get(codes[i])
        if a is None:
            continue
        for j in nb:
            b = m.get(codes[j])
            if j > i and b is not None:
                total += pair_score(model, products, a, b, params)
    return total
