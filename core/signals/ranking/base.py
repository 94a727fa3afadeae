"""What the collaborative rankers share: query profiles, recency, explanations, persistence.

:class:`CollabRanker` turns a query into weighted item indices and explains results by the
liked/seed movie contributing most; it must not know a particular model (EASE, ALS subclass it).
"""

from __future__ import annotations

import abc
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.config import RankerSettings, Settings
from core.data.catalog import Catalog
from core.signals.base import (
    Query,
    Scorer,
    Scores,
    known_fields,
    read_meta,
    save_json,
    stars,
    titles_of,
)
from core.signals.history import RatingHistory

#: A rating counts as "liked" when it is at least this, or at least the user's own mean.
LIKE_RATING = 3.5

#: Ranker classes by ``kind`` (the ``model`` field of a saved ``collab.json``); every
#: :class:`CollabRanker` subclass with a ``kind`` adds itself when its module is imported.
RANKERS: dict[str, type[CollabRanker]] = {}


@dataclass
class RankerProfile:
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Each concrete ranker registers itself under its ``kind`` so :meth:`load` can find the
        # class a folder was saved by without this module importing the subclasses.
        super().__init_subclass__(**kwargs)
        if cls.kind:
            RANKERS[cls.kind] = cls

    def __init__(self, settings: Settings | None = None) -> None:
        self.params: RankerSettings = (settings or Settings()).ranker
        self.history = RatingHistory.empty()
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
    def _scores(self, profile: RankerProfile) -> np.ndarray:
        """float32 score per item index (NaN where the model has none)."""

    @abc.abstractmethod
    def _contributions(self, profile: RankerProfile, items: np.ndarray) -> np.ndarray:
        """``(len(profile.items), len(items))``: how much each profile item adds to each item."""

    # -- queries ------------------------------------------------------------------------------
    def _profile(self, query: Query) -> RankerProfile | Scores:
        """The query's usable items, or the (all-NaN) answer when there are none.

        Steps: merge stored and new ratings (:meth:`_merged_ratings`), keep the interactions
        that count (:meth:`_interactions`), weigh them by recency (:meth:`_rating_recency`),
        append the seed movies (:meth:`_seed_items`), then drop what the model cannot score.
        """
        notes: list[str] = []
        row = self.history.user_row(query.user_id)
        if query.user_id is not None and row is None:
            notes.append(f"unknown user {query.user_id}: no history")
        items, ratings, times, is_extra, present = self._merged_ratings(query, row, notes)
        items, ratings, liked, is_extra, times = self._interactions(items, ratings, is_extra, times)
        recency = self._rating_recency(times, liked)
        personal = len(items) > 0
        seeds = self._seed_items(query, present, notes)
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
        return RankerProfile(
            items=items[usable],
            weights=weights[usable],
            rating=ratings[usable],
            explainable=liked[usable],
            personal=personal,
            trained_row=row if unchanged else None,
            notes=notes,
        )

    def _merged_ratings(
        self, query: Query, row: int | None, notes: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, set[int]]:
        """Stored ratings overridden by the query's, with timestamps (new ones are the latest,
        in the order given), which are new, and every rated item; notes unknown movies."""
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
        latest = float(stored_times.max()) if len(stored_times) else 0.0
        times = np.concatenate([stored_times[keep], latest + 1.0 + np.arange(len(extra_items))])
        is_extra = np.arange(len(items)) >= int(keep.sum())
        present = set(stored_items.tolist()) | set(extra)
        return items, ratings, times, is_extra, present

    @staticmethod
    def _interactions(
        items: np.ndarray, ratings: np.ndarray, is_extra: np.ndarray, times: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The ratings that count as interactions, and which of them are liked."""
        liked = np.zeros(len(items), dtype=bool)
        if len(items):
            liked = ratings >= min(float(ratings.mean()), LIKE_RATING)
            # A stored rating is an interaction (as in training; disliked ones weigh less), but a
            # new rating only adds evidence when positive: one dislike should not pull its
            # neighbours up.
            chosen = ~is_extra | liked
            return items[chosen], ratings[chosen], liked[chosen], is_extra[chosen], times[chosen]
        return items, ratings, liked, is_extra, times

    def _rating_recency(self, times: np.ndarray, liked: np.ndarray) -> np.ndarray:
        """Recency factor of each rating (:meth:`_recency`), disliked ones floored if asked."""
        recency = self._recency(times)
        if self.params.recency_liked_only and len(recency):
            # A disliked rating weighs what the profile's oldest rating does, however recent:
            # recency lifts what the user liked lately, never what they just disliked.
            recency = np.where(liked, recency, recency.min())
        return recency

    def _seed_items(self, query: Query, present: set[int], notes: list[str]) -> list[int]:
        """Item indices of the query's seeds not already rated; notes unknown movies."""
        seeds: list[int] = []
        for movie_id in query.seeds:
            item = self.history.item_of.get(int(movie_id))
            if item is None:
                notes.append(f"unknown movie {movie_id}")
            elif item not in present:
                present.add(item)
                seeds.append(item)
        return seeds

    def with_params(self, **changes: Any) -> CollabRanker:
        """A shallow copy sharing the fitted model, with query-time settings changed (e.g.
        ``recency_decay``); changing what fitting used (``ease_lambda``...) needs a refit."""
        import copy

        other = copy.copy(self)
        other.params = dataclasses.replace(self.params, **changes)
        return other

    def history_weights(
        self, rows: np.ndarray, *, decay: float = 0.0, liked: float = 1.0, disliked: float = 1.0
    ) -> sp.csr_matrix:
        """Profile weights of training users ``rows`` (history rows) at once, users x items:
        ``liked`` or ``disliked`` times ``exp(-rank / decay)`` (1 when ``decay <= 0``), the
        rank being how many of the user's ratings are newer, as :meth:`score` weighs a stored
        history (no floor: a floor is a mix with ``decay=0``, scores being linear in the
        weights). Movies the model cannot score are left out. For scoring many users on
        validation data (:meth:`score_matrix`); requests go through :meth:`score`."""
        matrix = self.history.matrix[np.asarray(rows, dtype=np.int64)]
        counts = np.diff(matrix.indptr)
        user = np.repeat(np.arange(len(counts)), counts)
        ratings = matrix.data.astype(np.float64)
        sums = np.add.reduceat(ratings, matrix.indptr[:-1]) if len(ratings) else np.zeros(0)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0) if len(ratings) else sums
        is_liked = ratings >= np.minimum(means[user], LIKE_RATING) if len(ratings) else ratings > 0
        weights = np.where(is_liked, liked, disliked)
        if decay > 0 and len(ratings):
            times = self._rows_times(np.asarray(rows, dtype=np.int64))
            weights = weights * np.exp(-_newer_counts(user, times) / decay)
        keep = self.known_item[matrix.indices] & (weights != 0)
        out = sp.csr_matrix((weights[keep].astype(np.float32), (user[keep], matrix.indices[keep])),
                            shape=matrix.shape)  # fmt: skip
        return out

    def _rows_times(self, rows: np.ndarray) -> np.ndarray:
        """Timestamps of the stored ratings of history ``rows``, concatenated in row order."""
        indptr = self.history.matrix.indptr
        if len(self.times) == 0:
            return np.zeros(int((indptr[rows + 1] - indptr[rows]).sum()), dtype=np.float64)
        return np.concatenate([self.times[indptr[r] : indptr[r + 1]] for r in rows.tolist()])

    def score_matrix(self, weights: sp.csr_matrix, empty: float = np.nan) -> np.ndarray:
        """Scores of many profiles (rows of ``weights``, users x items) as :meth:`score` would
        give them one by one; rows without a usable movie are NaN, or ``empty`` where the model
        knows the movie (``empty=0`` lets parts of one profile be scored apart and summed).
        Subclasses may compute all rows in one product (EASE does)."""
        out = np.full(weights.shape, np.nan, dtype=np.float32)
        for row in range(weights.shape[0]):
            start, stop = weights.indptr[row], weights.indptr[row + 1]
            if stop == start:
                out[row, self.known_item] = empty
                continue
            items = weights.indices[start:stop].astype(np.int64)
            profile = RankerProfile(items, weights.data[start:stop], np.full(len(items), np.nan),
                                    np.ones(len(items), bool), True, None)  # fmt: skip
            out[row] = self._scores(profile)
        return out

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
        obj = target(Settings(ranker=known_fields(RankerSettings, meta["params"])))
        obj.n_items = int(meta["n_items"])
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        obj.titles = np.asarray(json.loads((directory / "collab_titles.json").read_text()))
        obj.known_item = np.load(directory / "collab_known_item.npy")
        obj.history = RatingHistory.load(directory, "collab")
        times = directory / "collab_times.npy"
        obj.times = np.load(times) if times.exists() else np.empty(0, dtype=np.float64)
        obj._restore(directory, meta)
        return obj


def _newer_counts(user: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each rating, how many ratings of the same user are strictly newer (``user`` sorted
    ascending, as a CSR matrix's rows are)."""
    _, stamp = np.unique(times, return_inverse=True)
    keys = user.astype(np.int64) * (int(stamp.max(initial=0)) + 2) + stamp
    ordered = np.sort(keys)
    ends = np.searchsorted(user, user, side="right")  # end of each rating's user segment
    return (ends - np.searchsorted(ordered, keys, side="right")).astype(np.float64)


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
