"""Scoring movies from the dialogue state.

Each signal is a vector over item indices scaled so that its best movies sit near 1:
co-rating similarity to the liked titles (item-item cosine over who rated what), content
similarity to them (genres/tags and story vectors), the semantic score of the mood words,
genre and people matches, and a prior that prefers well-loved, recognisable, recent movies
(damped mean rating, rating counts, TMDB vote counts, release year against the catalogue's
latest year -- all from the catalogue). :class:`RankWeights` holds the handful of scalars that
:mod:`core.evaluation.chat` tunes by cross-validation.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.chat.state import ChatState
from core.data.catalog import Catalog
from core.signals.base import Query

#: Signals :meth:`ChatRanker.signals` produces, in this order.
SIGNAL_NAMES: tuple[str, ...] = ("cooc", "ease", "content", "story", "text", "genre", "person",
                                 "prefer", "avoid", "user", "disliked")  # fmt: skip


@dataclass(frozen=True)
class RankWeights:
    """Weights of the signals and of the prior's parts (chosen by ``core.evaluation.chat.tune``)."""

    cooc: float = 1.0
    ease: float = 0.0
    content: float = 0.2
    story: float = 0.2
    text: float = 0.5
    genre: float = 1.0
    person: float = 0.5
    prefer: float = 0.3
    avoid: float = 0.8
    user: float = 0.5
    disliked: float = 0.3
    prior: float = 0.5  # weight of the prior when there are seeds or a kind of movie
    prior_alone: float = 1.0  # (kept 1: the prior alone ranks vague turns)
    recency: float = 0.5  # share of recency inside the prior
    quality: float = 0.5  # share of the damped mean inside the prior (rest: recognition)
    recency_years: float = 4.0  # how fast the recency part decays with a movie's age
    trend: float = 0.0  # share of recent rating counts (last 3 years of ratings) in recognition

    def to_dict(self) -> dict[str, float]:
        """Plain dict (for reports)."""
        return asdict(self)


def _top_scaled(values: np.ndarray, k: int = 10) -> np.ndarray:
    """Scale so the mean of the ``k`` best finite values is 1 (0 where no opinion)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, neginf=0.0)
    if values.size == 0:
        return values
    k = min(k, values.size)
    top = np.partition(values, values.size - k)[values.size - k :]
    scale = float(np.mean(top))
    if scale <= 1e-9:
        return np.zeros_like(values)
    return values / scale


def _z01(values: np.ndarray) -> np.ndarray:
    """Min-max to 0..1 (constant -> zeros)."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if hi - lo < 1e-12:
        return np.zeros_like(values, dtype=np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)


