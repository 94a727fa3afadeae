"""The rating part: K-fold RMSE / MAE of the product's rating model against Surprise baselines.

Settings of the grid-searched baseline are chosen on a validation share of each fold's training
ratings; the fold's test ratings must never reach a fit or a choice.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.metrics import rmse_mae
from core.evaluation.results import Section, quick_protocol
from core.evaluation.signals import subset_catalog
from core.progress import Progress, no_progress

#: Surprise ``SVD`` settings searched in every fold, on a validation share of that fold's
#: training ratings (the "SVD tuned by grid search" baseline; the product's own SVD settings
#: are fixed in :class:`~core.config.SVDSettings`).
SVD_GRID: dict[str, tuple[Any, ...]] = {
    "n_factors": (100,),
    "n_epochs": (20, 50),
    "lr_all": (0.005, 0.01),
    "reg_all": (0.02, 0.05, 0.1),
}


#: Share of each fold's training ratings held out to choose the grid-searched SVD settings.
SVD_VALID_SHARE = 0.2


#: Surprise ``KNNBaseline`` baseline: item-based, shrunk Pearson correlation of baseline
#: residuals (Surprise's defaults otherwise: k 40, ALS baselines).
KNN_BASELINE_SIM = {"name": "pearson_baseline", "user_based": False}


#: Above this many rated movies the KNNBaseline row is skipped: Surprise keeps five dense
#: movies x movies arrays while computing the similarity (40 bytes a pair: 3.2 GB for the
#: 9,000 movies of ml-latest-small, 300 GB for the 87,000 of ml-32m).
KNN_BASELINE_MAX_ITEMS = 15_000


#: Folds of the full protocol and of ``evaluate --quick``.
FOLDS = 5
QUICK_FOLDS = 2


def svd_param_grid(grid: Mapping[str, Iterable[Any]] | None = None) -> list[dict[str, Any]]:
    """Every combination of :data:`SVD_GRID` (or ``grid``) as keyword arguments of ``SVD``."""
    grid = SVD_GRID if grid is None else grid
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def grid_search_svd(
    train: pd.DataFrame,
    scale: tuple[float, float],
    *,
    seed: int = 42,
    grid: Iterable[Mapping[str, Any]] | None = None,
    valid_share: float = SVD_VALID_SHARE,
) -> tuple[dict[str, Any], float]:
    """Surprise ``SVD`` keyword arguments from ``grid`` (default :func:`svd_param_grid`) with
    the lowest RMSE on a random ``valid_share`` of ``train`` (seeded), each fitted on the rest;
    ties keep the earlier setting. Returns the settings and their validation RMSE. ``train``
    only: the caller's test ratings never take part."""
    from surprise import SVD, Dataset, Reader

    train = train.reset_index(drop=True)
    is_valid = np.random.default_rng(seed).random(len(train)) < valid_share
    inner, valid = train[~is_valid], train[is_valid]
    data = Dataset.load_from_df(
        inner[["userId", "movieId", "rating"]], Reader(rating_scale=scale)
    ).build_full_trainset()
    truth = valid["rating"].to_numpy(dtype=np.float64)
    pairs = list(zip(valid["userId"], valid["movieId"], truth, strict=True))
    best: tuple[dict[str, Any], float] | None = None
    for params in svd_param_grid() if grid is None else grid:
        algo = SVD(**params, random_state=seed)
        algo.fit(data)
        rmse = rmse_mae(np.clip([p.est for p in algo.test(pairs)], *scale), truth)[0]
        if best is None or rmse < best[1] - 1e-12:
            best = (dict(params), rmse)
    if best is None:
        raise ValueError("empty SVD grid")
    return best


@dataclass
class _Errors:
    """Per model, (RMSE, MAE, fit seconds) of each fold, predictions clipped to ``scale``."""

    scale: tuple[float, float]
    by_model: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)

    def add(self, model: str, est: np.ndarray, truth: np.ndarray, seconds: float) -> None:
        rmse, mae = rmse_mae(np.clip(est, *self.scale), truth)
        self.by_model.setdefault(model, []).append((rmse, mae, seconds))

    def rows(self) -> list[dict[str, Any]]:
        """Fold means, one row per model in first-seen order."""
        rows = []
        for model, values in self.by_model.items():
            arr = np.array(values)
            rows.append(
                {
                    "model": model,
                    "RMSE": float(arr[:, 0].mean()),
                    "MAE": float(arr[:, 1].mean()),
                    "fit_s": float(arr[:, 2].mean()),
                }
            )
        return rows


def _surprise_baselines(
    errors: _Errors, data: Any, pairs: list[Any], truth: np.ndarray, seed: int
) -> str:
    """BaselineOnly, SVD with defaults and (when its matrices fit) KNNBaseline on one fold;
    returns why KNNBaseline was skipped, or ""."""
    from surprise import SVD, BaselineOnly, KNNBaseline

    skipped = ""
    baselines: list[tuple[str, Any]] = [
        ("damped user+item biases (Surprise BaselineOnly)", BaselineOnly(verbose=False)),
        ("Surprise SVD, defaults", SVD(random_state=seed)),
    ]
    if data.n_items <= KNN_BASELINE_MAX_ITEMS:
        knn = KNNBaseline(sim_options=dict(KNN_BASELINE_SIM), verbose=False)
        baselines.append(("Surprise KNNBaseline (item-based, pearson_baseline)", knn))
    else:
        skipped = f"KNNBaseline skipped: {data.n_items:,} rated movies in a fold"
    for label, algo in baselines:
        t0 = time.perf_counter()
        algo.fit(data)
        seconds = time.perf_counter() - t0
        errors.add(label, np.array([p.est for p in algo.test(pairs)]), truth, seconds)
    return skipped


