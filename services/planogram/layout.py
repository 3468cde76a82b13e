"""Cabinet geometry helpers: neighbour lists and row/column index arrays."""

from __future__ import annotations

import numpy as np

from services.planogram.types import Cabinet, IntArray


def neighbours(cabinet: Cabinet) -> tuple[tuple[int, ...], ...]:
    """4-neighbour slot indices (same row +-1 column, same column +-1 row) for each slot."""
    at = {(s.row, s.col): i for i, s in enumerate(cabinet.slots)}
    out: list[tuple[int, ...]] = []
    for s in cabinet.slots:
        nb = [
            at[p] for p in ((s.row, s.col - 1), (s.row, s.col + 1), (s.row - 1, s.col), (s.row + 1, s.col)) if p in at
        ]
        out.append(tuple(sorted(nb)))
    return tuple(out)


def adjacency_matrix(cabinet: Cabinet) -> np.ndarray:
    """Symmetric 0/1 float matrix of 4-neighbour slots."""
    n = len(cabinet.slots)
    a = np.zeros((n, n), dtype=np.float64)
    for i, nb in enumerate(neighbours(cabinet)):
        a[i, list(nb)] = 1.0
    return a


def row_col(cabinet: Cabinet) -> tuple[IntArray, IntArray]:
    """Row and column index of each slot as int arrays."""
    rows = np.fromiter((s.row for s in cabinet.slots), dtype=np.int64, count=len(cabinet.slots))
    cols = np.fromiter((s.col for s in cabinet.slots), dtype=np.int64, count=len(cabinet.slots))
    return rows, cols


def n_rows_cols(cabinet: Cabinet) -> tuple[int, int]:
    """Grid extent covering every slot (at least the declared rows/cols)."""
    rows, cols = row_col(cabinet)
    nr = max(cabinet.rows, int(rows.max()) + 1 if len(rows) else 0)
    nc = max(cabinet.cols, int(cols.max()) + 1 if len(cols) else 0)
    return nr, nc
