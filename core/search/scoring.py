"""Array helpers every search step ranks with: the top-k rule and pool min-max scaling.

One top-k rule (ties among the chosen keep index order) for the index, its search steps
and the re-ranker's candidate pool. Nothing here knows about movies or requests.
"""

from __future__ import annotations

import numpy as np


def scale_to_pool(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``values`` min-max scaled to [0, 1] over the pool (0 outside it; flat pools give 0)."""
    out = np.zeros(values.shape, dtype=np.float32)
    if len(pool) == 0:
        return out
    chosen = values[pool]
    lo, hi = float(chosen.min()), float(chosen.max())
    if hi - lo > 1e-9:
        out[pool] = (chosen - lo) / (hi - lo)
    return out


def top_indices(values: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` largest finite values (optionally within ``mask``), best first."""
    candidates = np.isfinite(values) if mask is None else (mask & np.isfinite(values))
    idx = np.flatnonzero(candidates)
    if len(idx) == 0 or k <= 0:
        return idx[:0].astype(np.int64)
    if len(idx) > k:
        part = np.argpartition(-values[idx], k - 1)[:k]
        idx = idx[part]
    return idx[np.argsort(-values[idx], kind="stable")].astype(np.int64)
