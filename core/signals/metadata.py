"""The "TMDB metadata" scorer: how TMDB's audience received a movie, blended with text similarity.

Standardised TMDB popularity, damped vote average and vote count (:func:`tmdb_quality`), mixed by
a weight with a :class:`~core.signals.semantic.SemanticScorer`; it must not read files or the
network, and saves as arrays + JSON (no pickled objects).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.data.catalog import Catalog
from core.signals.base import Query, Scorer, Scores, read_meta, save_json
from core.signals.encoder import Encoder
from core.signals.semantic import SemanticScorer

#: Share of the metadata quality in :class:`MetadataScorer` (the rest is text similarity).
#: Why 0.7: best nDCG@10 on validation data (figures in ``docs/experiments/signals.md``).
METADATA_WEIGHT = 0.7
#: Pseudo-votes at the mean that damp the vote average (IMDb's weighted-rating formula).
VOTE_DAMPING = 50.0
#: The three standardised TMDB columns and their share of the quality score.
METADATA_FEATURES: dict[str, float] = {"popularity": 1.0, "vote_average": 1.0, "vote_count": 1.0}


def tmdb_quality(movies: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Standardised TMDB reception per movie (NaN where TMDB has no data) and its parts.

    ``log1p(popularity)``, the damped vote average and ``log1p(vote_count)`` are each z-scored
    over the movies that have them; the quality is their weighted mean, z-scored again.
    """
    n = len(movies)

    def column(name: str) -> np.ndarray:
        if name not in movies:
            return np.full(n, np.nan)
        values = pd.to_numeric(movies[name], errors="coerce").astype("float64")
        return values.to_numpy(na_value=np.nan)

    votes = column("vote_count")
    average = column("vote_average")
    known = np.isfinite(votes) & (votes > 0) & np.isfinite(average)
    mean_vote = float(np.average(average[known], weights=votes[known])) if known.any() else 0.0
    with np.errstate(invalid="ignore"):
        damped = (votes * average + VOTE_DAMPING * mean_vote) / (votes + VOTE_DAMPING)
    raw = {
        "popularity": np.log1p(np.clip(column("popularity"), 0, None)),
        "vote_average": np.where(known, damped, np.nan),
        "vote_count": np.where(known, np.log1p(votes), np.nan),
    }
    parts = {name: _zscore(values) for name, values in raw.items()}
    stacked = np.vstack([parts[name] * w for name, w in METADATA_FEATURES.items()])
    present = np.isfinite(stacked)
    total_weight = (present * np.array(list(METADATA_FEATURES.values()))[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        quality = np.where(total_weight > 0, np.nansum(stacked, axis=0) / total_weight, np.nan)
    return _zscore(quality).astype(np.float32), {k: v.astype(np.float32) for k, v in parts.items()}


def _zscore(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.sum() < 2:
        return np.where(finite, 0.0, np.nan)
    mean, std = values[finite].mean(), values[finite].std()
    return np.where(finite, (values - mean) / (std if std > 1e-12 else 1.0), np.nan)


class MetadataScorer(Scorer):
    """``(1 - w) * z(text similarity) + w * z(TMDB quality)``, ``w`` = ``metadata_weight``.

    The text part is a :class:`~core.signals.semantic.SemanticScorer` (cosine to the liked/seed
    movies or the query text); the metadata part is :func:`tmdb_quality`, 0 (average) where
    TMDB has no data. Without anything to compare with, the metadata part alone is returned
    (a finite fallback, said in the note).
    """

    name = "metadata"
    label = "TMDB metadata"

    def __init__(self, *, metadata_weight: float = METADATA_WEIGHT) -> None:
        self.metadata_weight = float(metadata_weight)
        self.quality = np.empty(0, dtype=np.float32)
        self.parts: dict[str, np.ndarray] = {}
        self.vote_average = np.empty(0, dtype=np.float32)
        self.vote_count = np.empty(0, dtype=np.float32)
        #: The text part (cosine to liked/seed movies or the query text); set by :meth:`fit`.
        self.text: SemanticScorer | None = None

    def fit(  # type: ignore[override]  # the text scorer is an extra, optional input
        self,
        catalog: Catalog,
        semantic: SemanticScorer | None = None,
        embeddings: np.ndarray | None = None,
    ) -> MetadataScorer:
        """Standardise the TMDB columns; ``semantic`` (a fitted SemanticScorer) or
        ``embeddings`` (one unit vector per movie) give the text similarity."""
        self.n_items = catalog.n_items
        self.quality, self.parts = tmdb_quality(catalog.movies)
        movies = catalog.movies
        for name in ("vote_average", "vote_count"):
            values = pd.to_numeric(movies[name], errors="coerce") if name in movies else None
            array = (
                values.astype("float64").to_numpy(na_value=np.nan)
                if values is not None
                else np.full(self.n_items, np.nan)
            )
            setattr(self, name, array.astype(np.float32))
        if semantic is None:
            if embeddings is None:
                raise ValueError("MetadataScorer.fit needs a semantic scorer or embeddings")
            semantic = SemanticScorer().fit_embeddings(catalog, embeddings)
        self.text = semantic
        return self

    def share_text(self, semantic: SemanticScorer) -> None:
        """Use ``semantic`` as the text part: a loaded engine's semantic scorer holds the same
        movie vectors, and sharing it keeps one copy of the matrix in memory."""
        self.text = semantic

    def set_encoder(self, encoder: Encoder) -> None:
        """Share the query encoder with the text part (a no-op before :meth:`fit`)."""
        if self.text is not None:
            self.text.set_encoder(encoder)

    def score(self, query: Query) -> Scores:
        """Text similarity and TMDB reception, blended; metadata alone when text is silent."""
        if self.n_items == 0:
            return Scores.empty(0, "metadata scorer is not fitted")
        meta = np.nan_to_num(self.quality, nan=0.0)
        text = self.text.score(query)
        w = self.metadata_weight
        if not text.has_opinion:
            note = "; ".join(n for n in (text.note, "TMDB reception only") if n)
            return Scores(meta.astype(np.float32), note)
        z_text = np.nan_to_num(_zscore(text.values), nan=0.0)
        values = (1.0 - w) * z_text + w * meta
        return Scores(values.astype(np.float32), text.note)

    def score_users(self, user_ids: np.ndarray) -> np.ndarray:
        """The text part's matrix (:meth:`SemanticScorer.score_users`), mixed row by row."""
        meta = np.nan_to_num(self.quality, nan=0.0).astype(np.float64)
        text = self.text.score_users(user_ids)
        w = self.metadata_weight
        out = np.empty(text.shape, dtype=np.float32)
        for row in range(len(text)):
            if not np.isfinite(text[row]).any():
                out[row] = meta
            else:
                out[row] = (1.0 - w) * np.nan_to_num(_zscore(text[row]), nan=0.0) + w * meta
        return out

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"TMDB 7.8/10 from 5,269 votes"`` for well-received picks, else the text reason."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) == 0 or self.n_items == 0:
            return [None] * len(items)
        text = self.text.explain(query, items) if self.metadata_weight < 1 else [None] * len(items)
        out: list[str | None] = []
        for row, item in enumerate(items.tolist()):
            quality = self.quality[item]
            if self.metadata_weight > 0 and np.isfinite(quality) and quality > 1.0:
                votes = self.vote_count[item]
                out.append(f"TMDB {self.vote_average[item]:.1f}/10 from {int(votes):,} votes")
            else:
                out.append(text[row])
        return out

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``metadata_*.npy``, ``metadata.json`` and the text scorer's own files."""
        directory.mkdir(parents=True, exist_ok=True)
        for key in ("quality", "vote_average", "vote_count"):
            np.save(directory / f"metadata_{key}.npy", getattr(self, key))
        for key, values in self.parts.items():
            np.save(directory / f"metadata_part_{key}.npy", values)
        self.text.save(directory)
        save_json(
            directory / "metadata.json",
            {
                "kind": "metadata",
                "metadata_weight": self.metadata_weight,
                "parts": sorted(self.parts),
                "n_items": self.n_items,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> MetadataScorer:
        """Read what :meth:`save` wrote (the text part's vectors memory-mapped)."""
        meta = read_meta(directory / "metadata.json", "metadata")
        obj = cls(metadata_weight=float(meta["metadata_weight"]))
        obj.n_items = int(meta["n_items"])
        for key in ("quality", "vote_average", "vote_count"):
            setattr(obj, key, np.load(directory / f"metadata_{key}.npy"))
        obj.parts = {k: np.load(directory / f"metadata_part_{k}.npy") for k in meta["parts"]}
        obj.text = SemanticScorer.load(directory)
        return obj

    def with_weight(self, metadata_weight: float) -> MetadataScorer:
        """A copy sharing every array but with another metadata weight (for tuning)."""
        other = MetadataScorer(metadata_weight=metadata_weight)
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k != "metadata_weight"})
        return other
