"""Shared settings and checks of the collaborative tests (SVD and the rankers)."""

from __future__ import annotations

import numpy as np

from core.config import RankerSettings, Settings, SVDSettings
from core.signals.base import Query, Scorer
from tests.fixtures import ROMANCE, SCIFI

# Small models: the tiny catalogue has 20 movies, 40 users and two taste groups (so ALS gets
# two factors; with more it overfits each user's few unwatched movies to zero). Every tiny user
# rates the other group's movies last, so profile recency (tested on its own below) is off.
SMALL = Settings(
    svd=SVDSettings(n_factors=8, n_epochs=40),
    ranker=RankerSettings(
        ease_lambda=20.0, als_factors=2, als_regularization=1.0, als_alpha=1.0, recency_decay=0.0
    ),
)


def unseen(catalog, user: int, group: list[int]) -> np.ndarray:
    """Item indices of the ``group`` movies ``user`` has not rated."""
    rated = set(catalog.user_ratings(user)["movieId"].tolist())
    return np.array([catalog.item_of[m] for m in group if m not in rated])


def assert_taste_groups(scorer: Scorer, catalog, users=(1, 3, 5, 2, 4)) -> None:
    """Odd users rank every unseen sci-fi movie above every unseen romance; even the reverse."""
    for user in users:
        values = scorer.score(Query(user_id=user)).values
        liked, other = (SCIFI, ROMANCE) if user % 2 else (ROMANCE, SCIFI)
        mine, theirs = values[unseen(catalog, user, liked)], values[unseen(catalog, user, other)]
        assert mine.min() > theirs.max(), user
