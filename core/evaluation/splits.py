"""Train / test splits of a ratings table for offline evaluation: stratified and temporal.

Protocols follow public benchmarks so figures are comparable: the per-user stratified random
split of Microsoft's ``recommenders`` project (75/25, seed 42) and the temporal leave-one-out
split (latest rating = test, second latest = validation). Splitting only: no model, no metric.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def stratified_split(
    ratings: pd.DataFrame, test_fraction: float = 0.25, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, a random ``test_fraction`` of their ratings goes to the test part.

    Every user keeps at least one training rating; users with a single rating stay in train.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ratings))
    shuffled = ratings.iloc[order]
    rank = shuffled.groupby("userId", sort=False).cumcount().to_numpy()
    size = shuffled.groupby("userId", sort=False)["userId"].transform("size").to_numpy()
    n_train = np.maximum(1, np.round(size * (1 - test_fraction))).astype(np.int64)
    is_train = rank < n_train
    return (
        shuffled[is_train].sort_index(kind="stable"),
        shuffled[~is_train].sort_index(kind="stable"),
    )


def temporal_leave_one_out(
    ratings: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Each user's latest rating is test, the second latest validation, the rest train.

    Ties in time are broken by movieId so the split is deterministic. Users with fewer than
    three ratings contribute only to train.
    """
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    from_end = ordered.groupby("userId", sort=False).cumcount(ascending=False).to_numpy()
    size = ordered.groupby("userId", sort=False)["userId"].transform("size").to_numpy()
    eligible = size >= 3
    test = ordered[eligible & (from_end == 0)]
    valid = ordered[eligible & (from_end == 1)]
    train = ordered[~(eligible & (from_end <= 1))]
    return train, valid, test


def sample_users(users: np.ndarray, most: int | None, seed: int = 42) -> np.ndarray:
    """A seeded random sample of at most ``most`` of ``users``, sorted (all when ``None``)."""
    if most is None or len(users) <= most:
        return users
    return np.sort(np.random.default_rng(seed).choice(users, size=most, replace=False))
