"""Surprise's biased matrix factorisation (SVD) as a rating predictor, served without Surprise.

:class:`SVDRating` fits Surprise's ``SVD`` once on a lean trainset (:func:`lean_trainset`) and
copies its parameters into NumPy arrays aligned to the catalogue, so predicting every movie for
a user is one matrix-vector product and a new user's handful of ratings is folded in by a
closed-form ridge regression. It must not keep Surprise objects (saved as arrays + JSON).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve

from core.config import Settings, SVDSettings
from core.data.catalog import Catalog
from core.signals.base import (
    Query,
    Scorer,
    Scores,
    known_fields,
    load_arrays,
    read_meta,
    save_arrays,
    save_json,
)
from core.signals.history import RatingHistory, unknown_notes
from core.signals.numeric import matvec

#: Least ridge penalty of an SVD fold-in. The penalty is ``reg_all * n_ratings`` (what Surprise's
#: SGD applies, once per rating) but at least this: with a handful of ratings ``reg_all * 5`` lets
#: 100 factors overfit (held-out RMSE with and without the floor in docs/experiments/signals.md).
SVD_FOLD_IN_FLOOR = 3.0


class _UserRatings:
    """One user's ``(inner item id, rating)`` pairs for Surprise, re-iterable, stored compactly.

    Surprise's SGD only iterates ``trainset.ur[u]`` for pairs; two tuples of shared Python
    objects (one int per item, one float per distinct rating) cost 16 bytes a rating against
    ~110 for its own list of fresh ``(int, float)`` tuples.
    """

    __slots__ = ("items", "ratings")

    def __init__(self, items: tuple[int, ...], ratings: tuple[float, ...]) -> None:
        self.items = items
        self.ratings = ratings

    def __iter__(self) -> Iterator[tuple[int, float]]:
        return zip(self.items, self.ratings, strict=True)

    def __len__(self) -> int:
        return len(self.items)


def _shared(pool: list[Any], codes: np.ndarray) -> tuple[Any, ...]:
    """``tuple(pool[c] for c in codes)`` at C speed, sharing ``pool``'s objects."""
    if len(codes) == 0:
        return ()
    picked = itemgetter(*codes.tolist())(pool)
    return picked if len(codes) > 1 else (picked,)


def lean_trainset(
    ratings: pd.DataFrame, scale: tuple[float, float]
) -> tuple[Any, np.ndarray, np.ndarray]:
    """A Surprise ``Trainset`` of ``ratings`` (``userId``, ``movieId``, ``rating``) built without
    ``Dataset.load_from_df``; also the raw user and movie ids of the inner ids.

    Written here because Surprise's loader keeps every rating as Python tuples three times over
    (the raw list, ``ur`` and ``ir``): 3.6 GiB of RSS for 10M ratings, past the 12 GiB budget
    at 32M. Inner ids follow the order of first appearance and each user's pairs the frame's
    order, exactly as Surprise numbers them, so the SGD sees the same sequence and fits the
    same parameters (checked in tests/signals/test_svd.py). ``ir`` maps items to empty tuples:
    SVD never reads it.
    """
    from surprise import Trainset

    users = ratings["userId"].to_numpy()
    movies = ratings["movieId"].to_numpy()
    raw_users, user_codes = _first_appearance(users)
    raw_items, item_codes = _first_appearance(movies)
    values, value_codes = np.unique(ratings["rating"].to_numpy(np.float64), return_inverse=True)
    item_pool = list(range(len(raw_items)))
    value_pool = [float(v) for v in values]
    order = np.argsort(user_codes, kind="stable")  # the frame's order within each user
    bounds = np.searchsorted(user_codes[order], np.arange(len(raw_users) + 1))
    ur = {}
    for u in range(len(raw_users)):
        rows = order[bounds[u] : bounds[u + 1]]
        ur[u] = _UserRatings(_shared(item_pool, item_codes[rows]),
                             _shared(value_pool, value_codes[rows]))  # fmt: skip
    trainset = Trainset(
        ur,
        dict.fromkeys(range(len(raw_items)), ()),
        len(raw_users),
        len(raw_items),
        len(ratings),
        scale,
        {raw: inner for inner, raw in enumerate(raw_users.tolist())},
        {raw: inner for inner, raw in enumerate(raw_items.tolist())},
    )
    return trainset, raw_users, raw_items


