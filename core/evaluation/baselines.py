"""Public ranking baselines (Surprise SVD, item-kNN, BPR, implicit ALS) fitted on a training part.

Fixed settings and seeds, one thread, never tuned on the evaluation's data; they only produce
score matrices (the ranking part turns them into rows).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.signals import FittedSignals, signal_matrices
from core.serving.blend import Weights

#: Neighbours kept per movie by the item-kNN baseline (implicit's ``TFIDFRecommender`` on
#: rating values). Fixed, not tuned per run: the variant nearest the issue's published baseline
#: figures (why: docs/experiments/evaluation.md, "Item-kNN baseline").
ITEM_KNN_K = 50


def _user_rows(part: Catalog, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``part.user_items`` for ``users`` (clipped) and whether each user has one."""
    ids = part.user_ids
    rows = np.clip(np.searchsorted(ids, users), 0, max(len(ids) - 1, 0))
    known = ids[rows] == users if len(ids) else np.zeros(len(users), dtype=bool)
    return rows, known


def baseline_matrices(
    part: Catalog, users: np.ndarray, settings: Settings, *, seed: int = 42
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Scores (users x items, NaN where a model has none) of the public ranking baselines
    fitted on ``part`` (a training part): Surprise SVD with its defaults ranked by predicted
    rating, item-kNN (implicit's ``TFIDFRecommender`` on rating values, :data:`ITEM_KNN_K`
    neighbours), BPR
    (implicit, its defaults) and implicit ALS (:class:`~core.signals.collab.ALSRanker` with the
    settings' ALS hyper-parameters, every rating weighing 1, no recency). One thread, fixed
    seeds. Also returns their settings for the section's ``chosen`` record."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import TFIDFRecommender
    from threadpoolctl import threadpool_limits

    from core.config import SVDSettings
    from core.signals.ranking import ALSRanker
    from core.signals.rating import SVDRating

    binary = part.user_items.astype(np.float32)
    binary.data[:] = 1.0
    known_item = np.diff(binary.tocsc().indptr) > 0
    rows, known_user = _user_rows(part, users)
    out: dict[str, np.ndarray] = {}

    surprise = SVDSettings(n_factors=100, n_epochs=20, lr_all=0.005, reg_all=0.02,
                           random_state=seed)  # fmt: skip
    svd = SVDRating(settings.replace(svd=surprise)).fit(part)
    view = FittedSignals(part, {"svd": svd})
    out["Surprise SVD defaults ranked by predicted rating"] = signal_matrices(
        view, users, Weights().genre_weight, ("svd",)
    )["svd"]

    with threadpool_limits(1, "blas"):
        values = part.user_items.astype(np.float32).tocsr()
        knn = TFIDFRecommender(K=ITEM_KNN_K, num_threads=1)
        with warnings.catch_warnings():
            # implicit converts its own normalised matrix to CSR and warns about it
            warnings.filterwarnings("ignore", "Method expects CSR input")
            knn.fit(values, show_progress=False)
        scores = np.asarray((values[rows] @ knn.similarity).todense(), dtype=np.float32)
        out[f"item-kNN (implicit TF-IDF on ratings, K {ITEM_KNN_K})"] = scores

        bpr = BayesianPersonalizedRanking(random_state=seed, num_threads=1)
        bpr.fit(binary, show_progress=False)
        user_factors = np.asarray(bpr.user_factors)[rows]
        out["BPR (implicit, defaults)"] = user_factors @ np.asarray(bpr.item_factors).T

    # Every training rating weighs 1 (no recency, dislikes not discounted): the trained user
    # factors of implicit's model score each user, with no fold-in.
    plain = dataclasses.replace(
        settings.ranker, kind="als", recency_decay=0.0, recency_floor=0.0, dislike_weight=1.0
    )
    als = ALSRanker(settings.replace(ranker=plain), num_threads=1).fit(part)
    view = FittedSignals(part, {"collab": als})
    out["implicit ALS"] = signal_matrices(view, users, Weights().genre_weight, ("collab",))[
        "collab"
    ]

    for name in out:
        matrix = np.array(out[name], dtype=np.float32)
        matrix[:, ~known_item] = np.nan  # movies without a training rating: nothing to go on
        matrix[~known_user] = np.nan
        out[name] = matrix
    chosen = {
        "Surprise SVD defaults": {"n_factors": 100, "n_epochs": 20, "lr_all": 0.005,
                                  "reg_all": 0.02, "seed": seed},
        "item-kNN": {"similarity": "TF-IDF weighted cosine of rating-valued item columns",
                     "K": ITEM_KNN_K},
        "BPR": {"factors": bpr.factors, "learning_rate": bpr.learning_rate,
                "regularization": bpr.regularization, "iterations": bpr.iterations,
                "seed": seed},
        "implicit ALS": {"factors": plain.als_factors, "regularization": plain.als_regularization,
                         "alpha": plain.als_alpha, "iterations": plain.als_iterations,
                         "seed": plain.random_state},
    }  # fmt: skip
    return out, chosen
