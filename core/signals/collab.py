"""Collaborative filtering: a rating predictor (Surprise SVD) and top-N rankers (EASE, ALS).

* :class:`SVDRating` ("Predicted rating") fits Surprise's biased matrix factorisation once and
  copies its parameters into NumPy arrays aligned to the catalogue, so predicting every movie for
  a user is one matrix-vector product and a new user's handful of ratings is folded in by a
  closed-form ridge regression against the fixed item factors (no retraining, no Surprise).
* :class:`EASERanker` and :class:`ALSRanker` ("Collaborative") rank movies for a user's history
  or for seed movies. Ranking by predicted rating is a poor top-N ranker (it favours obscure
  movies a few people loved); models trained on *what* people watched rank far better (see
  ``benchmarks/collab_quality.py``). :func:`make_ranker` picks EASE unless the catalogue is too
  large for its dense item-item matrix.

Everything is saved as ``.npy`` / ``.npz`` arrays plus a small JSON file (no pickled library
objects), so artifacts survive library upgrades and EASE's matrix can be memory-mapped.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve

from core.data.catalog import Catalog
from core.config import RankerSettings, Settings, SVDSettings
from core.signals.popularity import RatingHistory, read_meta, stars, titles_of, unknown_notes
from core.signals.base import Query, Scorer, Scores, save_json

_T = TypeVar("_T")

#: A rating counts as "liked" when it is at least this, or at least the user's own mean.
LIKE_RATING = 3.5
#: EASE keeps items with at least this many ratings (items rated once are near-useless
#: co-occurrence evidence; dropping them shrinks the matrix ~2.5x, see the benchmark).
EASE_MIN_ITEM_RATINGS = 2
#: Least ridge penalty of an SVD fold-in. The penalty is ``reg_all * n_ratings`` (what Surprise's
#: SGD applies, once per rating) but at least this: with a handful of ratings ``reg_all * 5`` lets
#: 100 factors overfit (held-out RMSE, 5 ratings: 0.905 without the floor, 0.890 with 3).
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
    same parameters (checked in tests/test_collab.py). ``ir`` maps items to empty tuples:
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


# ---------------------------------------------------------------------------------------------
# Rating prediction
# ---------------------------------------------------------------------------------------------
class SVDRating(Scorer):
    """Surprise ``SVD`` (biased MF) with vectorised, Surprise-free prediction and fold-in.

    After :meth:`fit`: ``mu`` (global mean), ``bi``/``qi`` (item biases/factors by item index,
    zero for unrated movies), ``bu``/``pu`` (user biases/factors by row of ``history.user_ids``),
    ``known_item`` (items the model saw) and ``history`` (the training ratings).
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
        self.history = _empty_history()
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
        # Cholesky (the system is positive definite): ~0.1 ms, where np.linalg.solve wakes
        # OpenBLAS threads and took 4-40 ms on a busy 2-core machine.
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
        items = self._items_or_minus_one(ids)
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
        items = self._items_or_minus_one(np.asarray(movie_ids, dtype=np.int64))
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

    def _items_or_minus_one(self, movie_ids: np.ndarray) -> np.ndarray:
        """Item index per movieId, -1 for ids not in the catalogue (vectorised)."""
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
        for key in self._ARRAYS:
            np.save(directory / f"svd_{key}.npy", getattr(self, key))
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
        obj.params = _known_fields(SVDSettings, meta["params"])
        obj.mu = float(meta["mu"])
        obj.scale = (float(meta["scale"][0]), float(meta["scale"][1]))
        obj.n_items = int(meta["n_items"])
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        for key in cls._ARRAYS:
            setattr(obj, key, np.load(directory / f"svd_{key}.npy"))
        obj.history = RatingHistory.load(directory, "svd")
        return obj


