"""Single-threaded NumPy products for per-query scoring (SVD, EASE, ALS share them).

Each helper gives what a BLAS product would, in one thread; they must not call into BLAS,
whose worker threads make a query wait for a core on a busy machine.
"""

from __future__ import annotations

import numpy as np


# Per-query products avoid BLAS on purpose: OpenBLAS wakes worker threads even for one
# matrix-vector product, and on a busy 2-core machine a query then waits for a core (tail
# latencies measured in docs/experiments/signals.md).
def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` in one thread (see the comment above)."""
    return np.einsum("ij,j->i", matrix, np.asarray(vector, dtype=matrix.dtype))


def weighted_row_sum(
    matrix: np.ndarray, weights: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """``weights @ matrix[rows]`` in one thread, gathering only the needed rows (``matrix`` may be
    memory-mapped): a plain row sum per weight shared by many rows (liked, disliked, a recency
    floor), which is faster than einsum's weighted reduction, and einsum for the rest (the few
    recent ratings of a recency-weighted profile). Rows weighing under 1e-4 of the largest
    weight are skipped (a long history's oldest ratings under a steep recency decay)."""
    rows = np.arange(matrix.shape[0]) if rows is None else rows
    weights = np.asarray(weights, dtype=np.float32)
    total = np.zeros(matrix.shape[1], dtype=np.float32)
    if len(weights) == 0:
        return total
    keep = weights > 1e-4 * float(np.abs(weights).max())
    rows, weights = rows[keep], weights[keep]
    values, inverse, counts = np.unique(weights, return_inverse=True, return_counts=True)
    shared = counts[inverse] >= 4
    for value in values[counts >= 4].tolist():
        chosen = np.asarray(matrix[rows[weights == value]])
        total += np.float32(value) * chosen.sum(axis=0, dtype=np.float32)
    if not shared.all():
        rest = ~shared
        total += np.einsum("i,ij->j", weights[rest], np.asarray(matrix[rows[rest]]))
    return total
