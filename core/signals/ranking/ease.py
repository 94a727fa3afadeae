"""EASE (Steck 2019): the closed-form item-item top-N ranker, with optional time windows.

Fits one dense item-item matrix ``B`` (memory-mapped when loaded) and scores a query by summing
the ``B`` rows of its items; it must not handle queries itself (see ``ranking.base``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from core.config import Settings
from core.signals.numeric import weighted_row_sum
from core.signals.ranking.base import CollabRanker, RankerProfile

#: EASE keeps items with at least this many ratings (items rated once are near-useless
#: co-occurrence evidence; dropping them shrinks the matrix ~2.5x, see the benchmark).
EASE_MIN_ITEM_RATINGS = 2


class EASERanker(CollabRanker):
    """EASE (Steck 2019): a closed-form item-item model ``B`` with zero diagonal.

    ``B`` is dense float32 over the items with at least ``min_item_ratings`` ratings
    (``kept``); a query's score is the sum of the ``B`` rows of its items. Saved as ``.npy`` so
    :meth:`load` memory-maps it.
    """

    kind = "ease"

    def __init__(
        self, settings: Settings | None = None, *, min_item_ratings: int = EASE_MIN_ITEM_RATINGS
    ) -> None:
        super().__init__(settings)
        self.min_item_ratings = int(min_item_ratings)
        self.kept = np.empty(0, dtype=np.int64)  # item index of each row/column of B
        self.position = np.empty(0, dtype=np.int64)  # item index -> row of B, -1 if absent
        self.B = np.empty((0, 0), dtype=np.float32)

    def _fit_model(self, user_items: sp.csr_matrix) -> None:
        counts = np.diff(user_items.tocsc().indptr)
        self.kept = np.flatnonzero(counts >= max(1, self.min_item_ratings)).astype(np.int64)
        binary = user_items[:, self.kept].astype(np.float32)
        binary.data[:] = 1.0
        windows = None
        p = self.params
        if p.ease_window > 1 and p.ease_window_weight > 0 and len(self.times) == user_items.nnz:
            windows = time_windows(user_items, self.times, self.kept, p.ease_window)
        self.B = ease_weights(
            cast(sp.csr_matrix, binary),
            p.ease_lambda,
            windows=windows,
            window_weight=p.ease_window_weight / max(p.ease_window, 1),
        )
        self._index()

    def _index(self) -> None:
        self.position = np.full(self.n_items, -1, dtype=np.int64)
        self.position[self.kept] = np.arange(len(self.kept))
        self.known_item = self.position >= 0

    def _scores(self, profile: RankerProfile) -> np.ndarray:
        # Gathering the query's rows beats x @ B: a profile touches a few rows of a big matrix.
        values = np.full(self.n_items, np.nan, dtype=np.float32)
        values[self.kept] = weighted_row_sum(self.B, profile.weights, self.position[profile.items])
        return values

    def score_matrix(self, weights: sp.csr_matrix, empty: float = np.nan) -> np.ndarray:
        """Every profile of ``weights`` in one sparse x dense product (see the base class)."""
        out = np.full(weights.shape, np.nan, dtype=np.float32)
        kept = sp.csr_matrix(weights[:, self.kept], dtype=np.float32)
        scored = np.diff(kept.indptr) > 0
        if not np.isnan(empty) and (~scored).any():
            block = out[~scored]
            block[:, self.kept] = empty
            out[~scored] = block
        if scored.any() and len(self.kept):
            product = np.asarray(kept[scored] @ np.asarray(self.B), dtype=np.float32)
            block = out[scored]
            block[:, self.kept] = product
            out[scored] = block
        return out

    def _contributions(self, profile: RankerProfile, items: np.ndarray) -> np.ndarray:
        cols = self.position[items]
        # Columns first: a few columns of B are small, a heavy user's rows are not (68 MB).
        columns = np.asarray(self.B[:, np.maximum(cols, 0)], dtype=np.float32)
        contrib = columns[self.position[profile.items]] * profile.weights[:, None]
        contrib[:, cols < 0] = np.nan
        return contrib

    def _meta(self) -> dict[str, Any]:
        return {"min_item_ratings": self.min_item_ratings}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"B": np.asarray(self.B), "kept": self.kept}

    def _restore(self, directory: Path, meta: dict[str, Any]) -> None:
        self.min_item_ratings = int(meta["min_item_ratings"])
        self.kept = np.load(directory / "collab_kept.npy")
        self.B = np.load(directory / "collab_B.npy", mmap_mode="r")
        self._index()


def ease_weights(
    binary: sp.csr_matrix,
    lam: float,
    *,
    windows: sp.csr_matrix | None = None,
    window_weight: float = 0.0,
) -> np.ndarray:
    """EASE's item-item weights for a binary users x items matrix (float32, C order).

    ``P = (X'X + w W'W + lam I)^-1``, ``B = -P / diag(P)`` column-wise, ``diag(B) = 0``, where
    the optional ``windows`` ``W`` (rows = short runs of one user's consecutive ratings, see
    :func:`time_windows`) adds co-occurrence of movies rated close together in time, weighted
    ``window_weight``. Hand-written on purpose: the closed form is a few lines, no installed
    library provides it, and writing it lets us invert with a float32 Cholesky in place (half
    the flops and memory of ``np.linalg.inv`` in float64, which matters at 10k x 10k).
    """
    from scipy.linalg import lapack

    n = binary.shape[1]
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    # Sparse x dense gives the dense Gram matrix directly (a sparse X'X would be mostly full).
    gram = np.ascontiguousarray(binary.T @ binary.toarray(), dtype=np.float32)
    if windows is not None and window_weight > 0 and windows.nnz:
        # Windows are many short rows: a sparse product stays sparse (pairs of near neighbours).
        gram += np.float32(window_weight) * (windows.T @ windows).toarray().astype(np.float32)
    gram[np.diag_indices(n)] += np.float32(lam)
    # The transpose of a C-order symmetric matrix is the same matrix in Fortran order, which
    # LAPACK can overwrite without a copy.
    factor, info = lapack.spotrf(gram.T, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE Gram matrix is not positive definite (info={info})")
    inverse, info = lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE inversion failed (info={info})")
    inverse = np.asarray(inverse)
    mirror_upper(inverse)  # spotri fills one triangle only
    weights = np.ascontiguousarray(inverse)  # symmetric, so C order = the same matrix
    weights /= -np.diag(weights)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def time_windows(
    user_items: sp.csr_matrix, times: np.ndarray, kept: np.ndarray, size: int
) -> sp.csr_matrix | None:
    """Binary ``runs x len(kept)`` matrix: for each rating, it and the user's next ``size - 1``
    ratings in time (columns = positions in ``kept``; other movies are skipped).

    ``W'W`` then counts how often two movies were rated within ``size`` ratings of each other
    by the same person (sessions, sequels, the page a person was browsing). ``None`` when the
    timestamps carry no order (all equal, e.g. a data set without them).
    """
    if user_items.nnz == 0 or size < 2 or float(np.ptp(times)) == 0.0:
        return None
    position = np.full(user_items.shape[1], -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    rows = np.repeat(np.arange(user_items.shape[0]), np.diff(user_items.indptr))
    cols = position[user_items.indices]
    usable = cols >= 0
    rows, cols, stamps = rows[usable], cols[usable], np.asarray(times)[usable]
    order = np.lexsort((cols, stamps, rows))
    rows, cols = rows[order], cols[order]
    n = len(rows)
    starts = np.arange(n)
    run_rows, run_cols = [], []
    for offset in range(size):
        ahead = starts[: n - offset]
        same = rows[ahead + offset] == rows[ahead]
        run_rows.append(ahead[same])
        run_cols.append(cols[ahead[same] + offset])
    r, c = np.concatenate(run_rows), np.concatenate(run_cols)
    return sp.csr_matrix(
        (np.ones(len(r), dtype=np.float32), (r, c)), shape=(n, len(kept)), dtype=np.float32
    )


def mirror_upper(matrix: np.ndarray, block: int = 1024) -> None:
    """Copy the upper triangle onto the lower one in place, a block of rows at a time
    (``np.triu`` / ``tril_indices`` on a 10k matrix would allocate gigabytes); LAPACK's
    ``spotri`` fills one triangle only."""
    n = matrix.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        matrix[start:stop, :start] = matrix[:start, start:stop].T
        square = matrix[start:stop, start:stop]
        square[...] = np.triu(square) + np.triu(square, 1).T