class ChatRanker:
    """Precomputed catalogue facts for chat answers (one per engine)."""

    def __init__(self, engine: Any, damping: float = 10.0) -> None:
        self.engine = engine
        catalog: Catalog = engine.catalog
        self.catalog = catalog
        self.n_items = catalog.n_items
        stats = catalog.rating_stats
        counts = stats["n_ratings"].to_numpy(dtype=np.float64)
        means = np.nan_to_num(stats["mean_rating"].to_numpy(dtype=np.float64), nan=0.0)
        overall = float(np.average(means, weights=counts)) if counts.sum() else 3.5
        damped = (counts * means + damping * overall) / (counts + damping)
        movies = catalog.movies
        votes = movies["vote_count"].astype("Float64").to_numpy(np.float64, na_value=0.0) \
            if "vote_count" in movies.columns else np.zeros(self.n_items)  # fmt: skip
        average = movies["vote_average"].astype("Float64").to_numpy(np.float64, na_value=0.0) \
            if "vote_average" in movies.columns else np.zeros(self.n_items)  # fmt: skip
        tmdb = (votes * average / 2.0 + 50.0 * overall) / (votes + 50.0)  # TMDB 0..10 -> 0..5
        self.quality = _z01(np.where(counts > 0, 0.7 * damped + 0.3 * tmdb, tmdb))
        self.recognition = _z01(
            0.6 * np.log1p(counts) / max(np.log1p(counts.max()), 1.0)
            + 0.4 * np.log1p(votes) / max(np.log1p(votes.max()), 1.0)
        )
        years = catalog.years
        latest = float(np.nanmax(years)) if np.isfinite(years).any() else 2020.0
        age = np.where(np.isfinite(years), latest - years, 30.0)
        self.age = np.maximum(age, 0.0).astype(np.float32)
        self.latest_year = int(latest)
        self.years = years
        self.genre_matrix, self.genre_index = _genre_matrix(catalog)
        binary = catalog.user_items.astype(np.float32).tocsc()
        binary.data[:] = 1.0
        norms = np.sqrt(np.asarray(binary.sum(axis=0)).ravel())
        self.item_norms = np.where(norms > 0, norms, 1.0).astype(np.float32)
        self.user_items_t = sp.csr_matrix(binary.T)  # items x users
        self.n_ratings = counts
        self.trending = _z01(np.log1p(_recent_counts(catalog)))

    # -- parts -------------------------------------------------------------------------------
    def prior(self, weights: RankWeights, quality_wish: bool = False) -> np.ndarray:
        """Well-loved, recognisable, recent: the crowd-pleaser score (0..~1)."""
        q = min(1.0, weights.quality + (0.2 if quality_wish else 0.0))
        known = (1.0 - weights.trend) * self.recognition + weights.trend * self.trending
        base = q * self.quality + (1.0 - q) * known
        recency = np.exp(-self.age / max(weights.recency_years, 0.1))
        return ((1.0 - weights.recency) * base + weights.recency * recency * base).astype(
            np.float32
        )

    def cooc(self, items: list[int]) -> np.ndarray:
        """Item-item cosine over who rated what, summed over ``items``."""
        if not items:
            return np.zeros(self.n_items, np.float32)
        # sum_j cos(i, j) = (X_i . sum_j X_j / |X_j|) / |X_i|: one sparse product.
        seeds = sp.diags(1.0 / self.item_norms[items]) @ self.user_items_t[items]
        profile = np.asarray(seeds.sum(axis=0)).ravel()
        return (self.user_items_t @ profile / self.item_norms).astype(np.float32)

    def genre_match(self, genres: list[str]) -> np.ndarray:
        """1 for a movie with all of ``genres``, 0.5..1 for some, 0 for none."""
        cols = [self.genre_index[g] for g in genres if g in self.genre_index]
        if not cols:
            return np.zeros(self.n_items, np.float32)
        hits = np.asarray(self.genre_matrix[:, cols].sum(axis=1)).ravel()
        return np.where(hits > 0, 0.5 + 0.5 * hits / len(cols), 0.0).astype(np.float32)

    def genre_any(self, genres: list[str]) -> np.ndarray:
        """Boolean: the movie has any of ``genres``."""
        cols = [self.genre_index[g] for g in genres if g in self.genre_index]
        if not cols:
            return np.zeros(self.n_items, bool)
        return np.asarray(self.genre_matrix[:, cols].sum(axis=1)).ravel() > 0

    def items_of(self, movie_ids: list[int]) -> list[int]:
        """Item indices of the known movieIds."""
        return [self.catalog.item_of[m] for m in movie_ids if m in self.catalog.item_of]

    # -- all signals of a state ---------------------------------------------------------------
    def signals(
        self, state: ChatState, user_id: int | None = None, weights: RankWeights | None = None
    ) -> dict[str, np.ndarray]:
        """Every signal for ``state`` (zeros where it has nothing to say); with ``weights``
        only those with a non-zero weight are computed (the others stay zeros)."""
        engine = self.engine
        zeros = np.zeros(self.n_items, np.float32)
        out = {name: zeros for name in SIGNAL_NAMES}
        wanted = asdict(weights) if weights is not None else dict.fromkeys(SIGNAL_NAMES, 1.0)

        def want(name: str) -> bool:
            return bool(wanted.get(name, 0.0))

        liked = self.items_of(state.liked)
        seeds = tuple(int(m) for m in state.liked if m in self.catalog.item_of)
        if liked and want("cooc"):
            out["cooc"] = _top_scaled(self.cooc(liked))
        if liked and want("ease"):
            out["ease"] = _top_scaled(engine.scorers["collab"].score(Query(seeds=seeds)).values)
        if liked and want("content"):
            content = engine.scorers["genre_tag"].score(Query(seeds=seeds))
            out["content"] = _top_scaled(content.values)
        if liked and want("story"):
            out["story"] = _top_scaled(engine.scorers["semantic"].score(Query(seeds=seeds)).values)
        disliked = self.items_of(state.disliked)
        if disliked and want("disliked"):
            out["disliked"] = _top_scaled(self.cooc(disliked))
        if state.moods.strip() and want("text"):
            _ = engine.encoder
            text = engine.scorers["semantic"].score(Query(text=state.moods[:300])).values
            out["text"] = _top_scaled(np.maximum(np.nan_to_num(text, nan=0.0), 0.0) ** 3)
        out["genre"] = self.genre_match(state.genres)
        if state.people:
            person = np.zeros(self.n_items, np.float32)
            from core.chat.mentions import finders

            _, people = finders(self.catalog)
            for name in state.people:
                person[people.movies_of(name)] = 1.0
            out["person"] = person
        out["prefer"] = self.genre_any(state.prefer_genres).astype(np.float32)
        out["avoid"] = self.genre_any(state.avoid_genres).astype(np.float32)
        if user_id is not None and engine.known_user(user_id) and want("user"):
            out["user"] = _top_scaled(engine.scorers["collab"].score(Query(user_id=user_id)).values)
        return out

    def mask(self, state: ChatState, user_id: int | None = None) -> np.ndarray:
        """Movies that may be recommended: hard exclusions, eras, never a named/seen movie."""
        mask = np.ones(self.n_items, bool)
        if state.exclude_genres:
            mask &= ~self.genre_any(state.exclude_genres)
        if state.year_min is not None:
            mask &= np.nan_to_num(self.years, nan=-1) >= state.year_min
        if state.year_max is not None:
            mask &= np.nan_to_num(self.years, nan=1e9) <= state.year_max
        mask[self.items_of(state.excluded_ids)] = False
        if user_id is not None and self.engine.known_user(user_id):
            rated, _ = self.catalog.user_history(int(user_id))
            mask[rated] = False
        return mask


