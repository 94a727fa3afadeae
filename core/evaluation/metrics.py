"""Ranking, search and rating metrics of offline evaluation (nDCG, AP, Recall, MRR, RMSE).

Pure functions of ranked lists and held-out answers; they must not fit, split or read anything.
Relevance conventions follow Microsoft's ``recommenders`` project (relevance = any held-out movie).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

#: The cut-off of every top-N figure the evaluation reports (nDCG@10, HitRate@10...).
K = 10


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Binary-relevance nDCG@k (ideal DCG over ``min(|relevant|, k)`` hits)."""
    if not relevant:
        return 0.0
    gains = np.array([1.0 if item in relevant else 0.0 for item in list(ranked)[:k]])
    discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    dcg = float((gains * discounts).sum())
    ideal = float((1.0 / np.log2(np.arange(2, min(len(relevant), k) + 2))).sum())
    return dcg / ideal if ideal > 0 else 0.0


def average_precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """AP@k divided by ``min(|relevant|, k)`` (the ``recommenders`` map_at_k convention)."""
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for position, item in enumerate(list(ranked)[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / position
    return total / min(len(relevant), k)


def ranking_metrics(
    recommended: Mapping[int, Sequence[int]], relevant: Mapping[int, Iterable[int]], k: int = 10
) -> dict[str, float]:
    """Mean nDCG@k, Recall@k, Precision@k, MAP@k and HitRate@k over users with relevant items.

    Users without a recommendation list count as zero (an empty list), so a model cannot
    improve its score by skipping hard users.
    """
    rows = []
    for user, items in relevant.items():
        truth = set(items)
        if not truth:
            continue
        ranked = list(recommended.get(user, []))[:k]
        hits = sum(1 for item in ranked if item in truth)
        rows.append(
            (
                ndcg_at_k(ranked, truth, k),
                hits / len(truth),
                hits / k,
                average_precision_at_k(ranked, truth, k),
                1.0 if hits else 0.0,
            )
        )
    if not rows:
        return {f"{m}@{k}": 0.0 for m in ("nDCG", "Recall", "Precision", "MAP", "HitRate")}
    means = np.mean(np.array(rows), axis=0)
    return {
        f"nDCG@{k}": float(means[0]),
        f"Recall@{k}": float(means[1]),
        f"Precision@{k}": float(means[2]),
        f"MAP@{k}": float(means[3]),
        f"HitRate@{k}": float(means[4]),
        "users": float(len(rows)),
    }


def search_metrics(ranked: Sequence[Sequence[int]], answers: Sequence[int]) -> dict[str, float]:
    """Recall@1/10/100 and MRR@10 for single-answer queries."""
    ranks = []
    for result, answer in zip(ranked, answers, strict=True):
        position = next((i for i, item in enumerate(result) if item == answer), None)
        ranks.append(np.inf if position is None else position + 1)
    r = np.array(ranks, dtype=np.float64)
    if len(r) == 0:
        return {"Recall@1": 0.0, "Recall@10": 0.0, "Recall@100": 0.0, "MRR@10": 0.0, "queries": 0}
    return {
        "Recall@1": float((r <= 1).mean()),
        "Recall@10": float((r <= 10).mean()),
        "Recall@100": float((r <= 100).mean()),
        "MRR@10": float(np.where(r <= 10, 1.0 / r, 0.0).mean()),
        "queries": float(len(r)),
    }


def rmse_mae(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """Root mean squared error and mean absolute error."""
    err = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))
