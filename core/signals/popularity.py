"""Popularity prior: how popular and how well rated each movie is, the same for every query.

One array per catalogue, fitted from rating counts and means (or TMDB votes); it must not
personalise anything -- a query only changes the note, never the values.

The rating part is a damped (Bayesian) mean, ``(n * mean + m * C) / (n + m)``, which pulls the
average of a movie with few ratings towards the global mean ``C`` (``m`` pseudo-ratings, from
``Settings.prior_damping``), so three 5-star ratings do not beat three hundred 4.5s. The
popularity part is ``log(1 + n_ratings)`` scaled to [0, 1]. Movies nobody rated fall back to TMDB's
``vote_average`` / ``vote_count`` (damped the same way, rescaled to the rating scale).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.config import Settings
from core.data.catalog import Catalog
from core.signals.base import Query, Scorer, Scores, read_meta, save_json
from core.signals.history import RatingHistory, unknown_notes

#: Share of the damped mean (vs. log popularity) in the prior's score.
RATING_SHARE = 0.5
#: ``hidden_gem`` ignores movies with fewer ratings than this (too little evidence).
GEM_MIN_RATINGS = 5


class PopularityPrior(Scorer):
    """Damped mean rating mixed with log popularity; one array for every query.

    Attributes (after :meth:`fit`):
        damped_mean: damped mean rating per item (TMDB-based for unrated movies; NaN if neither).
        n_ratings: number of MovieLens ratings per item.
        values: the score, ``RATING_SHARE * quality + (1 - RATING_SHARE) * popularity``, where
            quality is the damped mean mapped to [0, 1] over the rating scale.
    """

    name = "popularity"
    label = "Popularity"

    def __init__(self, settings: Settings | None = None, *, rating_share: float = RATING_SHARE):
        settings = settings or Settings()
        self.damping = float(settings.prior_damping)
        self.rating_share = float(rating_share)
        self.scale: tuple[float, float] = (0.5, 5.0)
        self.global_mean = float("nan")
        self.damped_mean = np.empty(0, dtype=np.float32)
        self.n_ratings = np.empty(0, dtype=np.int64)
        self.from_tmdb = np.empty(0, dtype=bool)
        self.popularity = np.empty(0, dtype=np.float32)
        self.values = np.empty(0, dtype=np.float32)
        self.history = RatingHistory.empty()

    def fit(self, catalog: Catalog) -> PopularityPrior:
        """Compute the damped means, counts and the score array."""
        stats = catalog.rating_stats
        ratings = catalog.ratings["rating"].to_numpy(dtype=np.float64)
        c = float(ratings.mean()) if len(ratings) else float("nan")
        return self.fit_aggregates(
            catalog, stats["n_ratings"].to_numpy(), stats["mean_rating"].to_numpy(), c
        )

    def fit_aggregates(
        self,
        catalog: Catalog,
        n_ratings: np.ndarray,
        mean_rating: np.ndarray,
        global_mean: float,
    ) -> PopularityPrior:
        """:meth:`fit` from per-item counts and means computed elsewhere (``core.serving.spark``);
        ``catalog`` gives the rating scale, the id maps and TMDB's votes for unrated movies."""
        lo, hi = (float(v) for v in catalog.report.rating_scale)
        self.scale = (lo, hi)
        self.n_items = catalog.n_items
        n = np.asarray(n_ratings, dtype=np.float64)
        mean = np.asarray(mean_rating, dtype=np.float64)
        c = float(global_mean) if np.isfinite(global_mean) else (lo + hi) / 2
        m = self.damping
        with np.errstate(invalid="ignore", divide="ignore"):
            damped = np.where(n > 0, (n * np.nan_to_num(mean) + m * c) / (n + m), np.nan)
            # Unrated movies: TMDB's 0-10 vote average on the rating scale, damped alike.
            votes = _column(catalog.movies, "vote_count")
            average = lo + _column(catalog.movies, "vote_average") / 10.0 * (hi - lo)
            tmdb_ok = (n == 0) & (votes > 0) & np.isfinite(average)
            tmdb = (votes * average + m * c) / (votes + m)
        damped = np.where(tmdb_ok, tmdb, damped)
        quality = np.clip((damped - lo) / (hi - lo), 0.0, 1.0)
        top = np.log1p(n.max()) if len(n) and n.max() > 0 else 1.0
        popularity = np.log1p(n) / top
        values = self.rating_share * quality + (1.0 - self.rating_share) * popularity
        self.global_mean = c
        self.damped_mean = damped.astype(np.float32)
        self.n_ratings = n.astype(np.int64)
        self.from_tmdb = tmdb_ok
        self.popularity = popularity.astype(np.float32)
        self.values = values.astype(np.float32)  # NaN where damped is NaN
        # Only the id maps are needed (for notes); keep an empty rating matrix.
        self.history = RatingHistory(
            catalog.movie_ids,
            catalog.user_ids,
            sp.csr_matrix((len(catalog.user_ids), catalog.n_items), dtype=np.float32),
        )
        return self

    def score(self, query: Query) -> Scores:
        """The same prior for every query; the note names ids the catalogue does not know."""
        notes = ["popular and well rated overall", *unknown_notes(self.history, query)]
        return Scores(self.values.copy(), "; ".join(notes))

    def hidden_gem(self, min_ratings: int = GEM_MIN_RATINGS) -> np.ndarray:
        """Per item: high damped mean with few ratings scores high (NaN below ``min_ratings``).

        ``quality * (1 - popularity)``; the damping already discounts tiny samples, and
        ``min_ratings`` drops movies whose mean is mostly the global prior.
        """
        lo, hi = self.scale
        quality = np.clip((self.damped_mean - lo) / (hi - lo), 0.0, 1.0)
        gem = quality * (1.0 - self.popularity)
        return np.where(self.n_ratings >= min_ratings, gem, np.nan).astype(np.float32)

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"rated 4.2★ on average by 312 users"`` (or the TMDB figure for unrated movies)."""
        out: list[str | None] = []
        for item in np.asarray(items, dtype=np.int64).tolist():
            n = int(self.n_ratings[item])
            if n > 0:
                out.append(f"rated {self.damped_mean[item]:.1f}★ (damped) by {n:,} users")
            elif self.from_tmdb[item]:
                out.append(f"TMDB average {self.damped_mean[item]:.1f}★ (on this rating scale)")
            else:
                out.append(None)
        return out

    # -- persistence: arrays + JSON, no pickle -----------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``popularity_*.npy`` arrays and ``popularity.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        for key in ("damped_mean", "n_ratings", "from_tmdb", "popularity", "values"):
            np.save(directory / f"popularity_{key}.npy", getattr(self, key))
        self.history.save(directory, "popularity")
        save_json(
            directory / "popularity.json",
            {
                "kind": "popularity",
                "damping": self.damping,
                "rating_share": self.rating_share,
                "scale": list(self.scale),
                "global_mean": self.global_mean,
                "n_items": self.n_items,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> PopularityPrior:
        """Read what :meth:`save` wrote; ``ValueError`` if the folder holds something else."""
        meta = read_meta(directory / "popularity.json", "popularity")
        obj = cls(rating_share=float(meta["rating_share"]))
        obj.damping = float(meta["damping"])
        obj.scale = (float(meta["scale"][0]), float(meta["scale"][1]))
        obj.global_mean = float(meta["global_mean"])
        obj.n_items = int(meta["n_items"])
        for key in ("damped_mean", "n_ratings", "from_tmdb", "popularity", "values"):
            setattr(obj, key, np.load(directory / f"popularity_{key}.npy"))
        obj.history = RatingHistory.load(directory, "popularity")
        return obj


def _column(movies: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric movies column as float64 with NaN for missing values or a missing column."""
    if name not in movies:
        return np.full(len(movies), np.nan)
    return pd.to_numeric(movies[name], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
