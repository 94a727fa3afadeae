"""The ranking part on the tiny catalogue: splits, tuning on validation only, rows, baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import RankerSettings, Settings, SVDSettings
from core.evaluation import ranking
from core.evaluation.baselines import ITEM_KNN_K, baseline_matrices
from core.evaluation.ranking import BUILT_ROW, evaluate_ranking_loo, evaluate_ranking_stratified
from core.evaluation.signals import subset_catalog
from core.evaluation.splits import sample_users, stratified_split, temporal_leave_one_out
from core.evaluation.tuning import collab_grid

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
    original = ranking.tune_on_validation

    def spy(fitted, users, valid, train, metric):
        tuned = original(fitted, users, valid, train, metric)
        calls.append({"fitted": fitted.catalog.ratings.copy(), "valid": valid.copy(),
                      "train": train.copy(), "metric": metric, "tuned": tuned})  # fmt: skip
        return tuned

    patch = pytest.MonkeyPatch()
    patch.setattr(ranking, "tune_on_validation", spy)
    try:
        stratified = evaluate_ranking_stratified(tiny_catalog, SETTINGS, embeddings)
        loo = evaluate_ranking_loo(tiny_catalog, SETTINGS, embeddings)
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
        assert tuned.collab in collab_grid()
        models = [row["model"] for row in section.rows]
        assert models[:2] == ["most popular", "SVD ranked by predicted rating"]
        assert models[-3:] == [
            "blend, product defaults", "blend, tuned on validation for this protocol", BUILT_ROW,
        ]  # fmt: skip
        assert section.chosen["build-time tuning"]["weights"] or section.chosen[
            "build-time tuning"]["notes"]  # fmt: skip
        assert any("plain" in m for m in models) and any("signal" in m for m in models)
        for row in section.rows:
            assert list(row) == ["model", *metrics]
            assert all(0.0 <= row[m] <= 1.0 for m in metrics)
        assert section.to_dict()["seconds"] >= 0


BASELINES = [
    "Surprise SVD defaults ranked by predicted rating",
    f"item-kNN (implicit TF-IDF on ratings, K {ITEM_KNN_K})",
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
    part = subset_catalog(tiny_catalog, train)
    users = np.array([*np.unique(train["userId"])[:5], 999_999])  # the last one is unknown
    first, chosen = baseline_matrices(part, users, SETTINGS)
    again, _ = baseline_matrices(part, users, SETTINGS)
    assert list(first) == BASELINES
    assert chosen["BPR"]["seed"] == 42 and chosen["item-kNN"]["K"] == ITEM_KNN_K
    column = tiny_catalog.item_of[held]
    for name, matrix in first.items():
        assert matrix.shape == (len(users), tiny_catalog.n_items), name
        np.testing.assert_array_equal(matrix, again[name])  # fixed seeds, one thread
        assert np.isnan(matrix[:, column]).all(), name
        assert np.isnan(matrix[-1]).all(), name
        assert np.isfinite(matrix[:-1]).any(axis=1).all(), name


@pytest.mark.parametrize(
    ("most", "expected"),
    [(None, 7), (7, 7), (100, 7), (3, 3), (1, 1)],
)
def test_sample_users_is_seeded_sorted_and_a_subset(most, expected) -> None:
    users = np.array([3, 9, 12, 20, 41, 55, 70])
    sample = sample_users(users, most, seed=1)
    assert len(sample) == expected and set(sample) <= set(users)
    assert np.all(np.diff(sample) > 0)
    assert np.array_equal(sample, sample_users(users, most, seed=1))


def test_quick_ranking_scores_a_sample_of_users_and_says_so(
    tiny_catalog, embeddings, monkeypatch
) -> None:
    monkeypatch.setattr(ranking, "QUICK_USERS", 10)
    total = tiny_catalog.ratings["userId"].nunique()
    for evaluate in (evaluate_ranking_stratified, evaluate_ranking_loo):
        section = evaluate(tiny_catalog, SETTINGS, embeddings, quick=True)
        assert section.quick, section.name
        assert f"10 of the {total} users scored (random sample, seed 42)" in section.protocol
        assert "; 10 users." in section.protocol
        assert any(row["model"] == BUILT_ROW for row in section.rows)