def _grid_searched_svd(
    errors: _Errors, train: pd.DataFrame, data: Any, pairs: list[Any], truth: np.ndarray,
    grid: list[dict[str, Any]], seed: int, fold: int,
) -> dict[str, Any]:  # fmt: skip
    """Grid search on a validation share of this fold's training part, then a refit on the
    whole training part; its fit seconds include the search. Returns what was chosen."""
    from surprise import SVD

    t0 = time.perf_counter()
    params, valid_rmse = grid_search_svd(train, errors.scale, seed=seed + fold, grid=grid)
    algo = SVD(**params, random_state=seed)
    algo.fit(data)
    seconds = time.perf_counter() - t0
    errors.add("Surprise SVD tuned by grid search on validation",
               np.array([p.est for p in algo.test(pairs)]), truth, seconds)  # fmt: skip
    return {**params, "validation RMSE": round(valid_rmse, 4)}


def _product_model(
    errors: _Errors, catalog: Catalog, settings: Settings, train: pd.DataFrame,
    test: pd.DataFrame, truth: np.ndarray,
) -> dict[str, Any]:  # fmt: skip
    """The product's components and stacked ensemble on one fold; returns its blend's form
    (chosen on the fold's validation ratings) and weights.

    The product fits its components twice (on 85% to learn the blend weights on the rest,
    then on everything); the component rows use those final fits."""
    from core.signals.rating import COMPONENT_LABELS, RatingModel, component_estimates

    t0 = time.perf_counter()
    model = RatingModel(settings).fit(subset_catalog(catalog, train))
    seconds = time.perf_counter() - t0
    users, movies = test["userId"].to_numpy(), test["movieId"].to_numpy()
    for name, est in component_estimates(model, users, movies).items():
        part = getattr(model, name)
        errors.add(f"{COMPONENT_LABELS[name]} (component)", est, truth, part.fit_seconds)
    errors.add("stacked ensemble (product)", model.estimate(users, movies), truth, seconds)
    weights = dict(zip(model.features, np.round(model.weights, 4).tolist(), strict=True))
    return {"blend chosen on validation": model.choices.get("blend", {}).get("chosen"), **weights}


def _rating_protocol(folds: int, seed: int, grid: list[dict[str, Any]], skipped: str) -> str:
    return (
        f"{folds}-fold cross-validation over all ratings (shuffled, seed {seed}); RMSE and MAE "
        "of predictions clipped to the rating scale; fit seconds per fold. KNNBaseline: "
        "Surprise's item-based kNN with baselines (pearson_baseline similarity, k 40). SVD "
        f"tuned by grid search: in each fold, the {len(grid)} settings of the grid are fitted "
        f"on {1 - SVD_VALID_SHARE:.0%} of the fold's training ratings and compared by RMSE on "
        f"the other {SVD_VALID_SHARE:.0%}; the best is refitted on the whole training part "
        "(its fit seconds include the search). The product's 'SVD, tuned' settings are fixed "
        "defaults, not searched here."
        + (f" {skipped} (more than {KNN_BASELINE_MAX_ITEMS:,}: its dense similarity "
           "matrices would not fit in memory)." if skipped else "")
    )  # fmt: skip


def evaluate_rating(
    catalog: Catalog,
    settings: Settings,
    *,
    folds: int | None = None,
    seed: int = 42,
    svd_grid: Iterable[Mapping[str, Any]] | None = None,
    quick: bool = False,
    progress: Progress = no_progress,
) -> Section:
    """K-fold cross-validation of the rating predictor against Surprise baselines (global
    mean, BaselineOnly, SVD with defaults, KNNBaseline and SVD grid-searched on validation
    within each fold over ``svd_grid``, default :func:`svd_param_grid`). ``folds`` defaults to
    :data:`FOLDS`, or :data:`QUICK_FOLDS` with ``quick`` (whose protocol then says so)."""
    from sklearn.model_selection import KFold
    from surprise import Dataset, Reader

    started = time.perf_counter()
    folds = folds or (QUICK_FOLDS if quick else FOLDS)
    ratings = catalog.ratings.reset_index(drop=True)
    scale = catalog.report.rating_scale
    grid = svd_param_grid() if svd_grid is None else [dict(g) for g in svd_grid]
    errors = _Errors(scale)
    skipped = ""
    searched: list[dict[str, Any]] = []
    weights: list[dict[str, Any]] = []
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train_idx, test_idx) in enumerate(splitter.split(ratings)):
        progress(f"rating fold {fold + 1}/{folds}", fold / folds)
        train, test = ratings.iloc[train_idx], ratings.iloc[test_idx]
        truth = test["rating"].to_numpy(dtype=np.float64)
        errors.add("global mean", np.full(len(test), train["rating"].mean()), truth, 0.0)
        data = Dataset.load_from_df(
            train[["userId", "movieId", "rating"]], Reader(rating_scale=scale)
        ).build_full_trainset()
        pairs = list(zip(test["userId"], test["movieId"], truth, strict=True))
        skipped = _surprise_baselines(errors, data, pairs, truth, seed) or skipped
        searched.append(_grid_searched_svd(errors, train, data, pairs, truth, grid, seed, fold))
        weights.append(_product_model(errors, catalog, settings, train, test, truth))
    protocol = _rating_protocol(folds, seed, grid, skipped)
    if quick:
        protocol = quick_protocol(protocol, f"{folds} folds instead of {FOLDS}")
    section = Section("rating", protocol, errors.rows())
    section.chosen = {
        "svd": settings.svd.__dict__,
        "rating": settings.rating.__dict__,
        "svd grid searched": {name: sorted({g[name] for g in grid}) for name in grid[0]},
        "svd grid search per fold": searched,
        "blend weights per fold": weights,
    }
    section.seconds = time.perf_counter() - started
    return section