# ---------------------------------------------------------------------------------------------
# Top-N rankers
# ---------------------------------------------------------------------------------------------
@dataclass
class _Profile:
    """What a query contributes to a ranker: usable item indices and how to explain them."""

    items: np.ndarray  # int64 item indices the model can use
    weights: np.ndarray  # float32: 1 for liked/seed movies, dislike_weight for disliked ones,
    # times the recency factor of rated ones (RankerSettings.recency_decay; with
    # recency_liked_only, disliked ones take the factor of the profile's oldest rating)
    rating: np.ndarray  # float32 rating, NaN for seeds
    explainable: np.ndarray  # bool: liked or seed (only those are cited in explanations)
    personal: bool  # built from a user's ratings (vs. only seeds)
    trained_row: int | None  # the user's training row when the query is exactly the history
    notes: list[str] = field(default_factory=list)


class CollabRanker(Scorer):
    """Shared query handling, explanations and persistence of the collaborative rankers.

    Subclasses implement :meth:`_fit_model`, :meth:`_scores` and :meth:`_contributions`.
    ``known_item`` marks the items the model can score (others get NaN).
    """

    name = "collab"
    label = "Collaborative"
    kind: ClassVar[str] = ""

    def __init__(self, settings: Settings | None = None) -> None:
        self.params: RankerSettings = (settings or Settings()).ranker
        self.history = _empty_history()
        self.times = np.empty(0, dtype=np.float64)  # timestamp of each history.matrix entry
        self.titles = np.empty(0, dtype=str)
        self.known_item = np.empty(0, dtype=bool)
        self.fit_seconds = 0.0

    def fit(self, catalog: Catalog) -> CollabRanker:
        """Fit the model on the catalogue's users x items matrix (binarised)."""
        start = time.perf_counter()
        self.n_items = catalog.n_items
        self.history = RatingHistory.from_catalog(catalog)
        self.times = rating_times(catalog, self.history.matrix)
        self.titles = titles_of(catalog)
        self._fit_model(catalog.user_items)
        self.fit_seconds = time.perf_counter() - start
        return self

    @abc.abstractmethod
    def _fit_model(self, user_items: sp.csr_matrix) -> None:
        """Fit on the users x items rating matrix; set :attr:`known_item`."""

    @abc.abstractmethod
    def _scores(self, profile: _Profile) -> np.ndarray:
        """float32 score per item index (NaN where the model has none)."""

    @abc.abstractmethod
    def _contributions(self, profile: _Profile, items: np.ndarray) -> np.ndarray:
        """``(len(profile.items), len(items))``: how much each profile item adds to each item."""

    # -- queries ------------------------------------------------------------------------------
    def _profile(self, query: Query) -> _Profile | Scores:
        """The query's usable items, or the (all-NaN) answer when there are none."""
        notes: list[str] = []
        row = self.history.user_row(query.user_id)
        if query.user_id is not None and row is None:
            notes.append(f"unknown user {query.user_id}: no history")
        stored_items, stored = self.history.user_items(query.user_id)
        stored_times = self._user_times(row, len(stored_items))
        extra: dict[int, float] = {}
        for movie_id, rating in query.ratings.items():
            item = self.history.item_of.get(int(movie_id))
            if item is None:
                notes.append(f"unknown movie {movie_id}")
            else:
                extra[item] = float(rating)
        extra_items = np.fromiter(extra.keys(), dtype=np.int64, count=len(extra))
        extra_ratings = np.fromiter(extra.values(), dtype=np.float32, count=len(extra))
        keep = ~np.isin(stored_items, extra_items)  # new ratings override stored ones
        items = np.concatenate([stored_items[keep], extra_items])
        ratings = np.concatenate([stored[keep], extra_ratings])
        # New ratings are the latest, in the order given.
        latest = float(stored_times.max()) if len(stored_times) else 0.0
        times = np.concatenate([stored_times[keep], latest + 1.0 + np.arange(len(extra_items))])
        is_extra = np.arange(len(items)) >= int(keep.sum())
        liked = np.zeros(len(items), dtype=bool)
        if len(items):
            liked = ratings >= min(float(ratings.mean()), LIKE_RATING)
            # A stored rating is an interaction (as in training; disliked ones weigh less), but a
            # new rating only adds evidence when positive: one dislike should not pull its
            # neighbours up.
            chosen = ~is_extra | liked
            items, ratings, liked, is_extra, times = (
                items[chosen],
                ratings[chosen],
                liked[chosen],
                is_extra[chosen],
                times[chosen],
            )
        recency = self._recency(times)
        if self.params.recency_liked_only and len(recency):
            # A disliked rating weighs what the profile's oldest rating does, however recent:
            # recency lifts what the user liked lately, never what they just disliked.
            recency = np.where(liked, recency, recency.min())
        personal = len(items) > 0
        present = set(stored_items.tolist()) | set(extra)
        seeds: list[int] = []
        for movie_id in query.seeds:
            item = self.history.item_of.get(int(movie_id))
            if item is None:
                notes.append(f"unknown movie {movie_id}")
            elif item not in present:
                present.add(item)
                seeds.append(item)
        n_seeds = len(seeds)
        items = np.concatenate([items, np.asarray(seeds, dtype=np.int64)])
        ratings = np.concatenate([ratings, np.full(n_seeds, np.nan, dtype=np.float32)])
        liked = np.concatenate([liked, np.ones(n_seeds, dtype=bool)])
        is_extra = np.concatenate([is_extra, np.ones(n_seeds, dtype=bool)])
        usable = self.known_item[items]
        for item in items[~usable & is_extra].tolist():  # only what the query itself named
            notes.append(f"{self.titles[item]} has too few ratings to find similar movies")
        if not usable.any():
            if not notes:
                notes.append(
                    "empty query"
                    if query.is_empty()
                    else "collaborative filtering needs ratings or seed movies"
                )
            return Scores.empty(self.n_items, "; ".join(notes))
        recency = np.concatenate([recency, np.ones(n_seeds)])
        dislike = float(self.params.dislike_weight)
        weights = (np.where(liked, 1.0, dislike) * recency).astype(np.float32)
        # The trained user vector fits the plain binary history; any reweighting means fold-in.
        unchanged = (
            row is not None
            and not query.ratings
            and not query.seeds
            and bool((weights == 1.0).all())
        )
        return _Profile(
            items=items[usable],
            weights=weights[usable],
            rating=ratings[usable],
            explainable=liked[usable],
            personal=personal,
            trained_row=row if unchanged else None,
            notes=notes,
        )

    def with_params(self, **changes: Any) -> CollabRanker:
        """A shallow copy sharing the fitted model, with query-time settings changed (e.g.
        ``recency_decay``); changing what fitting used (``ease_lambda``...) needs a refit."""
        import copy

        other = copy.copy(self)
        other.params = dataclasses.replace(self.params, **changes)
        return other

    def _user_times(self, row: int | None, count: int) -> np.ndarray:
        """Timestamps of a training user's stored ratings (zeros when not recorded)."""
        if row is None or len(self.times) == 0:
            return np.zeros(count, dtype=np.float64)
        start = self.history.matrix.indptr[row]
        return np.asarray(self.times[start : start + count], dtype=np.float64)

    def _recency(self, times: np.ndarray) -> np.ndarray:
        """Weight of each rating by how many ratings came after it (ties share a rank)."""
        decay = float(self.params.recency_decay)
        if decay <= 0 or len(times) == 0:
            return np.ones(len(times), dtype=np.float64)
        newer = np.sort(times)
        # rank = number of ratings strictly newer than this one (0 for the latest)
        rank = len(times) - np.searchsorted(newer, times, side="right")
        floor = min(max(float(self.params.recency_floor), 0.0), 1.0)
        return floor + (1.0 - floor) * np.exp(-rank / decay)

    def score(self, query: Query) -> Scores:
        """Score every item for the query's history (+ positive ratings) and/or seed movies."""
        profile = self._profile(query)
        if isinstance(profile, Scores):
            return profile
        values = self._scores(profile)
        what = "your ratings" if profile.personal else "the seed movies"
        return Scores(values, "; ".join([*profile.notes, f"{self.kind.upper()} on {what}"]))

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """The liked/seed movie contributing most to each item, in plain words."""
        items = np.asarray(items, dtype=np.int64)
        profile = self._profile(query)
        if isinstance(profile, Scores) or len(items) == 0:
            return [None] * len(items)
        contrib = self._contributions(profile, items)
        contrib = np.where(profile.explainable[:, None], contrib, -np.inf)
        contrib = np.nan_to_num(contrib, nan=-np.inf)
        best = np.argmax(contrib, axis=0)
        out: list[str | None] = []
        for column, source in enumerate(best.tolist()):
            if not contrib[source, column] > 0:
                out.append(None)
                continue
            title = self.titles[profile.items[source]]
            rating = float(profile.rating[source])
            if np.isnan(rating):
                out.append(f"people who liked {title} also liked this")
            else:
                out.append(f"because you rated {title} {stars(rating)}")
        return out

    # -- persistence --------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, directory: Path, meta: dict[str, Any]) -> None:
        """Subclass hook: rebuild the model from saved arrays."""

    def save(self, directory: Path) -> None:
        """Write ``collab_<array>.npy`` files, the rating history and ``collab.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"known_item": self.known_item, "times": self.times, **self._arrays()}
        for key, value in arrays.items():
            np.save(directory / f"collab_{key}.npy", value)
        # JSON, not .npy: a fixed-width unicode array pads every title to the longest (6 MB).
        (directory / "collab_titles.json").write_text(json.dumps(self.titles.tolist()))
        self.history.save(directory, "collab")
        meta = {
            "kind": "collab",
            "model": self.kind,
            "params": dataclasses.asdict(self.params),
            "n_items": self.n_items,
            "fit_seconds": self.fit_seconds,
            **self._meta(),
        }
        save_json(directory / "collab.json", meta)

    @classmethod
    def load(cls, directory: Path) -> CollabRanker:
        """Read a saved ranker; on :class:`CollabRanker` itself, whichever model was saved."""
        meta = read_meta(directory / "collab.json", "collab")
        model = meta.get("model")
        target = RANKERS.get(str(model))
        if target is None or (cls is not CollabRanker and target is not cls):
            raise ValueError(f"{directory} holds a {model!r} ranker, not {cls.kind!r}")
        obj = target(Settings(ranker=_known_fields(RankerSettings, meta["params"])))
        obj.n_items = int(meta["n_items"])
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        obj.titles = np.asarray(json.loads((directory / "collab_titles.json").read_text()))
        obj.known_item = np.load(directory / "collab_known_item.npy")
        obj.history = RatingHistory.load(directory, "collab")
        times = directory / "collab_times.npy"
        obj.times = np.load(times) if times.exists() else np.empty(0, dtype=np.float64)
        obj._restore(directory, meta)
        return obj


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

    def _scores(self, profile: _Profile) -> np.ndarray:
        # Gathering the query's rows beats x @ B: a profile touches a few rows of a big matrix.
        values = np.full(self.n_items, np.nan, dtype=np.float32)
        values[self.kept] = weighted_row_sum(self.B, profile.weights, self.position[profile.items])
        return values

    def _contributions(self, profile: _Profile, items: np.ndarray) -> np.ndarray:
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
    _mirror_upper(inverse)  # spotri fills one triangle only
    weights = np.ascontiguousarray(inverse)  # symmetric, so C order = the same matrix
    weights /= -np.diag(weights)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def rating_times(catalog: Catalog, matrix: sp.csr_matrix) -> np.ndarray:
    """Timestamp of each stored entry of the catalogue's users x items ``matrix`` (float64,
    aligned with ``matrix.data``; 0 where the catalogue recorded none)."""
    ratings = catalog.ratings
    if matrix.nnz == 0 or len(ratings) == 0:
        return np.zeros(matrix.nnz, dtype=np.float64)
    rows = np.searchsorted(catalog.user_ids, ratings["userId"].to_numpy(dtype=np.int32))
    cols = catalog.items_for(ratings["movieId"].to_numpy())
    keys = rows.astype(np.int64) * matrix.shape[1] + cols
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    stamps = ratings["timestamp"].to_numpy(dtype=np.float64, na_value=0.0)[order]
    entry_rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    wanted = entry_rows * matrix.shape[1] + matrix.indices
    pos = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
    return np.where(keys[pos] == wanted, stamps[pos], 0.0)


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


def _mirror_upper(matrix: np.ndarray, block: int = 1024) -> None:
    """Copy the upper triangle onto the lower one in place, a block of rows at a time
    (``np.triu`` / ``tril_indices`` on a 10k matrix would allocate gigabytes)."""
    n = matrix.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        matrix[start:stop, :start] = matrix[:start, start:stop].T
        square = matrix[start:stop, start:stop]
        square[...] = np.triu(square) + np.triu(square, 1).T


class ALSRanker(CollabRanker):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from the ``implicit`` library.

    Users get ``user_factor @ item_factors.T`` (new histories folded in with implicit's
    ``recalculate_user``); seed movies alone get the summed cosine similarity of item factors.
    ``num_threads`` is for fitting (0 = all cores); queries always use one thread.
    """

    kind = "als"

    def __init__(self, settings: Settings | None = None, *, num_threads: int = 0) -> None:
        super().__init__(settings)
        self.num_threads = num_threads
        self.model: Any = None
        self.item_norms = np.empty(0, dtype=np.float32)

    def _new_model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        p = self.params
        # implicit warns (at construction) when BLAS is multi-threaded: its own threads would
        # contend with BLAS's. Building it under a one-thread limit silences a false alarm.
        with threadpool_limits(1, "blas"):
            return AlternatingLeastSquares(
                factors=p.als_factors,
                regularization=p.als_regularization,
                alpha=p.als_alpha,
                iterations=p.als_iterations,
                random_state=p.random_state,
                num_threads=self.num_threads,
            )

    def _fit_model(self, user_items: sp.csr_matrix) -> None:
        from threadpoolctl import threadpool_limits

        binary = user_items.astype(np.float32)
        binary.data[:] = 1.0
        self.model = self._new_model()
        # implicit runs its own threads; a multi-threaded BLAS underneath only contends.
        with threadpool_limits(1, "blas"):
            self.model.fit(binary, show_progress=False)
        # Queries fold in one user at a time: OpenMP threads only add start-up cost there
        # (measured 50 ms vs 1.5 ms per fold-in on a busy 2-core machine).
        self.model.num_threads = 1
        self.known_item = np.diff(user_items.tocsc().indptr) > 0
        self._norms()

    def _norms(self) -> None:
        self.item_norms = np.linalg.norm(self.model.item_factors, axis=1).astype(np.float32)

    def _user_factor(self, profile: _Profile) -> np.ndarray:
        if profile.trained_row is not None:
            return np.asarray(self.model.user_factors[profile.trained_row])
        return np.asarray(self.model.recalculate_user(0, self._row(profile)))

    def _row(self, profile: _Profile) -> sp.csr_matrix:
        indptr = np.array([0, len(profile.items)])
        return sp.csr_matrix(
            (profile.weights, profile.items, indptr), shape=(1, self.n_items), dtype=np.float32
        )

    def _unit_factors(self, items: np.ndarray) -> np.ndarray:
        factors = np.asarray(self.model.item_factors[items])
        return factors / np.maximum(self.item_norms[items], 1e-12)[:, None]

    def _scores(self, profile: _Profile) -> np.ndarray:
        factors = np.asarray(self.model.item_factors)
        if profile.personal:
            values = matvec(factors, self._user_factor(profile))
        else:
            seeds = weighted_row_sum(self._unit_factors(profile.items), profile.weights)
            values = matvec(factors, seeds) / np.maximum(self.item_norms, 1e-12)
            # A seed is not similar to itself (as EASE's zero diagonal): drop its own cosine 1.
            values[profile.items] -= profile.weights
        return np.where(self.known_item, values, np.nan).astype(np.float32)

    def _contributions(self, profile: _Profile, items: np.ndarray) -> np.ndarray:
        if not profile.personal:
            cosine = self._unit_factors(profile.items) @ self._unit_factors(items).T
            cosine[profile.items[:, None] == items[None, :]] = np.nan  # not "similar to itself"
            return cosine * profile.weights[:, None]
        # The decomposition of implicit's explain() (Hu et al. 2008, section 5): with
        # A = Y'Y + reg I + sum_i (c_i - 1) y_i y_i', item j's score is sum_i c_i y_j' A^-1 y_i.
        # Written out because implicit's version loops in Python over the history per item
        # (160 ms for 10 items of a 2,700-rating user; this is one solve).
        factors = self.model.item_factors
        history = np.asarray(factors[profile.items], dtype=np.float64)
        targets = np.asarray(factors[items], dtype=np.float64)
        confidence = self.model.alpha * profile.weights.astype(np.float64)
        system = np.asarray(self.model.YtY, dtype=np.float64)
        system = system + self.model.regularization * np.eye(system.shape[0])
        system += (history * (confidence - 1.0)[:, None]).T @ history
        solved = cho_solve(cho_factor(system, check_finite=False), targets.T)
        return ((history @ solved) * confidence[:, None]).astype(np.float32)

    def _meta(self) -> dict[str, Any]:
        return {"num_threads": self.num_threads}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "item_factors": np.asarray(self.model.item_factors),
            "user_factors": np.asarray(self.model.user_factors),
        }

    def _restore(self, directory: Path, meta: dict[str, Any]) -> None:
        self.num_threads = int(meta.get("num_threads", 0))
        self.model = self._new_model()
        self.model.item_factors = np.load(directory / "collab_item_factors.npy")
        self.model.user_factors = np.load(directory / "collab_user_factors.npy")
        self.model.num_threads = 1  # one-user fold-ins, as after fit
        self._norms()

    @classmethod
    def from_factors(
        cls,
        catalog: Catalog,
        settings: Settings | None,
        item_factors: np.ndarray,
        user_factors: np.ndarray,
        *,
        known_item: np.ndarray | None = None,
        fit_seconds: float = 0.0,
    ) -> ALSRanker:
        """A fitted ranker from factors trained elsewhere (``core.serving.spark``): item rows by
        item index, user rows by ``catalog.user_ids``; saves and serves as if fitted here."""
        if item_factors.shape[0] != catalog.n_items or user_factors.shape[0] != len(
            catalog.user_ids
        ):
            raise ValueError(
                f"factors of shape {item_factors.shape} / {user_factors.shape} do not fit a "
                f"catalogue of {catalog.n_items} movies and {len(catalog.user_ids)} users"
            )
        obj = cls(settings)
        obj.n_items = catalog.n_items
        obj.history = RatingHistory.from_catalog(catalog)
        obj.times = rating_times(catalog, obj.history.matrix)
        obj.titles = titles_of(catalog)
        obj.model = obj._new_model()
        obj.model.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        obj.model.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        obj.model.num_threads = 1
        if known_item is None:
            known_item = np.diff(catalog.user_items.tocsc().indptr) > 0
        obj.known_item = np.asarray(known_item, dtype=bool)
        obj.fit_seconds = float(fit_seconds)
        obj._norms()
        return obj


