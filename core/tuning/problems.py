"""The two validation problems tuning scores settings on: overall taste and what comes next.

Both are carved from the ratings being built (never from anything held out of them): a
per-user stratified 75/25 split scored by nDCG@10, and each user's latest rating scored by
HitRate@10 with the rest as history. Signals are fitted on each problem's training part once;
a setting is then a cheap re-ranking of cached score matrices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.signals import (
    FittedSignals,
    candidate_mask,
    normalised_signals,
    signal_matrices,
    subset_catalog,
    top_k,
)
from core.evaluation.splits import stratified_split, temporal_leave_one_out
from core.signals.base import Scorer
from core.signals.genre_tag import GenreTagScorer
from core.signals.ranking.ease import EASE_MIN_ITEM_RATINGS
from core.signals.recent import RECENT_DECAY

#: Ranked list length of both validation metrics.
K = 10

#: Query-time ranker fields (no refit needed to change them).
QUERY_FIELDS = ("recency_decay", "recency_floor", "dislike_weight")

Params = tuple[tuple[str, float], ...]

#: Signals that are views of the collaborative ranker: query-time settings they override.
COLLAB_VIEWS: dict[str, dict[str, float]] = {
    "collab": {},
    "recent": {"recency_decay": RECENT_DECAY, "recency_floor": 0.0},
}


def params_key(params: Mapping[str, float]) -> Params:
    """A hashable form of query-time ranker settings."""
    return tuple(sorted((k, float(v)) for k, v in params.items()))


#: Depth of the "what next" metric: one held-out movie per user makes HitRate@10 a coin
#: with a few dozen hits among hundreds of users, too noisy to compare settings on; nDCG@50
#: of that movie also credits ranks 11-50 (less at each), and moves with HitRate@10.
NEXT_K = 50


def splits(
    ratings: pd.DataFrame, seed: int
) -> dict[str, tuple[str, int, pd.DataFrame, pd.DataFrame]]:
    """``{label: (metric, k, train, valid)}`` of the two problems."""
    taste_train, taste_valid = stratified_split(ratings, 0.25, seed)
    before, second, latest = temporal_leave_one_out(ratings)
    return {
        f"overall taste (nDCG@{K})": ("ndcg", K, taste_train, taste_valid),
        f"what next (nDCG@{NEXT_K} of the latest rating)": (
            "ndcg", NEXT_K, pd.concat([before, second]), latest,
        ),
    }  # fmt: skip


def unfitted_collab(part: Catalog, settings: Settings) -> Scorer:
    """The collaborative ranker ``settings`` describe for ``part``, not fitted yet."""
    from core.signals.ranking import make_ranker

    return make_ranker(part, settings)


#: Validation EASE models keep this many of the most rated movies (the inversion costs the
#: cube of the count: an eighth at 3,000 of 6,000); the others score 0, about what EASE gives
#: a movie with a handful of ratings.
TUNE_ITEMS = 3_000


def fit_limited(part: Catalog, settings: Settings) -> Scorer:
    """The collaborative ranker for validation: EASE on the :data:`TUNE_ITEMS` most rated
    movies, or (when the product would use another model) that model."""
    from core.signals.ranking import EASERanker

    ranker = unfitted_collab(part, settings)
    if not isinstance(ranker, EASERanker):
        return ranker.fit(part)
    counts = np.sort(np.diff(part.user_items.tocsc().indptr))[::-1]
    least = int(counts[min(TUNE_ITEMS, len(counts)) - 1]) + 1 if len(counts) > TUNE_ITEMS else 0
    return EASERanker(settings, min_item_ratings=max(least, ranker.min_item_ratings)).fit(part)


@dataclass
class Problem:
    """One validation problem, ready to score settings on ``users``."""

    label: str
    metric: str  # "ndcg" or "hit"
    k: int  # list length the metric looks at
    part: Catalog  # the training part's catalogue
    users: np.ndarray
    mask: np.ndarray  # users x items: candidates (not in the user's training ratings)
    truth: np.ndarray  # users x items: held-out (validation) movies
    collab: Scorer | None = None
    content: dict[str, np.ndarray] = field(default_factory=dict)  # z-scored matrices
    _collab_z: dict[Params, np.ndarray] = field(default_factory=dict)
    _raw_parts: dict[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _mask_pair: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def make(
        cls, label: str, metric: str, k: int, catalog: Catalog, train: pd.DataFrame,
        valid: pd.DataFrame, users: np.ndarray,
    ) -> Problem:  # fmt: skip
        part = subset_catalog(catalog, train)
        mask = candidate_mask(part, users, train)
        truth = np.zeros_like(mask)
        row_of = {int(u): r for r, u in enumerate(users.tolist())}
        rows = valid["userId"].map(row_of)
        keep = rows.notna().to_numpy()
        truth[rows.to_numpy()[keep].astype(np.int64),
              part.items_for(valid["movieId"].to_numpy()[keep])] = True  # fmt: skip
        return cls(label, metric, k, part, users, mask, truth & mask)

    def set_collab(self, ranker: Scorer | None) -> None:
        """Use ``ranker`` (fitted on :attr:`part`) and forget matrices of an earlier one."""
        self.collab = ranker
        self._collab_z.clear()
        self._raw_parts.clear()
        self._mask_pair = None

    def set_content(self, scorers: Mapping[str, Scorer], genre_weight: float) -> None:
        """Score and z-normalise every content signal for :attr:`users` once."""
        raw = {}
        for name, scorer in scorers.items():
            if isinstance(scorer, GenreTagScorer):  # the genre/tag share is a query knob
                scorer = scorer.with_genre_weight(genre_weight)
            raw[name] = scorer.score_users(self.users)
        self.content = normalised_signals(raw, self.mask)

    def collab_z(self, params: Mapping[str, float]) -> np.ndarray:
        """The collaborative signal with query-time ``params``, z-normalised (cached)."""
        key = params_key(params)
        if key not in self._collab_z:
            self._collab_z[key] = normalised_signals({"collab": self._collab_raw(params)},
                                                     self.mask)["collab"]  # fmt: skip
        return self._collab_z[key]

    def _collab_raw(self, params: Mapping[str, float]) -> np.ndarray:
        """Raw collaborative scores of :attr:`users`. Scores are linear in the profile weights,
        so liked and disliked parts, with and without decay, are scored once each
        (:meth:`~core.signals.ranking.base.CollabRanker.score_matrix`) and mixed per setting;
        one request at a time (:meth:`score`) would take ~1 ms per user and setting."""
        from core.signals.ranking import CollabRanker, EASERanker

        ranker = self.collab
        assert ranker is not None, "set_collab first"
        # EASE scores are linear in the profile weights; ALS folds a profile in by least
        # squares (not linear), so it is scored user by user.
        if not isinstance(ranker, EASERanker) or ranker.params.recency_liked_only:
            if isinstance(ranker, CollabRanker) and params:
                ranker = ranker.with_params(**params)
            view = FittedSignals(self.part, {"collab": ranker})
            return signal_matrices(view, self.users, 0.5, ("collab",))["collab"]
        p = {f: float(params.get(f, getattr(ranker.params, f))) for f in QUERY_FIELDS}
        decay, floor = p["recency_decay"], min(max(p["recency_floor"], 0.0), 1.0)
        liked, disliked = self._parts(ranker, 0.0)
        raw = liked + np.float32(p["dislike_weight"]) * disliked
        if decay > 0:
            recent_liked, recent_disliked = self._parts(ranker, decay)
            recent = recent_liked + np.float32(p["dislike_weight"]) * recent_disliked
            raw = np.float32(floor) * raw + np.float32(1 - floor) * recent
        # Movies the product's ranker scores but the validation one left out (fit_limited).
        left_out, silent = self._masks(ranker)
        raw[:, left_out] = 0.0
        raw[silent] = np.nan
        return raw

    def _parts(self, ranker: Any, decay: float) -> tuple[np.ndarray, np.ndarray]:
        if decay not in self._raw_parts:
            rows = self._rows(ranker)
            self._raw_parts[decay] = tuple(  # type: ignore[assignment]
                ranker.score_matrix(ranker.history_weights(rows, decay=decay, liked=a,
                                                           disliked=b), 0.0)
                for a, b in ((1.0, 0.0), (0.0, 1.0))
            )  # fmt: skip
        return self._raw_parts[decay]

    def _rows(self, ranker: Any) -> np.ndarray:
        rows = np.searchsorted(ranker.history.user_ids, self.users)
        rows = np.minimum(rows, len(ranker.history.user_ids) - 1)
        if not (ranker.history.user_ids[rows] == self.users).all():
            raise ValueError("every validation user must have training ratings")
        return rows

    def _masks(self, ranker: Any) -> tuple[np.ndarray, np.ndarray]:
        """Movies left out of the validation ranker that the product's would score, and users
        without a usable rating; computed once per ranker (cleared by :meth:`set_collab`)."""
        if self._mask_pair is None:
            known = np.diff(self.part.user_items.tocsc().indptr) >= EASE_MIN_ITEM_RATINGS
            silent = np.diff(ranker.history_weights(self._rows(ranker)).indptr) == 0
            self._mask_pair = (known & ~ranker.known_item, silent)
        return self._mask_pair

    def value(self, params: Mapping[str, float], weights: Mapping[str, float]) -> float:
        """Mean validation metric of the blend with ``weights`` and ranker ``params``."""
        return float(self.user_values(params, weights).mean())

    def user_values(self, params: Mapping[str, float], weights: Mapping[str, float]) -> np.ndarray:
        """The validation metric of each user with a held-out movie (their mean is
        :meth:`value`): paired per-user differences tell a real gain from noise."""
        total = np.zeros(self.mask.shape, dtype=np.float32)
        for name, weight in weights.items():
            if weight <= 0:
                continue
            view = COLLAB_VIEWS.get(name)
            z = self.collab_z({**params, **view}) if view is not None else self.content.get(name)
            if z is not None:
                total += np.float32(weight) * z
        return self.scores(top_k(total, self.mask, self.k))

    def score(self, top: np.ndarray) -> float:
        """Mean nDCG@k or HitRate@k of ranked item lists ``top`` (users x k, -1 padded), over
        users with a held-out movie (as :func:`core.evaluation.metrics.ranking_metrics`)."""
        values = self.scores(top)
        return float(values.mean()) if len(values) else 0.0

    def scores(self, top: np.ndarray) -> np.ndarray:
        """Per-user form of :meth:`score` (users without a held-out movie left out)."""
        counts = self.truth.sum(axis=1)
        has = counts > 0
        hits = np.take_along_axis(self.truth, np.maximum(top, 0), axis=1) & (top >= 0)
        if self.metric == "hit":
            return hits[has].any(axis=1).astype(np.float64)
        discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
        dcg = (hits * discounts).sum(axis=1)
        ideal = np.cumsum(discounts)[np.maximum(np.minimum(counts, top.shape[1]) - 1, 0)]
        return (dcg[has] / ideal[has]).astype(np.float64)


def with_ranker(settings: Settings, **changes: float) -> Settings:
    """``settings`` with some :class:`~core.config.RankerSettings` fields changed."""
    return settings.replace(ranker=dataclasses.replace(settings.ranker, **changes))
