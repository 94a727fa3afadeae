"""Taste factors: a small implicit-feedback ALS model as a blend signal beside EASE.

EASE learns item-to-item weights and misses the broad strokes of a person's taste; a few latent
factors capture those (how mainstream, which eras and genres) and make different mistakes.
Averaged as z-scores, the two beat either alone on some data sets (ml-100k, stratified
nDCG@10, docs/experiments/serving.md "Taste factors") and not on others (ml-latest-small), so
the signal's default weight is 0 and the build's tuning decides it on validation ratings.

The model is :class:`~core.signals.ranking.ALSRanker` with its own few-factor settings: queries,
seeds, fold-in of new ratings and explanations work as for the collaborative signal.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from core.config import Settings
from core.data.catalog import Catalog
from core.errors import ArtifactError
from core.signals.base import Query, Scorer, Scores
from core.signals.ranking.als import ALSRanker
from core.signals.ranking.base import CollabRanker

#: Few factors on purpose: the signal is the coarse view EASE lacks. With 16, ALS alone scored
#: 0.466 on a 75/25 ml-100k split where 64 factors scored 0.38 and EASE 0.47 (the same page).
FACTORS = 16
REGULARIZATION = 1.0
ALPHA = 2.0
ITERATIONS = 20


def factor_settings(settings: Settings | None = None) -> Settings:
    """``settings`` with the ranker fields of this signal's ALS model. A stored user's ratings
    count fully and alike (no recency, disliked movies too), as in fitting, so a stored user is
    scored with their trained factors, the model that was measured, not a re-weighted fold-in.
    New ratings of a query are folded in as the collaborative ranker reads them."""
    settings = settings or Settings()
    ranker = dataclasses.replace(
        settings.ranker, kind="als", als_factors=FACTORS, als_regularization=REGULARIZATION,
        als_alpha=ALPHA, als_iterations=ITERATIONS, dislike_weight=1.0, recency_decay=0.0,
        recency_floor=0.0,
    )  # fmt: skip
    return settings.replace(ranker=ranker)


class TasteFactors(Scorer):
    """A few-factor ALS model of the ratings, scored like the collaborative signal."""

    name = "factors"
    label = "Taste factors"

    def __init__(self, settings: Settings | None = None) -> None:
        self.ranker: CollabRanker = ALSRanker(factor_settings(settings))
        self.n_items = 0

    def fit(self, catalog: Catalog) -> TasteFactors:
        """Fit the ALS factors on the catalogue's ratings."""
        self.ranker.fit(catalog)
        self.n_items = catalog.n_items
        return self

    def score(self, query: Query) -> Scores:
        """Factor scores for the query's ratings (folded in when new) or its seed movies."""
        scores = self.ranker.score(query)
        return Scores(scores.values, scores.note.replace("ALS on", f"{FACTORS} latent factors of"))

    def score_users(self, user_ids: np.ndarray) -> np.ndarray:
        return self.ranker.score_users(user_ids)

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        return self.ranker.explain(query, items)

    def save(self, directory: Path) -> None:
        """The ALS ranker's arrays and ``collab.json`` in this component's own folder."""
        self.ranker.save(directory)

    @classmethod
    def load(cls, directory: Path) -> TasteFactors:
        try:
            ranker = ALSRanker.load(directory)
        except ValueError as exc:  # a saved EASE model, or another ranker, in this folder
            raise ArtifactError(f"taste factors: {exc}") from exc
        obj = cls.__new__(cls)
        obj.ranker = ranker
        obj.n_items = ranker.n_items
        return obj
