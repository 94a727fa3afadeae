"""Rating prediction: SVD and two neighbourhood models, stacked on validation data.

:class:`RatingModel` ("Predicted rating", the engine's ``"svd"`` component) predicts a user's
star rating of a movie as a linear blend of three models with different errors:

* :class:`~core.signals.collab.SVDRating`: Surprise's biased matrix factorisation (global taste axes);
* :class:`ItemKNNBaseline`: Koren's / Surprise's ``KNNBaseline``, item-based with shrunk
  pearson-baseline similarities (local "people who rated A like this rated B alike" effects):
  ``b_ui + sum_j s_ij (r_uj - b_uj) / sum_j s_ij`` over the ``k`` movies the user rated that are
  most similar to ``i``, with ALS baselines ``b_ui = mu + b_u + b_i``;
* :class:`UserKNNBaseline`: the same, user-based (the users most similar to ``u`` who rated
  ``i``), on the same baselines.

The blend is a ridge regression of the ratings on the three predictions, each weight allowed to
vary with the user's and the movie's number of ratings (feature-weighted linear stacking). It is
learned inside :meth:`RatingModel.fit` on a per-user validation split carved from the training
ratings; then the components are refitted on all of them. 5-fold CV RMSE on ml-latest-small:
SVD 0.8547, item kNN 0.8464, user kNN 0.8510, blend 0.8347 (``python -m core evaluate --parts
rating``; numbers and what did not help in ``core.config.RatingSettings``).

The neighbourhood models are written here in NumPy/SciPy rather than taken from Surprise
because Surprise's ``KNNBaseline`` (a) allocates five dense items x items float64 matrices while
computing similarities (3.8 GB for ml-latest-small's 9.7k movies, 300 GB at ml-32m's 87k),
(b) cannot predict for a user it was not trained on, and (c) predicts one pair at a time in
Python. Here the similarities are computed block by block with sparse products and only the
``knn_neighbours`` best (positive) neighbours per movie are kept (memory O(movies x K)); a new
user's handful of ratings is folded in without retraining (user bias by the baselines' own ALS
step; for the user-based model, similarities to every training user from a column slice of the
residual matrix); and every movie of one user is scored in a few vectorised operations. With
``K`` >= the number of movies (users) and a zero prior (below) both reproduce Surprise's
``KNNBaseline`` exactly (``tests/test_rating.py``).

Two deliberate departures from ``KNNBaseline``, both chosen on validation data: only the top
``K`` neighbours of each movie (user) are candidates (memory), and the neighbours' average is
mixed with a prior at a small pseudo-similarity (the user's mean residual for the item model,
the movie's for the user model), which stands in for the weak far-away neighbours the
truncation drops and damps single-neighbour noise (item kNN alone on the first CV fold:
Surprise's untruncated 0.8592, top-100 truncated 0.8675, top-200 with the prior 0.8525).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.data.catalog import Catalog
from core.signals.collab import SVD_FOLD_IN_FLOOR, SVDRating, _empty_history, _known_fields
from core.config import RatingSettings, Settings
from core.evaluation.splits import stratified_split
from core.signals.popularity import RatingHistory, read_meta
from core.signals.base import Query, Scorer, Scores, save_json

#: Dense float64 temporaries of the blockwise similarity computation hold at most this many
#: entries each (movies x block columns): ~32 MB, whatever the catalogue size.
SIM_BLOCK_ELEMENTS = 4_000_000
#: Pairs predicted per chunk in :meth:`ItemKNNBaseline.estimate` (bounds its temporaries).
ESTIMATE_CHUNK = 8_192
#: Fewer validation ratings than this: keep the plain average (no weights are learned).
MIN_VALIDATION = 30


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
        self.history = _empty_history()
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
        for key in self._ARRAYS:
            np.save(directory / f"{prefix}_{key}.npy", getattr(self, key))
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
        for key in cls._ARRAYS:
            setattr(obj, key, np.load(directory / f"{prefix}_{key}.npy"))
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
        for key in self._ARRAYS:
            np.save(directory / f"{prefix}_{key}.npy", getattr(self, key))
        return {"fit_seconds": self.fit_seconds}

    @classmethod
    def load(
        cls, directory: Path, meta: dict[str, Any], params: RatingSettings,
        base: ItemKNNBaseline, prefix: str = "user_knn",
    ) -> UserKNNBaseline:  # fmt: skip
        """Inverse of :meth:`save`; residuals are rebuilt from ``base`` (the item model)."""
        obj = cls(params)
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        for key in cls._ARRAYS:
            setattr(obj, key, np.load(directory / f"{prefix}_{key}.npy"))
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


# ---------------------------------------------------------------------------------------------
# The stacked model
# ---------------------------------------------------------------------------------------------
#: Components in blend order (the SVD is always there; the others when feasible and enabled).
COMPONENTS = ("svd", "knn", "user_knn")
COMPONENT_LABELS = {
    "svd": "SVD, tuned",
    "knn": "item kNN with baselines",
    "user_knn": "user kNN with baselines",
}


class RatingModel(Scorer):
    """Predicted rating: SVD, item kNN and user kNN with baselines, blended by weights learned
    on validation data (the engine's ``"svd"`` component; same API as :class:`SVDRating`).

    Fallbacks are SVD's, with ``was_impossible`` set: an unknown user without usable ratings gets
    ``mu + b_i`` ("unknown user: item mean"), an unknown or unrated movie ``mu + b_u``, both the
    global mean. Estimates are clipped to the rating scale.

    After :meth:`fit`: ``svd`` (an :class:`SVDRating`), ``knn`` (:class:`ItemKNNBaseline`) and
    ``user_knn`` (:class:`UserKNNBaseline`), each ``None`` when skipped (see ``notes``);
    ``components`` (the names in use), ``features``/``weights`` (the stacking regression),
    ``support`` (its support-feature ranges), ``validation`` (RMSE of each component, their
    average and the blend on the validation split) and ``fit_seconds``.
    """

    name = "svd"
    label = "Predicted rating"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        fold_in_reg: float | None = None,
        fold_in_floor: float = SVD_FOLD_IN_FLOOR,
    ) -> None:
        settings = settings or Settings()
        self.settings = settings
        self.params: RatingSettings = settings.rating
        self.svd = SVDRating(settings, fold_in_reg=fold_in_reg, fold_in_floor=fold_in_floor)
        self.knn: ItemKNNBaseline | None = None
        self.user_knn: UserKNNBaseline | None = None
        self.features: list[str] = ["intercept", "svd"]
        self.weights = np.array([0.0, 1.0])
        # log(1 + n) support of users / movies: [lowest, highest, centre] seen in validation.
        self.support: dict[str, list[float]] = {}
        self.item_count = np.empty(0, dtype=np.int64)
        self.validation: dict[str, float] = {}
        self.notes: list[str] = []
        self.fit_seconds = 0.0

    # -- delegated state ----------------------------------------------------------------------
    @property
    def history(self) -> RatingHistory:
        """The training ratings (shared by all components)."""
        return self.svd.history

    @property
    def mu(self) -> float:
        """Global mean rating (SVD's)."""
        return self.svd.mu

    @property
    def scale(self) -> tuple[float, float]:
        """The rating scale predictions are clipped to."""
        return self.svd.scale

    @property
    def known_item(self) -> np.ndarray:
        """Items the model saw ratings of (others get the unknown-movie fallback)."""
        return self.svd.known_item

    @property
    def components(self) -> list[str]:
        """Names of the components in use, in blend order."""
        found = {"svd": self.svd, "knn": self.knn, "user_knn": self.user_knn}
        return [name for name in COMPONENTS if found[name] is not None]

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, catalog: Catalog) -> RatingModel:
        """Learn blend weights on a validation split, then fit the components on everything."""
        start = time.perf_counter()
        p = self.params
        self.n_items = catalog.n_items
        self.notes = []
        self.validation = {}
        self.support = {}
        use = self._feasible(catalog)
        self.knn = self.user_knn = None
        if len(use) > 1:
            train, valid = stratified_split(catalog.ratings, p.valid_fraction, p.random_state)
            if len(valid) >= MIN_VALIDATION:
                self._fit_components(_with_ratings(catalog, train), use)
                self._learn_weights(valid)
            else:
                self._set_weights(use, None)
                self.notes.append(f"only {len(valid)} validation ratings: plain average")
            refit = p.refit and len(catalog.ratings) <= p.refit_max_ratings
            if p.refit and not refit:
                self.notes.append(
                    f"components fitted once, on {1 - p.valid_fraction:.0%} of the ratings "
                    f"(more than refit_max_ratings {p.refit_max_ratings:,})"
                )
            if refit or len(valid) < MIN_VALIDATION:
                self._fit_components(catalog, use)
        else:
            self._fit_components(catalog, use)
            self._set_weights(use, None)
        self._count()
        self.fit_seconds = time.perf_counter() - start
        return self

    def _feasible(self, catalog: Catalog) -> list[str]:
        """Components to use: SVD, and the neighbourhood models unless off or too big."""
        p = self.params
        use = ["svd"]
        stats = catalog.rating_stats["n_ratings"].to_numpy()
        matrix = catalog.user_items
        checks = (
            ("knn", p.knn, "rated movies", int((stats > 0).sum()), p.knn_max_items,
             co_rating_pairs(matrix)),
            ("user_knn", p.user_knn, "users", matrix.shape[0], p.knn_max_users,
             float((stats.astype(np.float64) ** 2).sum())),
        )  # fmt: skip
        for name, wanted, what, size, max_size, pairs in checks:
            if not wanted or (name == "user_knn" and "knn" not in use):
                continue  # the user-based model runs on the item model's baselines
            if size > max_size:
                self.notes.append(f"{name} skipped: {size:,} {what} > {max_size:,}")
            elif pairs > p.knn_max_pairs:
                self.notes.append(
                    f"{name} skipped: {pairs:.2g} co-rating pairs > {p.knn_max_pairs:.2g}"
                )
            else:
                use.append(name)
        return use

    def _fit_components(self, catalog: Catalog, use: Sequence[str]) -> None:
        self.svd = SVDRating(
            self.settings, fold_in_reg=self.svd.fold_in_reg, fold_in_floor=self.svd.fold_in_floor
        ).fit(catalog)
        self.knn = ItemKNNBaseline(self.params).fit(self.svd.history) if "knn" in use else None
        self.user_knn = None
        if self.knn is not None and "user_knn" in use:
            self.user_knn = UserKNNBaseline(self.params).fit(self.knn)

    def _count(self) -> None:
        self.item_count = np.bincount(self.history.matrix.indices, minlength=self.n_items)

    def _set_weights(self, names: Sequence[str], support: bool | None) -> None:
        """Feature names for ``names`` and the plain average as weights."""
        self.features = ["intercept", *names]
        if support:
            self.features += [f"{n}*user_support" for n in names]
            self.features += [f"{n}*item_support" for n in names]
            self.features += ["user_support", "item_support"]
        self.weights = np.zeros(len(self.features))
        self.weights[1 : 1 + len(names)] = 1.0 / len(names)

    def _learn_weights(self, valid: pd.DataFrame) -> None:
        """Ridge regression of the validation ratings on the (clipped) component predictions,
        with support interactions if ``blend_support`` (feature-weighted linear stacking, Sill
        et al. 2009: each component's weight may vary with log(1 + ratings) of the user and of
        the movie, centred and clipped to the range seen here, so a new user with 5 ratings
        does not extrapolate), pulled towards the plain average by ``blend_ridge`` (which
        matters only for tiny data)."""
        names = self.components
        self._set_weights(names, self.params.blend_support)
        users = valid["userId"].to_numpy(dtype=np.int64)
        movies = valid["movieId"].to_numpy(dtype=np.int64)
        estimates, possible = self._estimates(users, movies)
        target = valid["rating"].to_numpy(dtype=np.float64)[possible]
        n_user, n_item = support_counts(self.history, users[possible], movies[possible])
        if self.params.blend_support:
            for key, count in (("user", n_user), ("item", n_item)):
                log = np.log1p(count)
                self.support[key] = [float(log.min()), float(log.max()), float(log.mean())]
        design = self._design([e[possible] for e in estimates], n_user, n_item)
        prior = self.weights.copy()
        penalty = np.eye(design.shape[1]) * self.params.blend_ridge
        penalty[0, 0] = 0.0  # the intercept is free
        self.weights = np.linalg.solve(
            design.T @ design + penalty, design.T @ target + penalty @ prior
        )
        lo, hi = self.scale
        count = len(names)
        self.validation = {"n": float(len(target))}
        for column, name in enumerate(names, start=1):
            self.validation[f"rmse_{name}"] = _rmse(design[:, column], target)
        average = np.clip(design[:, 1 : 1 + count].mean(axis=1), lo, hi)
        self.validation["rmse_average"] = _rmse(average, target)
        self.validation["rmse_blend"] = _rmse(np.clip(design @ self.weights, lo, hi), target)

    def _design(
        self, estimates: Sequence[np.ndarray], n_user: np.ndarray | float, n_item: np.ndarray
    ) -> np.ndarray:
        """The stacking regression's columns (``features``) for the components' estimates
        (clipped here) and the training ratings of each pair's user and movie."""
        lo, hi = self.scale
        columns = [np.clip(np.asarray(e, dtype=np.float64), lo, hi) for e in estimates]
        design = [np.ones(len(columns[0])), *columns]
        if self.support:
            supports = []
            for key, count in (("user", n_user), ("item", n_item)):
                low, high, centre = self.support[key]
                log = np.log1p(np.broadcast_to(np.asarray(count, np.float64), columns[0].shape))
                supports.append(np.clip(log, low, high) - centre)
            user, item = supports
            design += [c * user for c in columns] + [c * item for c in columns] + [user, item]
        return np.column_stack(design)

    def _blend(
        self, estimates: Sequence[np.ndarray], n_user: np.ndarray | float, items: np.ndarray
    ) -> np.ndarray:
        """Clipped blend of the components' estimates for pairs with ``items`` (indices)."""
        lo, hi = self.scale
        design = self._design(estimates, n_user, self.item_count[items])
        return np.clip(design @ self.weights, lo, hi)

    def _estimates(
        self, user_ids: np.ndarray, movie_ids: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Every component's estimates for many pairs, and the mask of pairs the neighbourhood
        models can predict (training user, rated movie); elsewhere they repeat SVD's fallback."""
        users = np.asarray(user_ids, dtype=np.int64)
        movies = np.asarray(movie_ids, dtype=np.int64)
        svd_est = np.asarray(self.svd.estimate(users, movies), dtype=np.float64)
        known_users = self.history.user_ids
        rows = np.clip(np.searchsorted(known_users, users), 0, max(len(known_users) - 1, 0))
        user_ok = known_users[rows] == users if len(known_users) else np.zeros(len(users), bool)
        items = self.svd._items_or_minus_one(movies)
        item_ok = items >= 0
        item_ok[item_ok] = self.known_item[items[item_ok]]
        possible = user_ok & item_ok
        out = [svd_est]
        for model in (self.knn, self.user_knn):
            if model is not None:
                est = svd_est.copy()
                est[possible] = model.estimate(rows[possible], items[possible])
                out.append(est)
        return out, possible

    # -- per-user predictions -----------------------------------------------------------------
    def _neighbourhood_user(
        self,
        user_id: int | None,
        ratings: Mapping[int, float] | None,
        targets: np.ndarray | None = None,
    ) -> tuple[list[np.ndarray], int] | None:
        """The neighbourhood models' predictions of ``targets`` (item indices, default all) for
        a user and/or extra ratings, and how many ratings they rest on; ``None`` for an unknown
        user without usable ratings."""
        if self.knn is None:
            return None
        items, values, _ = self.history.merged(user_id, dict(ratings or {}))
        used = int(self.knn.known_item[items].sum()) if len(items) else 0
        if used == 0:
            return None
        if targets is not None and len(targets) > self.n_items // 4:
            # Many targets: every item without gathering copies of the neighbour lists.
            found = self._neighbourhood_user(user_id, ratings)
            return ([o[targets] for o in found[0]], used) if found is not None else None
        out = [cast(np.ndarray, self.knn.predict_user(items, values, targets))]
        if self.user_knn is not None:
            own = self.history.user_row(user_id)
            out.append(cast(np.ndarray, self.user_knn.predict_user(items, values, targets, own)))
        return out, used

    def user_vector(
        self, user_id: int | None, ratings: Mapping[int, float] | None = None
    ) -> tuple[float, np.ndarray, str, list[str]] | None:
        """The SVD component's ``(b_u, p_u, how, notes)`` (see :meth:`SVDRating.user_vector`)."""
        return self.svd.user_vector(user_id, ratings)

    def predict(
        self,
        user_id: int | None,
        movie_ids: Sequence[int] | np.ndarray,
        ratings: Mapping[int, float] | None = None,
    ) -> pd.DataFrame:
        """Predicted ratings in Surprise's manner: ``movieId, est, was_impossible, reason``.

        ``ratings`` ({movieId: rating}) are folded into every component without retraining
        (they override the stored history of ``user_id``). Fallbacks as :class:`SVDRating`.
        """
        frame = self.svd.predict(user_id, movie_ids, ratings)
        possible = ~frame["was_impossible"].to_numpy()
        if possible.any() and len(self.components) > 1:
            ids = frame["movieId"].to_numpy(dtype=np.int64)[possible]
            items = self.svd._items_or_minus_one(ids)
            found = self._neighbourhood_user(user_id, ratings, items)
            if found is not None:
                others, used = found
                est = frame["est"].to_numpy(dtype=np.float64).copy()
                est[possible] = self._blend([est[possible], *others], used, items)
                frame["est"] = est
        return frame

    def estimate(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """Clipped estimates for many (user, movie) pairs of training users at once (for
        evaluation); unknown users or movies get the fallbacks of :meth:`predict`."""
        if len(self.components) == 1:
            return self.svd.estimate(user_ids, movie_ids)
        users = np.asarray(user_ids, dtype=np.int64)
        movies = np.asarray(movie_ids, dtype=np.int64)
        estimates, possible = self._estimates(users, movies)
        n_user, _ = support_counts(self.history, users[possible], movies[possible])
        items = self.svd._items_or_minus_one(movies[possible])
        out = estimates[0].copy()
        out[possible] = self._blend([e[possible] for e in estimates], n_user, items)
        return out

    def score(self, query: Query) -> Scores:
        """Predicted rating of every rated movie for ``query.user_id`` / ``query.ratings``.

        As :meth:`SVDRating.score`: unrated movies are NaN; an unknown user without ratings gets
        the non-personal ``mu + b_i`` with a note; seeds and text are not used.
        """
        scores = self.svd.score(query)
        if len(self.components) == 1 or not scores.has_opinion:
            return scores
        if self.svd.user_vector(query.user_id, query.ratings) is None:
            return scores  # SVD's non-personal fallback
        known = np.flatnonzero(self.known_item)
        found = self._neighbourhood_user(query.user_id, query.ratings)
        if found is None:
            return scores
        others, used = found
        values = np.full(self.n_items, np.nan, dtype=np.float32)
        svd_values = scores.values[known].astype(np.float64)
        values[known] = self._blend([svd_values, *(o[known] for o in others)], used, known)
        return Scores(values, scores.note)

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"predicted 4.5★"`` for each item with a prediction."""
        values = self.score(query).values[np.asarray(items, dtype=np.int64)]
        return [f"predicted {v:.1f}★" if np.isfinite(v) else None for v in values.tolist()]

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """SVD's files (``svd_*``, with the rating history), ``knn_*.npy``, ``user_knn_*.npy``
        and ``rating.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.svd.save(directory)
        save_json(
            directory / "rating.json",
            {
                "kind": "rating",
                "params": dataclasses.asdict(self.params),
                "components": self.components,
                "features": self.features,
                "weights": self.weights.tolist(),
                "support": self.support,
                "knn": self.knn.save(directory) if self.knn else None,
                "user_knn": self.user_knn.save(directory) if self.user_knn else None,
                "validation": self.validation,
                "notes": self.notes,
                "n_items": self.n_items,
                "fit_seconds": self.fit_seconds,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> RatingModel:
        """Read what :meth:`save` wrote; ``ValueError`` if the folder holds something else
        (a bare :class:`SVDRating` folder included: it predates the ensemble)."""
        meta = read_meta(directory / "rating.json", "rating")
        svd = SVDRating.load(directory)
        params = _known_fields(RatingSettings, meta["params"])
        obj = cls(Settings(svd=svd.params, rating=params))
        obj.svd = svd
        obj.features = list(meta["features"])
        obj.weights = np.asarray(meta["weights"], dtype=np.float64)
        obj.support = {k: [float(x) for x in v] for k, v in meta.get("support", {}).items()}
        obj.validation = {k: float(v) for k, v in meta.get("validation", {}).items()}
        obj.notes = list(meta.get("notes", []))
        obj.n_items = int(meta["n_items"])
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        if meta.get("knn") is not None:
            obj.knn = ItemKNNBaseline.load(directory, meta["knn"], params, svd.history)
        if meta.get("user_knn") is not None and obj.knn is not None:
            obj.user_knn = UserKNNBaseline.load(directory, meta["user_knn"], params, obj.knn)
        obj._count()
        return obj


def component_estimates(
    model: RatingModel, user_ids: np.ndarray, movie_ids: np.ndarray
) -> dict[str, np.ndarray]:
    """Each component's clipped estimates for many pairs (its own where it can predict, SVD's
    fallbacks elsewhere), by component name: for evaluation tables."""
    estimates, _ = model._estimates(user_ids, movie_ids)
    lo, hi = model.scale
    return {
        name: np.clip(est, lo, hi) for name, est in zip(model.components, estimates, strict=True)
    }


def support_counts(
    history: RatingHistory, user_ids: np.ndarray, movie_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Training ratings of each pair's user and movie (0 when unknown)."""
    per_user = np.diff(history.matrix.indptr)
    per_item = np.bincount(history.matrix.indices, minlength=history.matrix.shape[1])
    users = np.asarray(user_ids, dtype=np.int64)
    rows = np.clip(np.searchsorted(history.user_ids, users), 0, max(len(history.user_ids) - 1, 0))
    user_ok = history.user_ids[rows] == users if len(history.user_ids) else users < 0
    order = np.argsort(history.movie_ids)
    movies = np.asarray(movie_ids, dtype=np.int64)
    at = np.clip(np.searchsorted(history.movie_ids[order], movies), 0, max(len(order) - 1, 0))
    item_ok = history.movie_ids[order][at] == movies if len(order) else movies < 0
    n_user = np.where(user_ok, per_user[rows] if len(per_user) else 0, 0)
    n_item = np.where(item_ok, per_item[order[at]] if len(per_item) else 0, 0)
    return n_user, n_item


def _with_ratings(catalog: Catalog, ratings: pd.DataFrame) -> Catalog:
    """The same movies and tags with only some ratings (a training part)."""
    return Catalog(catalog.name, catalog.movies, ratings.reset_index(drop=True), catalog.tags,
                   catalog.report)  # fmt: skip


def _rmse(est: np.ndarray, truth: np.ndarray) -> float:
    if len(truth) == 0:
        return 0.0
    return float(np.sqrt(np.mean((np.asarray(est) - np.asarray(truth)) ** 2)))
