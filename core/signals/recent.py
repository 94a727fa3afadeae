"""Recent taste: the collaborative ranker led by a person's latest ratings, as its own signal.

Overall taste (every rating alike) and what to watch next (the latest few) pull the ranker's
recency opposite ways; mixing the two inside one profile (a recency floor) serves neither
well. As a separate z-scored blend signal, a small weight lifts the movies that follow what a
person rated last without reshuffling the rest of their list (docs/experiments/serving.md,
"Build-time tuning"). It scores only ratings: seed movies and text leave it silent, so "more
like this movie" is not counted twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.catalog import Catalog
from core.errors import ArtifactError
from core.signals.base import Query, Scorer, Scores, read_meta, save_json
from core.signals.ranking.base import CollabRanker

#: A rating k ratings before the latest weighs ``exp(-k / RECENT_DECAY)``: the last few lead.
RECENT_DECAY = 3.0
#: The collaborative component's folder beside this one (the ranker is shared, not copied).
COLLAB_FOLDER = "collab"


class RecentTaste(Scorer):
    """The collaborative ranker with a steep recency decay and no floor, on ratings only."""

    name = "recent"
    label = "Recent taste"

    def __init__(self, decay: float = RECENT_DECAY) -> None:
        self.decay = float(decay)
        self._ranker: CollabRanker | None = None
        self._beside: Path | None = None  # a saved collaborative model, read on first use

    @property
    def ranker(self) -> CollabRanker | None:
        """The recency-led view of the collaborative model (``None`` before one is given)."""
        if self._ranker is None and self._beside is not None:
            # Loaded on first use: an engine hands over its own model first (use_ranker), so
            # the model is not read twice when the app starts.
            self.use_ranker(CollabRanker.load(self._beside))
        return self._ranker

    def fit(self, catalog: Catalog, ranker: CollabRanker | None = None) -> RecentTaste:
        """Use the fitted collaborative ``ranker`` (nothing else is learned)."""
        self.n_items = catalog.n_items
        if ranker is not None:
            self.use_ranker(ranker)
        return self

    def use_ranker(self, ranker: CollabRanker) -> None:
        """Score with ``ranker`` (the engine's own collaborative model, shared)."""
        self._ranker = ranker.with_params(recency_decay=self.decay, recency_floor=0.0,
                                          recency_liked_only=False)  # fmt: skip
        self._beside = None
        self.n_items = ranker.n_items

    def _ratings_only(self, query: Query) -> Query | None:
        if query.user_id is None and not query.ratings:
            return None
        return Query(user_id=query.user_id, ratings=dict(query.ratings))

    def score(self, query: Query) -> Scores:
        """The ranker's scores for the query's ratings, latest first; NaN without ratings."""
        rated = self._ratings_only(query)
        if self.ranker is None:
            return Scores.empty(self.n_items, "recent taste: no collaborative model")
        if rated is None:
            known = self.ranker.history.item_of
            unknown = [f"unknown movie {m}" for m in query.seeds if int(m) not in known]
            return Scores.empty(self.n_items, "; ".join([*unknown, "recent taste needs ratings"]))
        scores = self.ranker.score(rated)
        return Scores(scores.values, scores.note.replace("your ratings", "your latest ratings"))

    def score_users(self, user_ids: np.ndarray) -> np.ndarray:
        if self.ranker is None:
            return np.full((len(user_ids), self.n_items), np.nan, dtype=np.float32)
        return self.ranker.score_users(user_ids)

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        rated = self._ratings_only(query)
        if self.ranker is None or rated is None:
            return [None] * len(items)
        return self.ranker.explain(rated, items)

    def save(self, directory: Path) -> None:
        """Only the decay: the ranker is the collaborative component's, loaded beside it."""
        directory.mkdir(parents=True, exist_ok=True)
        save_json(directory / "recent.json",
                  {"kind": "recent", "decay": self.decay, "n_items": self.n_items})  # fmt: skip

    @classmethod
    def load(cls, directory: Path) -> RecentTaste:
        """Read the decay; the collaborative ranker saved beside ``directory`` is read when first
        needed (unless :meth:`use_ranker` gives one first)."""
        meta = read_meta(directory / "recent.json", "recent")
        obj = cls(float(meta["decay"]))
        obj.n_items = int(meta["n_items"])
        sibling = directory.parent / COLLAB_FOLDER
        if not sibling.is_dir():
            raise ArtifactError(f"recent taste needs the collaborative model in {sibling}")
        obj._beside = sibling
        return obj
