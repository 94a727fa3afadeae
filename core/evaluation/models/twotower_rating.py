"""Two-tower rating regression against SVD and the product's stacked rating model (MAE, MAPE).

Temporal leave-one-out; the validation item only stops the two-tower training at its best
epoch and must never be used to score.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.metrics import rmse_mae
from core.evaluation.results import Section
from core.evaluation.signals import subset_catalog
from core.evaluation.splits import temporal_leave_one_out
from core.progress import Progress, no_progress
from core.signals.twotower import TwoTowerRating


def _rating_errors(est: np.ndarray, truth: np.ndarray, scale: tuple[float, float]) -> dict:
    est = np.clip(np.asarray(est, dtype=np.float64), *scale)
    rmse, mae = rmse_mae(est, truth)
    return {"MAE": mae, "MAPE %": float(np.mean(np.abs(est - truth) / truth) * 100), "RMSE": rmse}


def evaluate_rating_models(
    catalog: Catalog,
    settings: Settings,
    embeddings: np.ndarray,
    *,
    progress: Progress = no_progress,
) -> Section:
    """Two-tower rating regression against SVD and the product's stacked rating model on the
    temporal leave-one-out split."""
    from core.signals.rating import RatingModel, SVDRating

    started = time.perf_counter()
    train, valid, test = temporal_leave_one_out(catalog.ratings)
    part = subset_catalog(catalog, train)
    scale = catalog.report.rating_scale
    truth = test["rating"].to_numpy(dtype=np.float64)
    users, movies = test["userId"].to_numpy(), test["movieId"].to_numpy()
    rows = [{"model": "global mean", **_rating_errors(np.full(len(test), train["rating"].mean()),
                                                      truth, scale), "fit_s": 0.0}]  # fmt: skip
    progress("two-tower rating: SVD baseline", 0.05)
    t0 = time.perf_counter()
    svd = SVDRating(settings).fit(part)
    rows.append({"model": "SVD (Surprise, tuned settings)",
                 **_rating_errors(svd.estimate(users, movies), truth, scale),
                 "fit_s": time.perf_counter() - t0})  # fmt: skip
    progress("two-tower rating: the product's stacked rating model", 0.08)
    t0 = time.perf_counter()
    stacked = RatingModel(settings).fit(part)
    rows.append({"model": "product rating model (SVD + item/user kNN, stacked)",
                 **_rating_errors(stacked.estimate(users, movies), truth, scale),
                 "fit_s": time.perf_counter() - t0})  # fmt: skip
    chosen: dict[str, Any] = {}
    for number, (label, model) in enumerate(
        (
            ("two-tower rating (product: id embeddings, dot + dense)", TwoTowerRating()),
            ("two-tower rating, features only (no id embedding)",
             TwoTowerRating(dataclasses.replace(TwoTowerRating().config, user_id_dim=0))),
        )
    ):  # fmt: skip
        model.fit(part, embeddings, valid=valid,
                  progress=lambda m, f, n=number: progress(m, 0.1 + 0.45 * (n + f)))  # fmt: skip
        rows.append({"model": label, **_rating_errors(model.estimate(users, movies), truth, scale),
                     "fit_s": model.fit_seconds})  # fmt: skip
        chosen[label] = {
            "epoch kept (lowest validation MAE)": model.best_epoch,
            "validation MAE": round(min(model.valid_losses) * scale[1], 4),
        }
    section = Section(
        "twotower_rating",
        "Temporal leave-one-out: each user's latest rating is the test item, the second latest "
        "the validation item (used only to stop the two-tower training at its best epoch), the "
        f"rest train; {len(test)} test ratings. The two-tower model predicts rating / "
        f"{scale[1]:g} in [{scale[0] / scale[1]:.1f}, 1] through a dense output on the towers' "
        "dot product, trained with mean absolute error. MAPE = mean |error| / true rating.",
        rows,
        chosen,
    )
    section.seconds = time.perf_counter() - started
    return section
