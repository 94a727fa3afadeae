"""Choosing the ranker's query-time settings and the blend weights on validation data.

Grids, the one-standard-error rule and :class:`Tuned`; everything here sees validation items
only and must never be handed test ratings (the ranking parts carve validation from training).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.config import Settings
from core.evaluation.metrics import K, ranking_metrics
from core.evaluation.signals import (
    FittedSignals,
    candidate_mask,
    held_out_truth,
    normalised_signals,
    ranked_lists,
    signal_matrices,
    top_k,
    weighted_top,
)
from core.serving.blend import SIGNALS, Weights

#: Query-time settings of the collaborative ranker tried on validation (one fitted ranker scores
#: them all): profile recency ``(recency_decay, recency_floor)`` of
#: :class:`~core.config.RankerSettings` (``(0, 0)``: every rating weighs the same) ...
RECENCY_GRID: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (100.0, 0.5), (50.0, 0.5), (20.0, 0.5), (10.0, 0.5), (5.0, 0.5),
    (20.0, 0.25), (10.0, 0.25), (5.0, 0.25),
    (50.0, 0.0), (20.0, 0.0), (10.0, 0.0), (5.0, 0.0), (3.0, 0.0),
)  # fmt: skip


#: ... and the weight of disliked ratings (the product default first).
DISLIKE_GRID: tuple[float, ...] = (0.5, 1.0)


def collab_grid() -> list[dict[str, float]]:
    """Every combination of :data:`RECENCY_GRID` and :data:`DISLIKE_GRID` as ranker settings."""
    return [
        {"recency_decay": decay, "recency_floor": floor, "dislike_weight": dislike}
        for (decay, floor), dislike in itertools.product(RECENCY_GRID, DISLIKE_GRID)
    ]


#: Weights tried for further signals, one signal at a time on top of the best of
#: :func:`weight_grid` (a full grid with them would take several times longer).
EXTRA_WEIGHTS: dict[str, tuple[float, ...]] = {"crew": (0.1, 0.2, 0.4), "metadata": (0.1, 0.2)}


def weight_grid() -> list[dict[str, float]]:
    """Blend weights tried on validation data, relative to the collaborative signal's 1; the
    grid reaches past 1 (why: docs/experiments/evaluation.md, "Blend weight grid")."""
    grid = []
    for genre_tag, semantic, popularity in itertools.product(
        (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5), (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), (0.0, 0.1, 0.2, 0.3)
    ):
        grid.append(
            {"collab": 1.0, "genre_tag": genre_tag, "semantic": semantic, "popularity": popularity}
        )
    return grid


def tune_weights(
    signals: Mapping[str, np.ndarray],
    mask: np.ndarray,
    truth: Mapping[int, set[int]],
    users: np.ndarray,
    metric: str,
) -> tuple[dict[str, float], float]:
    """Blend weights from :func:`weight_grid` maximising ``metric`` against ``truth`` (the
    validation items) for ``signals`` of models fitted without them, then each
    :data:`EXTRA_WEIGHTS` signal present in ``signals`` tried on top of the best; ties keep the
    earlier (sparser) weights. Returns the weights normalised to sum 1 and the validation
    value."""
    names = [*weight_grid()[0], *(n for n in EXTRA_WEIGHTS if n in signals)]
    z = normalised_signals({name: signals[name] for name in names}, mask)

    def value(weights: Mapping[str, float]) -> float:
        top = weighted_top(z, weights, mask)
        return ranking_metrics(ranked_lists(users, top), truth, K)[metric]

    best, best_value = weight_grid()[0], -1.0
    for weights in weight_grid():
        current = value(weights)
        if current > best_value + 1e-9:
            best, best_value = weights, current
    for name in names[len(best) :]:
        base = {**best, name: 0.0}
        best = base
        for weight in EXTRA_WEIGHTS[name]:
            current = value({**base, name: weight})
            if current > best_value + 1e-9:
                best, best_value = {**base, name: weight}, current
    total = sum(best.values())
    return {name: round(w / total, 4) for name, w in best.items()}, best_value


def collab_matrix(
    fitted: FittedSignals, users: np.ndarray, params: Mapping[str, float]
) -> np.ndarray:
    """The collaborative signal for every user with other query-time ranker settings."""
    from core.signals.ranking import CollabRanker

    ranker = fitted.scorers["collab"]
    if isinstance(ranker, CollabRanker):
        ranker = ranker.with_params(**params)
    view = FittedSignals(fitted.catalog, {"collab": ranker})
    return signal_matrices(view, users, Weights().genre_weight, ("collab",))["collab"]


@dataclass
class Tuned:
    """What validation chose: query-time ranker settings and the blend weights."""

    collab: dict[str, float]
    weights: dict[str, float]
    collab_value: float  # the collaborative signal alone, with ``collab``
    blend_value: float  # the tuned blend

    def settings(self, settings: Settings) -> Settings:
        """``settings`` with the chosen ranker settings."""
        return settings.replace(ranker=dataclasses.replace(settings.ranker, **self.collab))

    def chosen(self, metric: str) -> dict[str, Any]:
        """The section's ``chosen`` record."""
        return {
            "weights": self.weights,
            "collab": self.collab,
            f"validation {metric}, collab signal": round(self.collab_value, 4),
            f"validation {metric}, blend": round(self.blend_value, 4),
        }


def tune_on_validation(
    fitted: FittedSignals, users: np.ndarray, valid: pd.DataFrame, train: pd.DataFrame, metric: str
) -> Tuned:
    """Choose the ranker's query-time settings (by the collaborative signal alone, over
    :func:`collab_grid`), then the blend weights, maximising ``metric`` on the validation part
    (``fitted`` on ``train``, which must not hold the validation ratings)."""
    mask = candidate_mask(fitted.catalog, users, train)
    truth = held_out_truth(fitted.catalog, users, valid)
    grid = collab_grid()
    matrices, per_user = [], []
    for params in grid:
        matrices.append(collab_matrix(fitted, users, params))
        per_user.append(_user_values(users, top_k(matrices[-1], mask), truth, metric))
    pick = one_se_choice(np.array(per_user))
    content = [n for n in (*weight_grid()[0], *EXTRA_WEIGHTS) if n != "collab" and n in SIGNALS]
    signals = signal_matrices(fitted, users, Weights().genre_weight, content)
    signals["collab"] = matrices[pick]
    weights, blend_value = tune_weights(signals, mask, truth, users, metric)
    return Tuned(dict(grid[pick]), weights, float(per_user[pick].mean()), blend_value)


def _user_values(
    users: np.ndarray, top: np.ndarray, truth: Mapping[int, set[int]], metric: str
) -> np.ndarray:
    """``metric`` (e.g. ``"nDCG@10"``) of each user with held-out items, in ``users`` order;
    their mean is what :func:`~core.evaluation.metrics.ranking_metrics` reports."""
    lists = ranked_lists(users, top)
    return np.array([ranking_metrics({u: lists[u]}, {u: truth[u]}, K)[metric]
                     for u in users.tolist() if truth.get(u)])  # fmt: skip


def one_se_choice(values: np.ndarray) -> int:
    """Index of the first (simplest) row of ``values`` (settings x users) whose mean is within
    one standard error of the best one's, the error being that of the paired per-user
    differences: on a few hundred users, settings this close are a tie, and a tie goes to
    the simpler setting (the "one standard error" rule)."""
    means = values.mean(axis=1)
    best = int(np.argmax(means))
    n = values.shape[1]
    for index in range(len(values)):
        diff = values[best] - values[index]
        error = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        if means[index] >= means[best] - error - 1e-12:
            return index
    return best
