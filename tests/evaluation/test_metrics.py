"""Evaluation metrics, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from core.evaluation.metrics import (
    average_precision_at_k,
    ndcg_at_k,
    ranking_metrics,
    rmse_mae,
    search_metrics,
)


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
