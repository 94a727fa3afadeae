"""Hybrid blending of signal scores, filters and per-pick explanations.

Takes the :class:`~core.signals.base.Scores` of every signal, normalises them over the candidate
movies, weights them with user-set :class:`Weights`, applies :class:`Filters` and returns a
ranked frame with each signal's contribution, the SVD predicted rating and a plain reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data.catalog import Catalog
from core.signals.registry import SIGNALS, component


@dataclass(frozen=True, init=False)
class Weights:
    """How much each signal counts (any non-negative numbers; normalised to sum 1).

    ``Weights(collab=1, crew=0.1)`` names some signals; the others keep the default weight of
    their registry entry (:mod:`core.signals.registry`, chosen on validation data: see
    ``docs/experiments/serving.md``). Each signal's weight reads as an attribute
    (``weights.collab``). ``genre_weight`` is the genre versus tag share inside the genre/tag
    signal (1.0 = genres only).
    """

    values: tuple[tuple[str, float], ...]
    genre_weight: float

    def __init__(self, genre_weight: float = 0.5, **signals: float) -> None:
        unknown = sorted(set(signals) - set(SIGNALS))
        if unknown:
            raise TypeError(f"Unknown signal(s) {unknown}; the signals are {', '.join(SIGNALS)}.")
        merged = {
            name: float(signals[name]) if name in signals else float(_default_weight(name))
            for name in SIGNALS
        }
        object.__setattr__(self, "values", tuple(merged.items()))
        object.__setattr__(self, "genre_weight", float(genre_weight))

    def __getattr__(self, name: str) -> float:
        # Only called for names that are not fields: the signals' weights.
        if name.startswith("_") or name == "values" or name not in SIGNALS:
            raise AttributeError(name)
        return dict(self.values)[name]

    def as_dict(self) -> dict[str, float]:
        """Signal weights only (without ``genre_weight``)."""
        return dict(self.values)


def _default_weight(name: str) -> float:
    return component(name).default_weight or 0.0


@dataclass(frozen=True)
class Filters:
    """Which movies may be returned."""

    include_genres: tuple[str, ...] = ()  # any of these (empty = all)
    exclude_genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    min_ratings: int = 0
    exclude_rated: bool = True
    exclude_ids: tuple[int, ...] = field(default_factory=tuple)

    @property
    def narrows(self) -> bool:
        """Whether the user's choices narrow the catalogue (genres, years, a minimum of
        ratings); excluding rated or listed movies does not count."""
        return bool(
            self.include_genres
            or self.exclude_genres
            or self.year_min is not None
            or self.year_max is not None
            or self.min_ratings > 0
        )


# -- blending ----------------------------------------------------------------------------------


def candidate_mask(
    catalog: Catalog, filters: Filters, rated_items: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask over item indices of the movies the filters allow."""
    mask = np.ones(catalog.n_items, dtype=bool)
    if filters.include_genres or filters.exclude_genres:
        genres = catalog.movies["genres"].fillna("").astype(str)
        if filters.include_genres:
            pattern = "|".join(_genre_regex(g) for g in filters.include_genres)
            mask &= genres.str.contains(pattern, regex=True).to_numpy()
        if filters.exclude_genres:
            pattern = "|".join(_genre_regex(g) for g in filters.exclude_genres)
            mask &= ~genres.str.contains(pattern, regex=True).to_numpy()
    if filters.year_min is not None or filters.year_max is not None:
        years = catalog.years
        if filters.year_min is not None:
            mask &= years >= filters.year_min
        if filters.year_max is not None:
            mask &= years <= filters.year_max
    if filters.min_ratings > 0:
        mask &= catalog.display_columns["n_ratings"] >= filters.min_ratings
    if filters.exclude_rated and rated_items is not None and len(rated_items):
        mask[rated_items] = False
    if filters.exclude_ids:
        ids = [catalog.item_of[m] for m in filters.exclude_ids if m in catalog.item_of]
        mask[ids] = False
    return mask


def _genre_regex(genre: str) -> str:
    return r"(?:^|\|)" + re.escape(genre) + r"(?:\||$)"


