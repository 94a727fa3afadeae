"""The ranking evaluation harness on the tiny catalogue: splits, tuning on validation only, rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.evaluation import runner as evaluate
from core.serving.blend import SIGNALS, Weights
from core.config import RankerSettings, Settings, SVDSettings
from core.evaluation.metrics import stratified_split, temporal_leave_one_out

SETTINGS = Settings(
    svd=SVDSettings(n_factors=4, n_epochs=5),
    ranker=RankerSettings(ease_lambda=20.0),
    use_tmdb=False,
    use_plots=False,
)


@pytest.fixture(scope="module")
def embeddings(tiny_catalog) -> np.ndarray:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(tiny_catalog.n_items, 8)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["userId"].tolist(), frame["movieId"].tolist(), strict=True))


@pytest.fixture(scope="module")
def spied(tiny_catalog, embeddings):
    """Both protocols run once, recording what tuning saw and what it returned."""
    calls: list[dict] = []
    original = evaluate.tune_on_validation

    def spy(fitted, users, valid, train, metric):
        tuned = original(fitted, users, valid, train, metric)
        calls.append({"fitted": fitted.catalog.ratings.copy(), "valid": valid.copy(),
                      "train": train.copy(), "metric": metric, "tuned": tuned})  # fmt: skip
        return tuned

    patch = pytest.MonkeyPatch()
    patch.setattr(evaluate, "tune_on_validation", spy)
    try:
        stratified = evaluate.evaluate_ranking_stratified(tiny_catalog, SETTINGS, embeddings)
        loo = evaluate.evaluate_ranking_loo(tiny_catalog, SETTINGS, embeddings)
    finally:
        patch.undo()
    return {"stratified": stratified, "loo": loo, "calls": calls}


def test_stratified_tuning_never_sees_test(spied, tiny_catalog) -> None:
    call = spied["calls"][0]
    assert call["metric"] == "nDCG@10"
    train, test = stratified_split(tiny_catalog.ratings, 0.25, 42)
    seen = _pairs(call["fitted"]) | _pairs(call["valid"])
    assert not seen & _pairs(test)  # test ratings reach neither the models nor validation
    assert seen == _pairs(train)  # validation is carved from the training part
    assert not _pairs(call["fitted"]) & _pairs(call["valid"])  # and held out of the models
    assert _pairs(call["train"]) == _pairs(call["fitted"])


def test_leave_one_out_tuning_never_sees_test(spied, tiny_catalog) -> None:
    call = spied["calls"][1]
    assert call["metric"] == "HitRate@10"
    train, valid, test = temporal_leave_one_out(tiny_catalog.ratings)
    assert _pairs(call["fitted"]) == _pairs(train)
    assert _pairs(call["valid"]) == _pairs(valid)
    assert not (_pairs(call["fitted"]) | _pairs(call["valid"])) & _pairs(test)


def test_sections_report_what_validation_chose(spied) -> None:
    stratified = ["nDCG@10", "Recall@10", "Precision@10", "MAP@10"]
    for section, call, metrics in (
        (spied["stratified"], spied["calls"][0], stratified),
        (spied["loo"], spied["calls"][1], ["HitRate@10", "nDCG@10"]),
    ):
        tuned = call["tuned"]
        assert section.chosen["weights"] == tuned.weights
        assert section.chosen["collab"] == tuned.collab
        assert sum(tuned.weights.values()) == pytest.approx(1.0, abs=1e-3)
        assert tuned.collab in evaluate.collab_grid()
        models = [row["model"] for row in section.rows]
        assert models[:2] == ["most popular", "SVD ranked by predicted rating"]
        assert models[-2:] == ["blend, product defaults", "blend, tuned on validation (product)"]
        assert any("plain" in m for m in models) and any("signal" in m for m in models)
        for row in section.rows:
            assert list(row) == ["model", *metrics]
            assert all(0.0 <= row[m] <= 1.0 for m in metrics)
        assert section.to_dict()["seconds"] >= 0


def test_tune_weights_follows_the_validation_items() -> None:
    rng = np.random.default_rng(1)
    users = np.arange(30)
    truth = {int(u): {int(u) % 20, (int(u) + 7) % 20} for u in users}
    noise = {name: rng.random((30, 20)).astype(np.float32) for name in SIGNALS}
    informed = noise["semantic"].copy()
    for u, items in truth.items():
        informed[u, list(items)] += 5.0  # only "semantic" knows the validation items
    signals = {**noise, "semantic": informed}
    mask = np.ones((30, 20), dtype=bool)
    weights, value = evaluate.tune_weights(signals, mask, truth, users, "nDCG@10")
    assert weights["semantic"] == max(weights.values())
    assert value > 0.95
    assert {k: v for k, v in weights.items() if v} != {"collab": 1.0}


def test_fast_blend_orders_like_the_product_blend() -> None:
    rng = np.random.default_rng(2)
    signals = {name: rng.normal(size=(12, 40)).astype(np.float32) for name in SIGNALS}
    signals["popularity"][:, 5] = np.nan
    mask = rng.random((12, 40)) < 0.8
    z = evaluate._normalised(signals, mask)
    for weights in (Weights().as_dict(), evaluate.weight_grid()[37]):
        np.testing.assert_array_equal(
            evaluate._fast_blend_top(z, weights, mask), evaluate._blend_top(signals, weights, mask)
        )


def test_one_se_choice_prefers_the_simplest_tie() -> None:
    base = np.random.default_rng(3).random(400)
    tie = base + 0.001 + np.resize([0.05, -0.05], 400)  # better by 0.001, standard error 0.0025
    clear = base + 0.3
    assert evaluate.one_se_choice(np.array([base, tie, clear])) == 2
    assert evaluate.one_se_choice(np.array([base, tie])) == 0
    assert evaluate.one_se_choice(np.array([base - 0.3, base])) == 1


def test_collab_grid_starts_with_the_plain_profile() -> None:
    grid = evaluate.collab_grid()
    assert grid[0] == {"recency_decay": 0.0, "recency_floor": 0.0, "dislike_weight": 0.5}
    assert len({tuple(sorted(g.items())) for g in grid}) == len(grid)
    defaults = RankerSettings()
    product = {name: getattr(defaults, name) for name in grid[0]}
    assert product in grid  # the product's own setting is among those tuned


def test_extra_signals_are_tried_on_top_of_the_grid() -> None:
    rng = np.random.default_rng(4)
    users = np.arange(30)
    truth = {int(u): {int(u) % 20} for u in users}
    signals = {name: rng.random((30, 20)).astype(np.float32) for name in SIGNALS}
    signals["crew"][users, users % 20] += 0.5  # only the crew signal knows something
    mask = np.ones((30, 20), dtype=bool)
    weights, _ = evaluate.tune_weights(signals, mask, truth, users, "HitRate@10")
    assert weights["crew"] > 0
    assert set(weights) == {*evaluate.weight_grid()[0], *evaluate.EXTRA_WEIGHTS}


BASELINES = [
    "Surprise SVD defaults ranked by predicted rating",
    f"item-kNN (implicit TF-IDF on ratings, K {evaluate.ITEM_KNN_K})",
    "BPR (implicit, defaults)",
    "implicit ALS",
]


def test_public_baselines_are_rows_of_both_protocols(spied) -> None:
    for section in (spied["stratified"], spied["loo"]):
        models = [row["model"] for row in section.rows]
        # right after the product's SVD row, before the collaborative rows
        assert models[2 : 2 + len(BASELINES)] == BASELINES
        for row in section.rows[2 : 2 + len(BASELINES)]:
            values = [v for k, v in row.items() if k != "model"]
            assert values and all(np.isfinite(v) and 0.0 <= v <= 1.0 for v in values)
        assert set(section.chosen["baselines"]) == {
            "Surprise SVD defaults", "item-kNN", "BPR", "implicit ALS"
        }  # fmt: skip
        assert "Public baselines" in section.protocol


def test_baseline_matrices_are_seeded_and_know_only_training_movies(tiny_catalog) -> None:
    train, _ = stratified_split(tiny_catalog.ratings, 0.25, 42)
    held = int(train["movieId"].iloc[0])
    train = train[train["movieId"] != held]  # a movie nobody rated in training
    part = evaluate.subset_catalog(tiny_catalog, train)
    users = np.array([*np.unique(train["userId"])[:5], 999_999])  # the last one is unknown
    first, chosen = evaluate.baseline_matrices(part, users, SETTINGS)
    again, _ = evaluate.baseline_matrices(part, users, SETTINGS)
    assert list(first) == BASELINES
    assert chosen["BPR"]["seed"] == 42 and chosen["item-kNN"]["K"] == evaluate.ITEM_KNN_K
    column = tiny_catalog.item_of[held]
    for name, matrix in first.items():
        assert matrix.shape == (len(users), tiny_catalog.n_items), name
        np.testing.assert_array_equal(matrix, again[name])  # fixed seeds, one thread
        assert np.isnan(matrix[:, column]).all(), name
        assert np.isnan(matrix[-1]).all(), name
        assert np.isfinite(matrix[:-1]).any(axis=1).all(), name


def test_rating_part_has_knn_baseline_and_grid_searched_svd(tiny_catalog) -> None:
    grid = evaluate.svd_param_grid({"n_factors": (2,), "n_epochs": (2, 5), "reg_all": (0.02,)})
    section = evaluate.evaluate_rating(tiny_catalog, SETTINGS, folds=3, svd_grid=grid)
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
    params, rmse = evaluate.grid_search_svd(train, (0.5, 5.0), grid=grid)
    assert params == grid[1]  # one epoch at a tiny learning rate cannot learn the biases
    assert 0.0 <= rmse < 1.0
    assert evaluate.svd_param_grid()[0] == {
        name: values[0] for name, values in evaluate.SVD_GRID.items()
    }
    assert len(evaluate.svd_param_grid()) == int(
        np.prod([len(v) for v in evaluate.SVD_GRID.values()])
    )


def test_knn_baseline_is_skipped_when_its_matrices_would_not_fit(tiny_catalog, monkeypatch) -> None:
    monkeypatch.setattr(evaluate, "KNN_BASELINE_MAX_ITEMS", 5)
    grid = [{"n_factors": 2, "n_epochs": 2}]
    section = evaluate.evaluate_rating(tiny_catalog, SETTINGS, folds=2, svd_grid=grid)
    assert not any("KNNBaseline" in row["model"] for row in section.rows)
    assert "KNNBaseline skipped" in section.protocol


def test_target_rows_judge_the_product_rows() -> None:
    sections = {
        "rating": {"rows": [
            {"model": "Surprise SVD, defaults", "RMSE": 0.80},
            {"model": "stacked ensemble (product)", "RMSE": 0.8347},
        ]},
        "ranking_loo": {"rows": [
            {"model": "blend, product defaults", "HitRate@10": 0.2},
            {"model": "blend, tuned on validation (product)", "HitRate@10": 0.0967},
        ]},
        "search": evaluate.Section("search", "", [
            {"model": "full search (product: fusion + shipped re-ranker) [in-sample]",
             "Recall@10": 0.31},
            {"model": "full search, re-ranker 5-fold cross-validated on these requests",
             "Recall@10": 0.24},
        ]),
    }  # fmt: skip
    rows = {row["measure"]: row for row in evaluate.target_rows(sections)}
    assert set(rows) == {"rating RMSE, 5-fold", "HitRate@10, leave-one-out", "search Recall@10"}
    rating = rows["rating RMSE, 5-fold"]
    assert rating["met"] and rating["target"] == "<= 0.845"
    assert not rows["HitRate@10, leave-one-out"]["met"]  # the product row, not the defaults
    # the held-out (cross-validated) search row wins over the in-sample product row
    assert rows["search Recall@10"]["measured"] == 0.24 and not rows["search Recall@10"]["met"]
    assert evaluate.target_rows({}) == []
    # on requests the shipped model never saw, the product row itself is judged
    other = evaluate.Section("search", "", [
        {"model": "full search (product: fusion + shipped re-ranker)", "Recall@10": 0.33},
        {"model": "full search, re-ranker 5-fold cross-validated on these requests",
         "Recall@10": 0.24},
    ])  # fmt: skip
    (judged,) = evaluate.target_rows({"search": other})
    assert judged["measured"] == 0.33 and judged["met"] and "product" in judged["row"]