def _first_appearance(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``ids`` in order of first appearance, and each element's position among them."""
    unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(unique), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(unique))
    return unique[np.argsort(first, kind="stable")], rank[inverse]


class SVDRating(Scorer):
    """Surprise ``SVD`` (biased MF) with vectorised, Surprise-free prediction and fold-in.

    After :meth:`fit`: ``mu`` (global mean), ``bi``/``qi`` (item biases/factors by item index,
    zero for unrated movies), ``bu``/``pu`` (user biases/factors by row of ``history.user_ids``),
    ``known_item`` (items the model saw) and ``history`` (the training ratings).
    """

    # Its own name: "svd" is the engine component, i.e. :class:`RatingModel`. The files below
    # keep their literal ``svd_`` prefix, so a RatingModel folder is unchanged.
    name = "svd_mf"
    label = "Predicted rating"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        fold_in_reg: float | None = None,
        fold_in_floor: float = SVD_FOLD_IN_FLOOR,
    ) -> None:
        self.params: SVDSettings = (settings or Settings()).svd
        self.fold_in_reg = fold_in_reg  # a fixed penalty instead of max(reg_all * n, floor)
        self.fold_in_floor = float(fold_in_floor)
        self.mu = float("nan")
        self.scale: tuple[float, float] = (0.5, 5.0)
        self.bu = np.empty(0, dtype=np.float32)
        self.pu = np.empty((0, 0), dtype=np.float32)
        self.bi = np.empty(0, dtype=np.float32)
        self.qi = np.empty((0, 0), dtype=np.float32)
        self.known_item = np.empty(0, dtype=bool)
        self.history = RatingHistory.empty()
        self.fit_seconds = 0.0

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, catalog: Catalog) -> SVDRating:
        """Train Surprise SVD on ``catalog.ratings`` and copy its parameters into arrays."""
        from surprise import SVD  # heavy import, only needed to train

        start = time.perf_counter()
        self.scale = (float(catalog.report.rating_scale[0]), float(catalog.report.rating_scale[1]))
        self.n_items = catalog.n_items
        self.history = RatingHistory.from_catalog(catalog)
        trainset, raw_users, raw_items = lean_trainset(catalog.ratings, self.scale)
        p = self.params
        algo = SVD(
            n_factors=p.n_factors,
            n_epochs=p.n_epochs,
            lr_all=p.lr_all,
            reg_all=p.reg_all,
            random_state=p.random_state,
            biased=True,
        )
        algo.fit(trainset)
        # Inner ids are numbered in order of appearance, as Surprise does; map them to ours.
        items = catalog.items_for(raw_items.astype(np.int64))
        rows = np.searchsorted(self.history.user_ids, raw_users.astype(np.int64))
        k = p.n_factors
        self.mu = float(trainset.global_mean)
        self.bi = np.zeros(catalog.n_items, dtype=np.float32)
        self.qi = np.zeros((catalog.n_items, k), dtype=np.float32)
        self.known_item = np.zeros(catalog.n_items, dtype=bool)
        self.bi[items] = algo.bi
        self.qi[items] = algo.qi
        self.known_item[items] = True
        self.bu = np.zeros(len(self.history.user_ids), dtype=np.float32)
        self.pu = np.zeros((len(self.history.user_ids), k), dtype=np.float32)
        self.bu[rows] = algo.bu
        self.pu[rows] = algo.pu
        self.fit_seconds = time.perf_counter() - start
        return self

    # -- user vectors -------------------------------------------------------------------------
    def fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """User bias and factors for ``ratings`` of item indices, item parameters held fixed.

        Minimises ``sum (r - mu - b_i - b_u - q_i.p)^2 + lam * (b_u^2 + |p|^2)`` in closed
        form: one (k+1)x(k+1) solve. ``lam`` is ``max(reg_all * n, fold_in_floor)`` (Surprise's
        SGD regularises once per rating; the floor tames tiny profiles) unless ``fold_in_reg``
        fixes it.
        """
        items = np.asarray(items, dtype=np.int64)
        keep = self.known_item[items]
        items = items[keep]
        ratings = np.asarray(ratings, dtype=np.float64)[keep]
        k = self.qi.shape[1]
        if len(items) == 0:
            return 0.0, np.zeros(k, dtype=np.float32)
        design = np.empty((len(items), k + 1), dtype=np.float64)
        design[:, 0] = 1.0
        design[:, 1:] = self.qi[items]
        target = ratings - self.mu - self.bi[items]
        lam = max(self.params.reg_all * len(items), self.fold_in_floor)
        if self.fold_in_reg is not None:
            lam = self.fold_in_reg
        gram = design.T @ design
        gram[np.diag_indices_from(gram)] += lam
        # Cholesky (the system is positive definite): a fraction of a millisecond, where
        # np.linalg.solve wakes OpenBLAS threads (timings in docs/experiments/signals.md).
        factor = cho_factor(gram, check_finite=False)
        solution = cho_solve(factor, design.T @ target, check_finite=False)
        return float(solution[0]), solution[1:].astype(np.float32)

    def user_vector(
        self, user_id: int | None, ratings: Mapping[int, float] | None = None
    ) -> tuple[float, np.ndarray, str, list[str]] | None:
        """``(b_u, p_u, how, notes)`` for a user and/or extra ratings; ``None`` when unknown.

        A training user without extra ratings gets the trained vector; otherwise the stored
        history merged with ``ratings`` (which override it) is folded in.
        """
        row = self.history.user_row(user_id)
        if row is not None and not ratings:
            return float(self.bu[row]), self.pu[row], f"predicted for user {user_id}", []
        items, values, notes = self.history.merged(user_id, dict(ratings or {}))
        usable = int(self.known_item[items].sum()) if len(items) else 0
        if usable == 0:
            return None
        bu, pu = self.fold_in(items, values)
        return bu, pu, f"folded in {usable} ratings", notes

    # -- prediction ---------------------------------------------------------------------------
    def predict(
        self,
        user_id: int | None,
        movie_ids: Sequence[int] | np.ndarray,
        ratings: Mapping[int, float] | None = None,
    ) -> pd.DataFrame:
        """Predicted ratings in Surprise's manner: ``movieId, est, was_impossible, reason``.

        Unknown user (and no usable ``ratings``): ``mu + b_i`` ("unknown user: item mean");
        unknown or unrated movie: ``mu + b_u``; both: the global mean. ``was_impossible`` is True
        whenever such a fallback was used; estimates are clipped to the rating scale.
        """
        ids = np.asarray(movie_ids, dtype=np.int64).reshape(-1)
        items = self.items_of(ids)
        item_ok = items >= 0
        item_ok[item_ok] = self.known_item[items[item_ok]]
        safe = np.where(item_ok, items, 0)
        user = self.user_vector(user_id, ratings)
        est = np.full(len(ids), self.mu, dtype=np.float64)
        est += np.where(item_ok, self.bi[safe], 0.0)
        if user is not None:
            bu, pu, _, _ = user
            est += bu + np.where(item_ok, matvec(self.qi[safe], pu), 0.0)
        reason = np.full(len(ids), "", dtype=object)
        if user is None:
            reason[item_ok] = "unknown user: item mean"
            reason[~item_ok] = "unknown user and movie: global mean"
        else:
            reason[~item_ok] = "unknown movie: global mean + user bias"
        lo, hi = self.scale
        return pd.DataFrame(
            {
                "movieId": ids,
                "est": np.clip(est, lo, hi),
                "was_impossible": (~item_ok) | (user is None),
                "reason": reason.astype(str),
            }
        )

    def estimate(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """Clipped estimates for many (user, movie) pairs of training users at once (for
        evaluation); unknown users or movies get Surprise's fallbacks, as in :meth:`predict`."""
        users = np.asarray(user_ids, dtype=np.int64)
        rows = np.searchsorted(self.history.user_ids, users)
        rows = np.clip(rows, 0, max(len(self.history.user_ids) - 1, 0))
        user_ok = self.history.user_ids[rows] == users if len(self.history.user_ids) else users < 0
        items = self.items_of(np.asarray(movie_ids, dtype=np.int64))
        item_ok = items >= 0
        item_ok[item_ok] = self.known_item[items[item_ok]]
        items = np.where(item_ok, items, 0)
        both = user_ok & item_ok
        est = (
            self.mu + np.where(user_ok, self.bu[rows], 0.0) + np.where(item_ok, self.bi[items], 0.0)
        )
        dots = np.einsum("ij,ij->i", self.pu[rows[both]], self.qi[items[both]])
        est[both] += dots
        return np.clip(est, *self.scale)

    def score(self, query: Query) -> Scores:
        """Predicted rating of every rated movie for ``query.user_id`` / ``query.ratings``.

        Unrated movies are NaN (the model knows nothing about them). An unknown user without
        ratings gets the non-personal ``mu + b_i`` with a note; seeds and text are not used.
        """
        notes = unknown_notes(self.history, query)
        if query.user_id is None and not query.ratings:
            why = "empty query" if query.is_empty() else "rating prediction needs a user or ratings"
            return Scores.empty(self.n_items, "; ".join([why, *notes]))
        user = self.user_vector(query.user_id, query.ratings)
        est = self.mu + self.bi.astype(np.float64)
        if user is None:
            notes = [n for n in notes if not n.startswith("unknown user")]
            notes.insert(0, f"unknown user {query.user_id}: item mean (not personalised)")
        else:
            bu, pu, how, _ = user
            est += bu + matvec(self.qi, pu)
            notes.append(how)
        lo, hi = self.scale
        values = np.where(self.known_item, np.clip(est, lo, hi), np.nan).astype(np.float32)
        return Scores(values, "; ".join(notes))

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"predicted 4.5★"`` for each item with a prediction."""
        values = self.score(query).values[np.asarray(items, dtype=np.int64)]
        return [f"predicted {v:.1f}★" if np.isfinite(v) else None for v in values.tolist()]

    def items_of(self, movie_ids: np.ndarray) -> np.ndarray:
        """Item index per movieId, -1 for ids not in the catalogue (vectorised; the stacked
        :class:`~core.signals.rating.model.RatingModel` maps its pairs with it too)."""
        order = np.argsort(self.history.movie_ids)
        sorted_ids = self.history.movie_ids[order]
        pos = np.clip(np.searchsorted(sorted_ids, movie_ids), 0, max(len(order) - 1, 0))
        if len(order) == 0:
            return np.full(len(movie_ids), -1, dtype=np.int64)
        found = sorted_ids[pos] == movie_ids
        return np.where(found, order[pos], -1).astype(np.int64)

    # -- persistence --------------------------------------------------------------------------
    _ARRAYS: ClassVar[tuple[str, ...]] = ("bu", "pu", "bi", "qi", "known_item")

    def save(self, directory: Path) -> None:
        """Write ``svd_<array>.npy`` files, the rating history and ``svd.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        save_arrays(self, directory, "svd", self._ARRAYS)
        self.history.save(directory, "svd")
        save_json(
            directory / "svd.json",
            {
                "kind": "svd",
                "mu": self.mu,
                "scale": list(self.scale),
                "params": dataclasses.asdict(self.params),
                "fold_in_reg": self.fold_in_reg,
                "fold_in_floor": self.fold_in_floor,
                "n_items": self.n_items,
                "fit_seconds": self.fit_seconds,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> SVDRating:
        """Read what :meth:`save` wrote; ``ValueError`` if the folder holds something else."""
        meta = read_meta(directory / "svd.json", "svd")
        obj = cls(fold_in_reg=meta["fold_in_reg"], fold_in_floor=meta["fold_in_floor"])
        obj.params = known_fields(SVDSettings, meta["params"])
        obj.mu = float(meta["mu"])
        obj.scale = (float(meta["scale"][0]), float(meta["scale"][1]))
        obj.n_items = int(meta["n_items"])
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        load_arrays(obj, directory, "svd", cls._ARRAYS)
        obj.history = RatingHistory.load(directory, "svd")
        return obj