def normalise(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Z-score of ``values`` over the finite candidates; NaN stays NaN (no opinion).

    Works on one score vector or on a users x items matrix (row by row), so offline evaluation
    blends exactly as the product does. Z-scores rather than min-max: one outlier cannot
    squash everyone else, and a signal with a sharp top (collaborative) keeps its lead over a
    flat one (popularity). A row that rates every candidate the same says nothing about their
    order and normalises to zero.
    """
    values = np.asarray(values, dtype=np.float64)
    usable = np.broadcast_to(mask, values.shape) & np.isfinite(values)
    masked = np.where(usable, values, 0.0)
    count = usable.sum(axis=-1, keepdims=True)
    mean = masked.sum(axis=-1, keepdims=True) / np.maximum(count, 1)
    spread = np.where(usable, values - mean, 0.0)
    std = np.sqrt((spread**2).sum(axis=-1, keepdims=True) / np.maximum(count, 1))
    z = np.divide(spread, std, out=np.zeros_like(spread), where=std > 1e-12)
    return np.where(usable, z, np.nan).astype(np.float32)


@dataclass
class Blend:
    """Result of :func:`blend_scores`: final scores and each signal's weighted part."""

    final: np.ndarray  # float32 per item; -inf where not a candidate
    parts: dict[str, np.ndarray]  # signal -> weighted normalised score (0 where no opinion)
    used: dict[str, float]  # signal -> effective weight (weights of silent signals removed)


def blend_scores(
    signals: dict[str, np.ndarray], weights: dict[str, float], mask: np.ndarray
) -> Blend:
    """Weighted sum of z-normalised signals over the candidates in ``mask``.

    Signals are vectors over items, or users x items matrices with a mask of the same shape.

    A signal with no opinion on any candidate gets weight 0 and the others are renormalised,
    so an unknown user's picks come from content and popularity instead of being all zero.
    """
    normalised = {name: normalise(values, mask) for name, values in signals.items()}
    active = {
        name: max(float(weights.get(name, 0.0)), 0.0)
        for name, values in normalised.items()
        if np.isfinite(values).any()
    }
    total = sum(active.values())
    if total <= 0:
        # Everything silent (or all weights zero): fall back to equal weights of what speaks.
        active = {name: 1.0 for name in active}
        total = float(len(active)) or 1.0
    used = {name: w / total for name, w in active.items()}
    shape = next(iter(normalised.values())).shape if normalised else mask.shape
    final = np.zeros(shape, dtype=np.float32)
    parts: dict[str, np.ndarray] = {}
    for name, values in normalised.items():
        weight = used.get(name, 0.0)
        part = np.nan_to_num(values, nan=0.0) * weight
        parts[name] = part.astype(np.float32)
        final += part
    final[~np.broadcast_to(mask, shape)] = -np.inf
    return Blend(final=final, parts=parts, used=used)


def top_items(final: np.ndarray, top: int) -> np.ndarray:
    """Indices of the ``top`` highest finite scores, best first (ties by item index)."""
    finite = np.flatnonzero(np.isfinite(final))
    if len(finite) == 0 or top <= 0:
        return np.empty(0, dtype=np.int64)
    k = min(top, len(finite))
    values = final[finite]
    chosen = finite[np.argpartition(-values, k - 1)[:k]] if k < len(finite) else finite
    order = np.lexsort((chosen, -final[chosen]))
    return chosen[order].astype(np.int64)


def results_frame(
    catalog: Catalog,
    items: np.ndarray,
    blend: Blend,
    reasons: list[str],
    predicted: np.ndarray | None = None,
) -> pd.DataFrame:
    """The table every operation returns: one row per pick, best first."""
    columns = catalog.display_columns
    data: dict[str, object] = {
        "movieId": columns["movieId"][items],
        "title": columns["title"][items],
        "year": pd.array(columns["year"][items], dtype="Int16"),
        "genres": columns["genres"][items],
        "score": blend.final[items].astype(np.float64),
        "predicted_rating": (
            predicted.astype(np.float64) if predicted is not None else np.full(len(items), np.nan)
        ),
        "reason": reasons,
    }
    for name in SIGNALS:
        if name in blend.parts:
            data[f"contrib_{name}"] = blend.parts[name][items].astype(np.float64)
    for col in ("n_ratings", "mean_rating", "overview", "directors"):
        data[col] = columns[col][items]
    for col in ("imdbId", "tmdbId"):
        data[col] = pd.array(columns[col][items], dtype="Int64")
    # One constructor call: inserting columns one by one costs ~0.5 ms each in pandas.
    return pd.DataFrame(data)
