"""Evaluation splits and metrics, checked against hand-computed values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.evaluation.metrics import (
    average_precision_at_k,
    ndcg_at_k,
    ranking_metrics,
    rmse_mae,
    search_metrics,
    stratified_split,
    temporal_leave_one_out,
)
from tests.fixtures import make_ratings


def test_ndcg_and_ap_by_hand() -> None:
    assert ndcg_at_k([1, 2, 3], {1}, 10) == 1.0
    assert ndcg_at_k([2, 1, 3], {1}, 10) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k([5, 6], {1}, 10) == 0.0
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k([1, 9, 2], {1, 2}, 10) == pytest.approx((1 + 0.5) / ideal)
    assert average_precision_at_k([1, 9, 2], {1, 2}, 10) == pytest.approx((1 + 2 / 3) / 2)


def test_ranking_metrics_counts_missing_users_as_zero() -> None:
    result = ranking_metrics({1: [10, 11]}, {1: [10], 2: [20]}, k=10)
    assert result["HitRate@10"] == 0.5
    assert result["Recall@10"] == 0.5
    assert result["Precision@10"] == pytest.approx(0.05)


def test_search_metrics() -> None:
    result = search_metrics([[5, 1], [2, 3], []], [1, 2, 7])
    assert result["Recall@1"] == pytest.approx(1 / 3)
    assert result["Recall@10"] == pytest.approx(2 / 3)
    assert result["MRR@10"] == pytest.approx((0.5 + 1) / 3)


def test_rmse_mae() -> None:
    rmse, mae = rmse_mae([1.0, 3.0], [2.0, 3.0])
    assert rmse == pytest.approx(math.sqrt(0.5)) and mae == 0.5


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
