"""Item- and user-based ``KNNBaseline`` (pearson-baseline, shrunk, top-k) in vectorised NumPy.

Two neighbourhood rating models on shared ALS baselines that fold a new user in without
retraining; they must not allocate items x items dense matrices (similarities go block by block
and only the top ``K`` neighbours are kept). Why not Surprise's ``KNNBaseline``, and the measured
effect of the two deliberate departures from it, are in ``docs/experiments/signals.md``.

With ``K`` >= the number of movies (users) and a zero prior both reproduce Surprise's
``KNNBaseline`` exactly (``tests/signals/test_rating.py``). The two departures, both chosen on
validation data: only the top ``K`` neighbours of each movie (user) are candidates (memory), and
the neighbours' average is mixed with a prior at a small pseudo-similarity (the user's mean
residual for the item model, the movie's for the user model), which stands in for the weak
far-away neighbours the truncation drops and damps single-neighbour noise.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.config import RatingSettings
from core.signals.base import load_arrays, save_arrays
from core.signals.history import RatingHistory

#: Dense float64 temporaries of the blockwise similarity computation hold at most this many
#: entries each (movies x block columns): ~32 MB, whatever the catalogue size.
SIM_BLOCK_ELEMENTS = 4_000_000
#: Pairs predicted per chunk in :meth:`ItemKNNBaseline.estimate` (bounds its temporaries).
ESTIMATE_CHUNK = 8_192


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------
def als_baselines(
    rows: np.ndarray,
    cols: np.ndarray,
    ratings: np.ndarray,
    shape: tuple[int, int],
    *,
    reg_item: float,
    reg_user: float,
    epochs: int,
) -> tuple[float, np.ndarray, np.ndarray]:
    """``mu``, ``b_u``, ``b_i`` by alternating least squares, exactly as Surprise's
    ``baseline_als`` (items first, then users, ``epochs`` times)."""
    n_users, n_items = shape
    mu = float(ratings.mean()) if len(ratings) else 0.0
    per_user = np.bincount(rows, minlength=n_users)
    per_item = np.bincount(cols, minlength=n_items)
    bu = np.zeros(n_users)
    bi = np.zeros(n_items)
    for _ in range(epochs):
        bi = np.bincount(cols, weights=ratings - mu - bu[rows], minlength=n_items)
        bi /= reg_item + per_item
        bu = np.bincount(rows, weights=ratings - mu - bi[cols], minlength=n_users)
        bu /= reg_user + per_user
    return mu, bu, bi


def pearson_baseline_neighbours(
    residuals: sp.csr_matrix,
    n_keep: int,
    shrinkage: float,
    *,
    block_elements: int = SIM_BLOCK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top ``n_keep`` positive shrunk pearson-baseline neighbours of every column.

    ``residuals`` is users x items (rating minus baseline; its sparsity pattern is "rated",
    explicit zeros included). As Surprise's ``pearson_baseline``, over the users who rated both
    ``i`` and ``j``: ``sim = sum d_i d_j / sqrt(sum d_i^2 * sum d_j^2) * (n - 1) / (n - 1 +
    shrinkage)``. Columns with fewer than two ratings have no neighbours (their shrinkage factor
    is 0) and are left out. Computed a block of columns at a time with four sparse products, so
    the dense temporaries stay at ``block_elements`` entries.

    Returns ``(active, neighbours, similarity)``: the columns that have a row (int64), and per
    row the neighbours' column indices (int32, best first, padded with ``n_items``) and their
    similarities (float32, padded with 0).
    """
    n_items = residuals.shape[1]
    by_item = residuals.tocsc()
    active = np.flatnonzero(np.diff(by_item.indptr) >= 2).astype(np.int64)
    m = len(active)
    keep = max(0, min(n_keep, m - 1))
    neighbours = np.full((m, keep), n_items, dtype=np.int32)
    similarity = np.zeros((m, keep), dtype=np.float32)
    if keep == 0:
        return active, neighbours, similarity
    d = by_item[:, active].tocsc()
    d.sort_indices()
    rated = sp.csc_matrix((np.ones_like(d.data), d.indices, d.indptr), shape=d.shape)
    squared = sp.csc_matrix((d.data**2, d.indices, d.indptr), shape=d.shape)
    d_t, rated_t, squared_t = d.T.tocsr(), rated.T.tocsr(), squared.T.tocsr()
    block = max(1, block_elements // m)
    for start in range(0, m, block):
        stop = min(m, start + block)
        prods = (d_t @ d[:, start:stop]).toarray()
        count = (rated_t @ rated[:, start:stop]).toarray()
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = prods / np.sqrt(
                (squared_t @ rated[:, start:stop]).toarray()
                * (rated_t @ squared[:, start:stop]).toarray()
            )
            sim *= (count - 1.0) / (count - 1.0 + shrinkage)
        del prods, count
        sim[~np.isfinite(sim)] = 0.0
        columns = np.arange(stop - start)
        sim[start + columns, columns] = 0.0  # not its own neighbour
        top = np.argpartition(-sim, keep - 1, axis=0)[:keep]
        values = np.take_along_axis(sim, top, axis=0)
        order = np.argsort(-values, axis=0, kind="stable")
        top = np.take_along_axis(top, order, axis=0)
        values = np.take_along_axis(values, order, axis=0)
        positive = values > 0  # only positive similarities ever contribute
        neighbours[start:stop] = np.where(positive, active[top], n_items).T
        similarity[start:stop] = np.where(positive, values, 0.0).T
    return active, neighbours, similarity


def neighbour_average(
    rated: np.ndarray,
    residual: np.ndarray,
    similarity: np.ndarray,
    prior: np.ndarray | float,
    k: int,
    beta: float,
) -> np.ndarray:
    """``(sum s d + beta * prior) / (sum s + beta)`` per row over the first ``k`` rated neighbour
    slots. Slots are sorted by similarity, so these are the ``k`` most similar neighbours with a
    rating; negative similarities are never stored, which makes this Surprise's ``KNNBaseline``
    rule (top ``k`` by similarity, only positive ones count) when ``beta`` is 0.

    ``rated`` (bool, modified in place), ``residual`` (rating minus baseline, 0 where not rated)
    and ``similarity`` (broadcastable) are rows x slots.
    """
    if k < rated.shape[1]:
        over = np.flatnonzero(np.count_nonzero(rated, axis=1) > k)
        if len(over):  # only rows with more than k rated neighbours need the cut
            capped = rated[over]
            capped &= np.cumsum(capped, axis=1) <= k
            rated[over] = capped
    weight = similarity * rated
    num = np.einsum("ij,ij->i", weight, residual).astype(np.float64) + beta * prior
    den = weight.sum(axis=1).astype(np.float64) + beta
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def co_rating_pairs(matrix: sp.csr_matrix) -> float:
    """Work of the similarity computation: sum over users of (number of ratings)^2."""
    per_user = np.diff(matrix.indptr).astype(np.float64)
    return float((per_user**2).sum())


# ---------------------------------------------------------------------------------------------
# Item-based neighbourhood model
# ---------------------------------------------------------------------------------------------
class ItemKNNBaseline:
    """Item-based ``KNNBaseline`` (pearson-baseline, shrunk, top-k) in vectorised NumPy.

    After :meth:`fit`: ``mu``, ``bu`` (by history row), ``bi`` (by item index), ``known_item``,
    ``active`` (items with a neighbour row), ``position`` (item -> row of ``neighbours``, -1),
    ``neighbours``/``similarity`` (``len(active) x K``, best first), ``user_prior`` (each training
    user's shrunk mean residual) and ``history`` (shared with the SVD component).
    """

    def __init__(self, params: RatingSettings | None = None) -> None:
        self.params = params or RatingSettings()
        self.mu = float("nan")
        self.bu = np.empty(0, dtype=np.float64)
        self.bi = np.empty(0, dtype=np.float64)
        self.known_item = np.empty(0, dtype=bool)
        self.active = np.empty(0, dtype=np.int64)
        self.position = np.empty(0, dtype=np.int64)
        self.neighbours = np.empty((0, 0), dtype=np.int32)
        self.similarity = np.empty((0, 0), dtype=np.float32)
        self.user_prior = np.empty(0, dtype=np.float64)
        self.history = RatingHistory.empty()
        self.n_items = 0
        self.fit_seconds = 0.0

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, history: RatingHistory) -> ItemKNNBaseline:
        """Baselines, then the neighbour lists, from the users x items rating matrix."""
        start = time.perf_counter()
        p = self.params
        self.history = history
        matrix = _sorted_csr(history.matrix)
        self.n_items = matrix.shape[1]
        rows, cols, ratings = _triples(matrix)
        self.mu, self.bu, self.bi = als_baselines(
            rows,
            cols,
            ratings,
            matrix.shape,
            reg_item=p.baseline_reg_item,
            reg_user=p.baseline_reg_user,
            epochs=p.baseline_epochs,
        )
        self.known_item = np.bincount(cols, minlength=self.n_items) > 0
        residual = ratings - self.mu - self.bu[rows] - self.bi[cols]
        per_user = np.bincount(rows, minlength=matrix.shape[0])
        self.user_prior = np.bincount(rows, weights=residual, minlength=matrix.shape[0]) / (
            per_user + p.knn_user_prior_reg
        )
        self.active, self.neighbours, self.similarity = pearson_baseline_neighbours(
            sp.csr_matrix((residual, matrix.indices, matrix.indptr), shape=matrix.shape),
            p.knn_neighbours,
            p.knn_shrinkage,
        )
        self._index()
        self.fit_seconds = time.perf_counter() - start
        return self

    def _index(self) -> None:
        self.position = np.full(self.n_items, -1, dtype=np.int64)
        self.position[self.active] = np.arange(len(self.active))
        matrix = _sorted_csr(self.history.matrix)
        rows, cols, _ = _triples(matrix)
        self._keys = rows * np.int64(self.n_items + 1) + cols  # sorted: rows, then columns
        self._values = matrix.data

    # -- prediction ---------------------------------------------------------------------------
    def user_bias(self, items: np.ndarray, ratings: np.ndarray) -> float:
        """The ALS user step for one user's ratings of known items (item baselines fixed)."""
        total = float((ratings - self.mu - self.bi[items]).sum())
        return total / (self.params.baseline_reg_user + len(items))

    def predict_user(
        self, items: np.ndarray, ratings: np.ndarray, targets: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Unclipped predictions from one user's ratings (of item indices), folded in without
        retraining, for ``targets`` (item indices; default every item). ``None`` when no rated
        item is known. Unknown target items get ``mu + b_u`` (callers mark them impossible).

        Vectorised over the targets' neighbour lists: one gather, a masked product and a
        per-row sum (a few ms for every movie of ml-latest-small, well under 1 ms for a page).
        """
        items = np.asarray(items, dtype=np.int64)
        keep = self.known_item[items]
        items, ratings = items[keep], np.asarray(ratings, dtype=np.float64)[keep]
        if len(items) == 0:
            return None
        bu = self.user_bias(items, ratings)
        residual = ratings - self.mu - bu - self.bi[items]
        prior = float(residual.sum() / (len(items) + self.params.knn_user_prior_reg))
        # Lookups by item index; the extra last slot is the neighbour lists' padding.
        value = np.zeros(self.n_items + 1, dtype=np.float32)
        value[items] = residual
        is_rated = np.zeros(self.n_items + 1, dtype=bool)
        is_rated[items] = True
        if targets is None:  # every item: the neighbour arrays as they are, no copies
            targets = np.arange(self.n_items)
            neighbours, similarity = self.neighbours, self.similarity
            with_row = np.zeros(self.n_items, dtype=bool)
            with_row[self.active] = True
        else:
            targets = np.asarray(targets, dtype=np.int64)
            rows = self.position[targets]
            with_row = rows >= 0
            neighbours = self.neighbours[rows[with_row]]
            similarity = self.similarity[rows[with_row]]
        correction = np.full(len(targets), self._prior_only(prior))
        correction[with_row] = self._average(
            np.take(is_rated, neighbours), np.take(value, neighbours), similarity, prior
        )
        known = self.known_item[targets]
        return self.mu + bu + np.where(known, self.bi[targets] + correction, 0.0)

    def _average(
        self, rated: np.ndarray, residual: np.ndarray, similarity: np.ndarray, prior: Any
    ) -> np.ndarray:
        p = self.params
        return neighbour_average(rated, residual, similarity, prior, p.knn_k, p.knn_user_prior)

    def _prior_only(self, prior: np.ndarray | float) -> np.ndarray | float:
        """The correction of an item without neighbours: the user's mean residual (if used)."""
        return prior if self.params.knn_user_prior > 0 else prior * 0.0

    def estimate(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unclipped predictions for pairs of training users (history rows) and known items."""
        rows = np.asarray(rows, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        out = self.mu + self.bu[rows] + self.bi[items]
        prior = self.user_prior[rows]
        correction = np.asarray(self._prior_only(prior), dtype=np.float64).copy()
        pos = self.position[items]
        has_row = np.flatnonzero(pos >= 0)
        last = max(len(self._keys) - 1, 0)
        for start in range(0, len(has_row), ESTIMATE_CHUNK):
            chosen = has_row[start : start + ESTIMATE_CHUNK]
            user = rows[chosen]
            neighbours = self.neighbours[pos[chosen]]
            # The user's rating of each neighbour: look its (row, item) key up in the sorted
            # keys of the rating matrix.
            keys = user[:, None] * np.int64(self.n_items + 1) + neighbours
            at = np.minimum(np.searchsorted(self._keys, keys), last)
            found = self._keys[at] == keys
            bi = self.bi[np.minimum(neighbours, self.n_items - 1)]
            residual = self._values[at] - self.mu - self.bu[user][:, None] - bi
            residual = np.where(found, residual, 0.0).astype(np.float32)
            correction[chosen] = self._average(
                found, residual, self.similarity[pos[chosen]], prior[chosen]
            )
        return out + correction

    # -- persistence --------------------------------------------------------------------------
    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "bu", "bi", "known_item", "active", "neighbours", "similarity", "user_prior",
    )  # fmt: skip

    def save(self, directory: Path, prefix: str = "knn") -> dict[str, Any]:
        """Write ``<prefix>_<array>.npy``; returns the metadata for the caller's JSON."""
        save_arrays(self, directory, prefix, self._ARRAYS)
        return {"mu": self.mu, "n_items": self.n_items, "fit_seconds": self.fit_seconds}

    @classmethod
    def load(
        cls, directory: Path, meta: dict[str, Any], params: RatingSettings,
        history: RatingHistory, prefix: str = "knn",
    ) -> ItemKNNBaseline:  # fmt: skip
        """Inverse of :meth:`save` (the rating history is shared with the SVD component)."""
        obj = cls(params)
        obj.mu = float(meta["mu"])
        obj.n_items = int(meta["n_items"])
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        load_arrays(obj, directory, prefix, cls._ARRAYS)
        obj.history = history
        obj._index()
        return obj


# ---------------------------------------------------------------------------------------------
# User-based neighbourhood model
# ---------------------------------------------------------------------------------------------
class UserKNNBaseline:
    """User-based ``KNNBaseline`` on the item model's baselines: for ``(u, i)``, the shrunk
    pearson-baseline similarity-weighted residuals of the ``user_knn_k`` users most similar to
    ``u`` who rated ``i``, mixed with ``i``'s mean residual at pseudo-weight ``user_knn_prior``.

    Training users keep their top ``user_knn_neighbours`` neighbours (``len(active) x K``) for
    batch :meth:`estimate`; a query (a new user, or a known one with extra ratings) gets its
    similarities to every training user computed on the fly from a column slice of the residual
    matrix (:meth:`predict_user`), so nothing is retrained. Residuals are rebuilt from the
    shared rating history and baselines at load time, not saved.
    """

    def __init__(self, params: RatingSettings | None = None) -> None:
        self.params = params or RatingSettings()
        self.base = ItemKNNBaseline(self.params)  # only its baselines are used
        self.active = np.empty(0, dtype=np.int64)
        self.position = np.empty(0, dtype=np.int64)
        self.neighbours = np.empty((0, 0), dtype=np.int32)
        self.similarity = np.empty((0, 0), dtype=np.float32)
        self.item_prior = np.empty(0, dtype=np.float64)
        self.fit_seconds = 0.0

    def fit(self, base: ItemKNNBaseline) -> UserKNNBaseline:
        """Neighbour lists of the training users, on ``base``'s history and baselines."""
        start = time.perf_counter()
        p = self.params
        self._index(base)
        self.active, self.neighbours, self.similarity = pearson_baseline_neighbours(
            self.by_item.T.tocsr(), p.user_knn_neighbours, p.knn_shrinkage
        )
        self._positions()
        self.fit_seconds = time.perf_counter() - start
        return self

    def _index(self, base: ItemKNNBaseline) -> None:
        self.base = base
        matrix = _sorted_csr(base.history.matrix)
        rows, cols, ratings = _triples(matrix)
        residual = ratings - base.mu - base.bu[rows] - base.bi[cols]
        self.by_user = sp.csr_matrix((residual, matrix.indices, matrix.indptr), shape=matrix.shape)
        self.by_item = self.by_user.tocsc()
        self.by_item.sort_indices()
        n_users, n_items = matrix.shape
        per_item = np.bincount(cols, minlength=n_items)
        self.item_prior = np.bincount(cols, weights=residual, minlength=n_items) / (
            per_item + self.params.knn_user_prior_reg
        )
        # (item, user) keys in the CSC order, which sorts them.
        item_of = np.repeat(np.arange(n_items, dtype=np.int64), np.diff(self.by_item.indptr))
        self._keys = item_of * np.int64(n_users + 1) + self.by_item.indices
        self._values = self.by_item.data

    def _positions(self) -> None:
        self.position = np.full(self.by_user.shape[0], -1, dtype=np.int64)
        self.position[self.active] = np.arange(len(self.active))

    def _average(self, rated: np.ndarray, residual: np.ndarray, similarity: np.ndarray,
                 prior: Any) -> np.ndarray:  # fmt: skip
        p = self.params
        return neighbour_average(rated, residual, similarity, prior, p.user_knn_k, p.user_knn_prior)

    def estimate(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unclipped predictions for pairs of training users (history rows) and known items."""
        base = self.base
        rows = np.asarray(rows, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        out = base.mu + base.bu[rows] + base.bi[items]
        prior = self.item_prior[items]
        correction = prior * (1.0 if self.params.user_knn_prior > 0 else 0.0)
        pos = self.position[rows]
        has_row = np.flatnonzero(pos >= 0)
        last = max(len(self._keys) - 1, 0)
        n_users = self.by_user.shape[0]
        for start in range(0, len(has_row), ESTIMATE_CHUNK):
            chosen = has_row[start : start + ESTIMATE_CHUNK]
            neighbours = self.neighbours[pos[chosen]]
            keys = items[chosen][:, None] * np.int64(n_users + 1) + neighbours
            at = np.minimum(np.searchsorted(self._keys, keys), last)
            found = self._keys[at] == keys
            residual = np.where(found, self._values[at], 0.0).astype(np.float32)
            correction[chosen] = self._average(
                found, residual, self.similarity[pos[chosen]], prior[chosen]
            )
        return out + correction

    def similar_users(
        self, items: np.ndarray, residual: np.ndarray, exclude: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``user_knn_neighbours`` training users (rows, best first) and their positive
        shrunk pearson-baseline similarities to a user with ``residual`` on ``items``."""
        columns = self.by_item[:, items]
        ones = np.ones(len(items))
        rated = sp.csc_matrix((np.ones_like(columns.data), columns.indices, columns.indptr),
                              shape=columns.shape)  # fmt: skip
        squared = sp.csc_matrix((columns.data**2, columns.indices, columns.indptr),
                                shape=columns.shape)  # fmt: skip
        count = rated @ ones
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = (columns @ residual) / np.sqrt((rated @ residual**2) * (squared @ ones))
            sim *= (count - 1.0) / (count - 1.0 + self.params.knn_shrinkage)
        sim[~np.isfinite(sim)] = 0.0
        if exclude is not None:
            sim[exclude] = 0.0
        keep = min(self.params.user_knn_neighbours, len(sim))
        top = np.argpartition(-sim, keep - 1)[:keep] if keep < len(sim) else np.arange(len(sim))
        top = top[np.argsort(-sim[top], kind="stable")]
        top = top[sim[top] > 0]
        return top, sim[top].astype(np.float32)

    def predict_user(
        self,
        items: np.ndarray,
        ratings: np.ndarray,
        targets: np.ndarray | None = None,
        exclude: int | None = None,
    ) -> np.ndarray | None:
        """Unclipped predictions for ``targets`` (default all items) from one user's ratings,
        folded in: user bias by the ALS step, similarities to every training user on the fly
        (``exclude``: the user's own training row). ``None`` when no rated item is known."""
        base = self.base
        items = np.asarray(items, dtype=np.int64)
        keep = base.known_item[items]
        items, ratings = items[keep], np.asarray(ratings, dtype=np.float64)[keep]
        if len(items) == 0:
            return None
        bu = base.user_bias(items, ratings)
        residual = ratings - base.mu - bu - base.bi[items]
        users, sim = self.similar_users(items, residual, exclude)
        block = self.by_user[users]
        if targets is None:
            targets = np.arange(base.n_items)
        else:
            targets = np.asarray(targets, dtype=np.int64)
            block = block[:, targets]
        # Targets x neighbours (best first): who rated what, and their residuals.
        block = block.tocoo()
        rated = np.zeros((len(targets), len(users)), dtype=bool)
        value = np.zeros((len(targets), len(users)), dtype=np.float32)
        rated[block.col, block.row] = True
        value[block.col, block.row] = block.data
        correction = self._average(rated, value, sim[None, :], self.item_prior[targets])
        known = base.known_item[targets]
        return base.mu + bu + np.where(known, base.bi[targets] + correction, 0.0)

    # -- persistence --------------------------------------------------------------------------
    _ARRAYS: ClassVar[tuple[str, ...]] = ("active", "neighbours", "similarity")

    def save(self, directory: Path, prefix: str = "user_knn") -> dict[str, Any]:
        """Write ``<prefix>_<array>.npy`` (the neighbour lists); returns the JSON metadata."""
        save_arrays(self, directory, prefix, self._ARRAYS)
        return {"fit_seconds": self.fit_seconds}

    @classmethod
    def load(
        cls, directory: Path, meta: dict[str, Any], params: RatingSettings,
        base: ItemKNNBaseline, prefix: str = "user_knn",
    ) -> UserKNNBaseline:  # fmt: skip
        """Inverse of :meth:`save`; residuals are rebuilt from ``base`` (the item model)."""
        obj = cls(params)
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        load_arrays(obj, directory, prefix, cls._ARRAYS)
        obj._index(base)
        obj._positions()
        return obj


def _sorted_csr(matrix: sp.spmatrix) -> sp.csr_matrix:
    """CSR with sorted column indices and no duplicates (a copy only when needed)."""
    csr = sp.csr_matrix(matrix)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    return csr


def _triples(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    return rows, matrix.indices.astype(np.int64), matrix.data.astype(np.float64)