#: Ranker classes by ``kind`` (the ``model`` field of a saved ``collab.json``).
RANKERS: dict[str, type[CollabRanker]] = {"ease": EASERanker, "als": ALSRanker}


def make_ranker(catalog: Catalog, settings: Settings | None = None) -> CollabRanker:
    """An unfitted ranker for the catalogue: EASE, unless ``settings.ranker.kind == "als"`` or
    EASE's matrix would exceed ``ease_max_items`` items (then ALS). Call ``.fit(catalog)``."""
    settings = settings or Settings()
    if settings.ranker.kind == "als":
        return ALSRanker(settings)
    counts = catalog.rating_stats["n_ratings"].to_numpy()
    if int((counts >= EASE_MIN_ITEM_RATINGS).sum()) > settings.ranker.ease_max_items:
        return ALSRanker(settings)
    return EASERanker(settings)


# Per-query products avoid BLAS on purpose: OpenBLAS wakes worker threads even for one
# matrix-vector product, and on a busy 2-core machine a query then waits for a core (measured on
# a 10k x 100 float32 product: median 0.11 ms but p95 16 ms / max 160 ms with ``@``, against
# p95 0.23 ms with einsum's single-threaded loop).
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


def _known_fields(cls: type[_T], data: dict[str, Any]) -> _T:
    """A settings dataclass from saved values, ignoring fields it no longer has (a saved model
    stays loadable when settings gain or lose fields; staleness is the manifest's job)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def _empty_history() -> RatingHistory:
    return RatingHistory(
        np.empty(0, np.int32), np.empty(0, np.int32), sp.csr_matrix((0, 0), dtype=np.float32)
    )
