"""Signals fitted on a training split, as users x movies score matrices, and their top-k lists.

The shared vocabulary of the ranking parts (candidates, held-out truth, top-k, z-scored blends);
it must not choose weights or write results (see :mod:`core.evaluation.tuning`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.metrics import K
from core.serving.blend import SIGNALS, blend_scores, normalise
from core.signals.base import Query, Scorer

if TYPE_CHECKING:
    from core.signals.genre_tag import GenreTagScorer


def subset_catalog(catalog: Catalog, ratings: pd.DataFrame) -> Catalog:
    """The same movies and tags with only some ratings (a training part)."""
    return Catalog(catalog.name, catalog.movies, ratings.reset_index(drop=True), catalog.tags,
                   catalog.report)  # fmt: skip


@dataclass
class FittedSignals:
    """Scorers fitted on one training part (``catalog`` holds only that part's ratings)."""

    catalog: Catalog
    scorers: dict[str, Scorer]


def fit_content(part: Catalog, settings: Settings, embeddings: np.ndarray) -> dict[str, Scorer]:
    """Every blend signal but the collaborative one and its views, fitted on ``part`` (the
    evaluation and the build's tuning fit the same set)."""
    from core.signals.crew import CrewScorer
    from core.signals.factors import TasteFactors
    from core.signals.genre_tag import GenreTagScorer
    from core.signals.metadata import MetadataScorer
    from core.signals.popularity import PopularityPrior
    from core.signals.semantic import SemanticScorer

    semantic = SemanticScorer(settings).fit_embeddings(part, embeddings)
    return {
        "factors": TasteFactors(settings).fit(part),
        "genre_tag": GenreTagScorer(settings).fit(part),
        "semantic": semantic,
        "popularity": PopularityPrior(settings).fit(part),
        "crew": CrewScorer().fit(part),
        "metadata": MetadataScorer().fit(part, semantic=semantic),
    }


def fit_signals(
    catalog: Catalog, train: pd.DataFrame, settings: Settings, embeddings: np.ndarray
) -> FittedSignals:
    """Every blend signal (and the SVD rating) fitted on ``train`` only."""
    from core.signals.ranking import make_ranker
    from core.signals.rating import SVDRating
    from core.signals.recent import RecentTaste

    part = subset_catalog(catalog, train)
    collab = make_ranker(part, settings).fit(part)
    scorers: dict[str, Scorer] = {
        "collab": collab,
        "recent": RecentTaste().fit(part, collab),
        **fit_content(part, settings, embeddings),
        "svd": SVDRating(settings).fit(part),
    }
    return FittedSignals(part, scorers)


def signal_matrices(
    fitted: FittedSignals, users: np.ndarray, genre_weight: float,
    names: Iterable[str] | None = None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Raw scores of every signal (or of ``names``) for every user (users x items, float32)."""
    names = (*SIGNALS, "svd") if names is None else tuple(names)
    out = {name: np.empty((len(users), fitted.catalog.n_items), np.float32) for name in names}
    scorers = {name: fitted.scorers[name] for name in out}
    if "genre_tag" in scorers:  # the genre/tag share is a knob of the query, not of the fit
        genre_tag = cast("GenreTagScorer", scorers["genre_tag"])
        scorers["genre_tag"] = genre_tag.with_genre_weight(genre_weight)
    for row, user in enumerate(users.tolist()):
        query = Query(user_id=int(user))
        for name, scorer in scorers.items():
            out[name][row] = scorer.score(query).values
    return out


def candidate_mask(catalog: Catalog, users: np.ndarray, train: pd.DataFrame) -> np.ndarray:
    """users x items mask: True where the movie is not in the user's training ratings."""
    mask = np.ones((len(users), catalog.n_items), dtype=bool)
    row_of = {int(u): r for r, u in enumerate(users.tolist())}
    rows = train["userId"].map(row_of)
    keep = rows.notna().to_numpy()
    cols = catalog.items_for(train["movieId"].to_numpy()[keep])
    mask[rows.to_numpy()[keep].astype(np.int64), cols] = False
    return mask


def held_out_truth(
    catalog: Catalog, users: np.ndarray, held_out: pd.DataFrame
) -> dict[int, set[int]]:
    """User id -> item indices of their held-out ratings (an empty set for users without)."""
    items = catalog.items_for(held_out["movieId"].to_numpy())
    truth: dict[int, set[int]] = {int(u): set() for u in users.tolist()}
    for user, item in zip(held_out["userId"].tolist(), items.tolist(), strict=True):
        if user in truth:
            truth[user].add(item)
    return truth


def top_k(scores: np.ndarray, mask: np.ndarray, k: int = K) -> np.ndarray:
    """Top ``k`` item indices per row among candidates, best first (-1 pads rows with fewer
    finite candidates). ``k`` is capped at the number of movies (small catalogues).

    Ties: the one rule of every top-k here, argpartition then a stable sort, so every part
    that ranks through this function breaks ties the same way."""
    k = max(1, min(k, scores.shape[-1]))
    values = np.where(mask & np.isfinite(scores), scores, -np.inf)
    part = np.argpartition(-values, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(values, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    finite = np.isfinite(np.take_along_axis(values, top, axis=1))
    return np.where(finite, top, -1)


def ranked_lists(users: np.ndarray, top: np.ndarray) -> dict[int, list[int]]:
    """User id -> their top items (the -1 padding of :func:`top_k` dropped)."""
    return {int(u): [int(i) for i in row if i >= 0] for u, row in zip(users, top, strict=True)}


def blend_top(
    signals: Mapping[str, np.ndarray], weights: Mapping[str, float], mask: np.ndarray
) -> np.ndarray:
    """Top k of the product's own blend (:func:`~core.serving.blend.blend_scores`) of the raw
    blend signals: the path the reported product rows take, so they measure the product's
    code itself; :func:`weighted_top` is the fast equivalent used while tuning."""
    blended = blend_scores({n: signals[n] for n in SIGNALS}, dict(weights), mask).final
    return top_k(blended, mask)


def normalised_signals(
    signals: Mapping[str, np.ndarray], mask: np.ndarray
) -> dict[str, np.ndarray]:
    """Each signal z-normalised over the candidates once, as :func:`blend_scores` does,
    NaN -> 0 (the input of :func:`weighted_top`)."""
    return {n: np.nan_to_num(normalise(values, mask), nan=0.0) for n, values in signals.items()}


def weighted_top(
    z: Mapping[str, np.ndarray], weights: Mapping[str, float], mask: np.ndarray, k: int = K
) -> np.ndarray:
    """Top ``k`` of the weighted sum of pre-normalised signals (:func:`normalised_signals`):
    the order :func:`blend_scores` gives (it only rescales by the weights' total), without
    normalising again for every weight setting tried."""
    total = np.zeros(mask.shape, dtype=np.float32)
    for name, weight in weights.items():
        if weight > 0 and name in z:
            total += np.float32(weight) * z[name]
    return top_k(total, mask, k)
