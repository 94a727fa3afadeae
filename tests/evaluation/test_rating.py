"""The rating part on the tiny catalogue: Surprise baselines and the grid-searched SVD."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import RankerSettings, Settings, SVDSettings
from core.evaluation import rating
from core.evaluation.rating import SVD_GRID, evaluate_rating, grid_search_svd, svd_param_grid

SETTINGS = Settings(
    svd=SVDSettings(n_factors=4, n_epochs=5),
    ranker=RankerSettings(ease_lambda=20.0),
    use_tmdb=False,
    use_plots=False,
)


def test_rating_part_has_knn_baseline_and_grid_searched_svd(tiny_catalog) -> None:
    grid = svd_param_grid({"n_factors": (2,), "n_epochs": (2, 5), "reg_all": (0.02,)})
    section = evaluate_rating(tiny_catalog, SETTINGS, folds=3, svd_grid=grid)
    rows = {row["model"]: row for row in section.rows}
    for model in (
        "Surprise SVD, defaults",
        "Surprise KNNBaseline (item-based, pearson_baseline)",
        "Surprise SVD tuned by grid search on validation",
    ):
        assert np.isfinite([rows[model]["RMSE"], rows[model]["MAE"]]).all(), model
        assert 0.0 < rows[model]["RMSE"] < 5.0 and rows[model]["fit_s"] >= 0.0
    searched = section.chosen["svd grid search per fold"]
    assert len(searched) == 3
    for chosen in searched:
        assert {k: v for k, v in chosen.items() if k != "validation RMSE"} in grid
        assert np.isfinite(chosen["validation RMSE"])
    assert section.chosen["svd grid searched"] == {
        "n_factors": [2], "n_epochs": [2, 5], "reg_all": [0.02]
    }  # fmt: skip


def test_svd_grid_search_uses_only_its_training_part() -> None:
    rng = np.random.default_rng(5)
    users, movies = rng.integers(0, 30, 600), rng.integers(0, 40, 600)
    train = pd.DataFrame({"userId": users, "movieId": movies,
                          "rating": np.clip(3 + (users % 3) - (movies % 2), 0.5, 5.0)})  # fmt: skip
    train = train.drop_duplicates(["userId", "movieId"])
    grid = [{"n_factors": 2, "n_epochs": 1, "lr_all": 0.0001}, {"n_factors": 2, "n_epochs": 30}]
    params, rmse = grid_search_svd(train, (0.5, 5.0), grid=grid)
    assert params == grid[1]  # one epoch at a tiny learning rate cannot learn the biases
    assert 0.0 <= rmse < 1.0
    assert svd_param_grid()[0] == {name: values[0] for name, values in SVD_GRID.items()}
    assert len(svd_param_grid()) == int(np.prod([len(v) for v in SVD_GRID.values()]))


def test_knn_baseline_is_skipped_when_its_matrices_would_not_fit(tiny_catalog, monkeypatch) -> None:
    monkeypatch.setattr(rating, "KNN_BASELINE_MAX_ITEMS", 5)
    grid = [{"n_factors": 2, "n_epochs": 2}]
    section = evaluate_rating(tiny_catalog, SETTINGS, folds=2, svd_grid=grid)
    assert not any("KNNBaseline" in row["model"] for row in section.rows)
    assert "KNNBaseline skipped" in section.protocol


def test_quick_rating_has_two_folds_and_says_so(tiny_catalog) -> None:
    grid = [{"n_factors": 2, "n_epochs": 2}]
    section = evaluate_rating(tiny_catalog, SETTINGS, svd_grid=grid, quick=True)
    assert len(section.chosen["svd grid search per fold"]) == rating.QUICK_FOLDS == 2
    assert section.quick and "2 folds instead of 5" in section.protocol
    assert "2-fold cross-validation" in section.protocol
    assert any(row["model"] == "stacked ensemble (product)" for row in section.rows)
    assert not evaluate_rating(tiny_catalog, SETTINGS, folds=2, svd_grid=grid).quick