def combine(
    signals: dict[str, np.ndarray], prior: np.ndarray, weights: RankWeights, has_subject: bool
) -> np.ndarray:
    """The final score: weighted signals plus the prior (which alone ranks a vague turn)."""
    w = asdict(weights)
    total = np.zeros_like(prior, dtype=np.float32)
    for name, values in signals.items():
        sign = -1.0 if name in ("avoid", "disliked") else 1.0
        if w.get(name, 0.0):
            total += sign * float(w[name]) * values
    return total + (weights.prior if has_subject else weights.prior_alone) * prior


def _genre_matrix(catalog: Catalog) -> tuple[sp.csr_matrix, dict[str, int]]:
    names = catalog.genre_names
    index = {g: i for i, g in enumerate(names)}
    rows, cols = [], []
    for item, value in enumerate(catalog.movies["genres"].fillna("").astype(str).tolist()):
        for genre in re.split(r"\|", value):
            if genre in index:
                rows.append(item)
                cols.append(index[genre])
    data = np.ones(len(rows), np.float32)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(catalog.n_items, len(names)))
    return matrix.tocsc(), index


def _recent_counts(catalog: Catalog, years: float = 3.0) -> np.ndarray:
    """Ratings per movie given in the data's last ``years`` (what people watch lately)."""
    ratings = catalog.ratings
    if len(ratings) == 0:
        return np.zeros(catalog.n_items)
    times = ratings["timestamp"].to_numpy()
    recent = times >= int(times.max()) - int(years * 365 * 86400)
    items = catalog.items_for(ratings["movieId"].to_numpy()[recent])
    return np.bincount(items, minlength=catalog.n_items).astype(np.float64)
