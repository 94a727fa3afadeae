"""Evaluation splits: stratified per user and reproducible, leave-one-out takes the latest."""

from __future__ import annotations

import pandas as pd

from core.evaluation.splits import stratified_split, temporal_leave_one_out
from tests.fixtures import make_ratings


def test_stratified_split_is_per_user_and_reproducible() -> None:
    ratings = make_ratings()
    train, test = stratified_split(ratings, 0.25, seed=42)
    assert len(train) + len(test) == len(ratings)
    assert set(train["userId"]) == set(ratings["userId"])
    per_user = test.groupby("userId").size() / ratings.groupby("userId").size()
    assert per_user.dropna().between(0.1, 0.4).all()
    again, _ = stratified_split(ratings, 0.25, seed=42)
    pd.testing.assert_frame_equal(train, again)


def test_leave_one_out_takes_latest() -> None:
    ratings = make_ratings()
    train, valid, test = temporal_leave_one_out(ratings)
    assert len(train) + len(valid) + len(test) == len(ratings)
    assert test["userId"].is_unique and valid["userId"].is_unique
    latest = ratings.sort_values("timestamp").groupby("userId").tail(1)
    assert set(zip(test.userId, test.movieId, strict=True)) == set(
        zip(latest.userId, latest.movieId, strict=True)
    )
    merged = valid.merge(test, on="userId", suffixes=("_v", "_t"))
    assert (merged["timestamp_v"] <= merged["timestamp_t"]).all()
