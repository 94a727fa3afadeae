"""The rating ensemble: SVD + item/user kNN with baselines, stacked (core/signals/rating/)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from core.config import RatingSettings, Settings, SVDSettings
from core.signals.base import Query
from core.signals.history import RatingHistory
from core.signals.rating import ItemKNNBaseline, RatingModel, SVDRating, UserKNNBaseline
from core.signals.rating.bayes import BayesianMF
from core.signals.rating.knn import als_baselines, pearson_baseline_neighbours
from tests.fixtures import ROMANCE, SCIFI
from tests.scorer_contract import ScorerContract

SMALL = Settings(svd=SVDSettings(n_factors=8, n_epochs=40))
NEW_USER = {1: 5.0, 2: 4.5, 3: 5.0, 9: 1.0, 10: 1.5}


class TestRatingModel(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> RatingModel:
        return RatingModel(SMALL).fit(tiny_catalog)

    def test_all_components_and_learned_weights(self, scorer) -> None:
        assert scorer.components == ["svd", "knn", "user_knn", "bmf"] and not scorer.notes
        # intercept and 4 components; with support: 4 x 2 interactions and 2 support terms
        support = scorer.blend_choice["support"]
        assert len(scorer.features) == scorer.weights.shape[0] == (15 if support else 5)
        assert set(scorer.support) == ({"user", "item"} if support else set())
        assert scorer.validation["n"] >= 30
        assert scorer.validation["rmse_blend"] <= scorer.validation["rmse_svd"]

    def test_choices_record_the_candidates_and_pick_the_best(self, scorer) -> None:
        choices = scorer.choices
        assert choices["components"] == scorer.components
        assert set(choices["validation RMSE"]) >= {"n", "svd", "knn", "user_knn", "bmf", "blend"}
        blend = choices["blend"]
        candidates = blend["5-fold RMSE of each candidate"]
        ridges = RatingSettings().blend_ridges
        assert len(candidates) == 2 * len(ridges)  # linear and support-weighted, each ridge
        assert blend["chosen"] == min(candidates, key=candidates.get)
        assert candidates[blend["chosen"]] == pytest.approx(
            choices["validation RMSE"]["cv_rmse_blend"], abs=1e-5
        )
        assert {"noise sd", "user factor prior sd"} <= set(choices["bmf"])
        json.dumps(choices)  # JSON-ready for the manifest

    def test_the_blend_form_follows_the_settings(self, tiny_catalog) -> None:
        settings = Settings(
            svd=SMALL.svd, rating=RatingSettings(blend_support=False, blend_ridges=(7.0,))
        )
        model = RatingModel(settings).fit(tiny_catalog)
        assert model.blend_choice["chosen"] == "linear, ridge 7"
        assert model.support == {} and len(model.weights) == 1 + len(model.components)

    def test_taste_groups(self, scorer, tiny_catalog) -> None:
        for user in (1, 2, 3, 4):
            values = scorer.score(Query(user_id=user)).values
            rated = set(tiny_catalog.user_ratings(user)["movieId"].tolist())
            liked, other = (SCIFI, ROMANCE) if user % 2 else (ROMANCE, SCIFI)
            mine = [tiny_catalog.item_of[m] for m in liked if m not in rated]
            theirs = [tiny_catalog.item_of[m] for m in other if m not in rated]
            assert values[mine].min() > values[theirs].max(), user

    def test_predict_reasons_as_svd(self, scorer) -> None:
        frame = scorer.predict(999_999, [1, 777])
        assert list(frame.columns) == ["movieId", "est", "was_impossible", "reason"]
        assert frame["reason"].tolist() == [
            "unknown user: item mean",
            "unknown user and movie: global mean",
        ]
        assert frame["was_impossible"].tolist() == [True, True]
        # Fallbacks are SVD's own.
        pd.testing.assert_frame_equal(frame, scorer.svd.predict(999_999, [1, 777]))
        known = scorer.predict(1, [1, 777, 20])  # 20: in the catalogue, never rated
        assert known["was_impossible"].tolist() == [False, True, True]
        assert known["reason"].iloc[0] == ""
        assert "unknown movie" in known["reason"].iloc[1]

    def test_fold_in_moves_predictions(self, scorer) -> None:
        targets = [4, 5, 6, 11, 12, 13]
        cold = scorer.predict(None, targets).set_index("movieId")
        warm = scorer.predict(None, targets, ratings=NEW_USER).set_index("movieId")
        assert cold["reason"].eq("unknown user: item mean").all()
        assert not warm["was_impossible"].any()
        assert (warm.loc[[4, 5, 6], "est"] > cold.loc[[4, 5, 6], "est"]).all()
        assert (warm.loc[[11, 12, 13], "est"] < cold.loc[[11, 12, 13], "est"]).all()
        # ... in each neighbourhood component, folded in without retraining.
        items = np.array(targets) - 1  # item index = movieId - 1 in the tiny catalogue
        found = scorer._neighbourhood_user(None, NEW_USER, items)
        assert found is not None and found[1] == 5
        for values in found[0]:
            assert values[:3].min() > values[3:].max()

    def test_known_user_with_extra_ratings(self, scorer) -> None:
        base = scorer.score(Query(user_id=2)).values
        changed = scorer.score(Query(user_id=2, ratings={4: 5.0, 5: 5.0, 6: 5.0}))
        assert "folded in" in changed.note
        assert np.nanmean(changed.values[[3, 4, 5]]) > np.nanmean(base[[3, 4, 5]])

    def test_clipped_to_scale(self, scorer) -> None:
        for rating in (5.0, 0.5):
            query = Query(ratings=dict.fromkeys(SCIFI + ROMANCE, rating))
            values = scorer.score(query).values
            assert np.nanmax(values) <= 5.0 and np.nanmin(values) >= 0.5
            est = scorer.predict(None, SCIFI + ROMANCE, ratings=query.ratings)["est"]
            assert est.between(0.5, 5.0).all()
        est = scorer.estimate(np.array([1, 2, 3, 4] * 5), np.arange(1, 21))
        assert ((est >= 0.5) & (est <= 5.0)).all()

    def test_estimate_matches_predict_and_score(self, scorer) -> None:
        users = np.array([1, 2, 999, 1, 3, 4])
        movies = np.array([4, 9, 1, 777, 12, 2])
        batch = scorer.estimate(users, movies)
        single = [scorer.predict(u, [m])["est"].iloc[0] for u, m in zip(users, movies, strict=True)]
        np.testing.assert_allclose(batch, single, rtol=1e-5)
        values = scorer.score(Query(user_id=3)).values
        assert values[11] == pytest.approx(batch[4], rel=1e-5)

    def test_unrated_movie_is_nan_in_scores(self, scorer, tiny_catalog) -> None:
        assert np.isnan(scorer.score(Query(user_id=1)).values[tiny_catalog.item_of[20]])

    def test_seeds_only_is_nan_with_note(self, scorer) -> None:
        scores = scorer.score(Query(seeds=[1]))
        assert not scores.has_opinion and "needs a user or ratings" in scores.note

    def test_saved_as_arrays_and_predicts_the_same(self, scorer, tmp_path: Path) -> None:
        scorer.save(tmp_path)
        assert {p.suffix for p in tmp_path.iterdir()} <= {".npy", ".npz", ".json"}
        loaded = RatingModel.load(tmp_path)
        pd.testing.assert_frame_equal(
            loaded.predict(None, [4, 11, 777], ratings=NEW_USER),
            scorer.predict(None, [4, 11, 777], ratings=NEW_USER),
        )
        np.testing.assert_array_equal(loaded.weights, scorer.weights)
        assert loaded.choices == json.loads(json.dumps(scorer.choices))
        assert loaded.bmf is not None
        np.testing.assert_allclose(
            loaded.score(Query(user_id=3)).values, scorer.score(Query(user_id=3)).values
        )

    def test_a_bare_svd_folder_is_not_loaded(self, tiny_catalog, tmp_path: Path) -> None:
        SVDRating(SMALL).fit(tiny_catalog).save(tmp_path)
        with pytest.raises(ValueError):
            RatingModel.load(tmp_path)

    def test_user_knn_fold_in_matches_training_user(self, scorer) -> None:
        # A training user's own ratings, folded in on the fly (similarities to every other
        # user computed from a column slice), give what the stored neighbour lists give.
        user = scorer.user_knn
        row = 4
        items, ratings = scorer.history.user_items(int(scorer.history.user_ids[row]))
        folded = user.predict_user(items, ratings, exclude=row)
        targets = np.flatnonzero(scorer.known_item)
        stored = user.estimate(np.full(len(targets), row), targets)
        np.testing.assert_allclose(folded[targets], stored, rtol=1e-5)
        subset = user.predict_user(items, ratings, targets[:3], exclude=row)
        np.testing.assert_allclose(subset, stored[:3], rtol=1e-5)

    def test_only_item_knn(self, tiny_catalog) -> None:
        settings = Settings(svd=SMALL.svd, rating=RatingSettings(user_knn=False, bmf=False))
        model = RatingModel(settings).fit(tiny_catalog)
        assert model.components == ["svd", "knn"] and len(model.weights) in (3, 9)
        assert model.score(Query(ratings=NEW_USER)).has_opinion

    def test_plain_average_without_enough_validation(self, tiny_catalog) -> None:
        settings = Settings(svd=SMALL.svd, rating=RatingSettings(valid_fraction=0.01))
        model = RatingModel(settings).fit(tiny_catalog)
        assert "plain average" in model.notes[0]
        np.testing.assert_allclose(model.weights, [0.0, 1 / 4, 1 / 4, 1 / 4, 1 / 4])

    def test_no_refit_above_rating_limit(self, tiny_catalog) -> None:
        settings = Settings(svd=SMALL.svd, rating=RatingSettings(refit_max_ratings=100))
        model = RatingModel(settings).fit(tiny_catalog)
        assert "fitted once" in model.notes[0]
        assert model.history.matrix.nnz < len(tiny_catalog.ratings)  # the 85% part
        assert model.score(Query(user_id=1)).has_opinion

    def test_knn_skipped_above_item_limit(self, tiny_catalog) -> None:
        settings = Settings(svd=SMALL.svd, rating=RatingSettings(knn_max_items=5, bmf=False))
        model = RatingModel(settings).fit(tiny_catalog)
        assert model.components == ["svd"] and "skipped" in model.notes[0]
        svd = SVDRating(SMALL).fit(tiny_catalog)
        np.testing.assert_allclose(
            model.predict(1, [1, 4, 9])["est"], svd.predict(1, [1, 4, 9])["est"]
        )
        assert model.score(Query(user_id=1)).has_opinion

    def test_bmf_skipped_above_rating_limit(self, tiny_catalog) -> None:
        settings = Settings(svd=SMALL.svd, rating=RatingSettings(bmf_max_ratings=10))
        model = RatingModel(settings).fit(tiny_catalog)
        assert model.components == ["svd", "knn", "user_knn"]
        assert any(note.startswith("bmf skipped") for note in model.notes)


# ---------------------------------------------------------------------------------------------
# The neighbourhood model against Surprise's KNNBaseline
# ---------------------------------------------------------------------------------------------
def _synthetic(seed: int = 3, users: int = 60, items: int = 40) -> pd.DataFrame:
    """Ratings with user/item effects and two latent tastes, ~35% dense, on a 0.5-5 scale."""
    rng = np.random.default_rng(seed)
    taste_u, taste_i = rng.normal(size=(users, 2)), rng.normal(size=(items, 2))
    mean = 3.5 + rng.normal(0, 0.4, users)[:, None] + rng.normal(0, 0.4, items)[None, :]
    full = mean + 0.5 * taste_u @ taste_i.T + rng.normal(0, 0.5, (users, items))
    rows, cols = np.nonzero(rng.random((users, items)) < 0.35)
    rating = np.clip(np.round(full[rows, cols] * 2) / 2, 0.5, 5.0)
    return pd.DataFrame({"userId": rows + 1, "movieId": cols + 101, "rating": rating})


def _history(frame: pd.DataFrame) -> RatingHistory:
    users = np.unique(frame["userId"].to_numpy())
    movies = np.unique(frame["movieId"].to_numpy())
    matrix = sp.csr_matrix(
        (
            frame["rating"].to_numpy(dtype=np.float32),
            (np.searchsorted(users, frame["userId"]), np.searchsorted(movies, frame["movieId"])),
        ),
        shape=(len(users), len(movies)),
    )
    return RatingHistory(movies.astype(np.int32), users.astype(np.int32), matrix)


def test_knn_matches_surprise_knnbaseline() -> None:
    """Same formula: with every neighbour kept and no user prior, Surprise's numbers."""
    from surprise import Dataset, KNNBaseline, Reader

    frame = _synthetic()
    train = frame.sample(frac=0.8, random_state=0)
    test = frame.drop(train.index)
    test = test[test["userId"].isin(train["userId"]) & test["movieId"].isin(train["movieId"])]
    params = RatingSettings(knn_k=10, knn_neighbours=10_000, knn_user_prior=0.0)
    history = _history(train)
    ours = ItemKNNBaseline(params).fit(history)
    algo = KNNBaseline(
        k=10,
        sim_options={"name": "pearson_baseline", "user_based": False, "shrinkage": 100},
        bsl_options={"method": "als"},
        verbose=False,
    )
    algo.fit(Dataset.load_from_df(train, Reader(rating_scale=(0.5, 5.0))).build_full_trainset())
    rows = np.searchsorted(history.user_ids, test["userId"])
    items = np.searchsorted(history.movie_ids, test["movieId"])
    est = np.clip(ours.estimate(rows, items), 0.5, 5.0)
    theirs = [algo.predict(u, m).est for u, m in zip(test["userId"], test["movieId"], strict=True)]
    np.testing.assert_allclose(est, theirs, atol=1e-5)
    # The per-user path (all items of one user, as folded in) agrees with the batch path.
    user_items, user_ratings = history.user_items(int(history.user_ids[0]))
    all_items = ours.predict_user(user_items, user_ratings)
    mask = rows == 0
    np.testing.assert_allclose(all_items[items[mask]], ours.estimate(rows[mask], items[mask]))


def test_user_knn_matches_surprise_knnbaseline() -> None:
    """The user-based model: Surprise's user-based KNNBaseline with every neighbour kept."""
    from surprise import Dataset, KNNBaseline, Reader

    frame = _synthetic(seed=4)
    train = frame.sample(frac=0.8, random_state=1)
    test = frame.drop(train.index)
    test = test[test["userId"].isin(train["userId"]) & test["movieId"].isin(train["movieId"])]
    params = RatingSettings(user_knn_k=10, user_knn_neighbours=10_000, user_knn_prior=0.0)
    history = _history(train)
    ours = UserKNNBaseline(params).fit(ItemKNNBaseline(params).fit(history))
    algo = KNNBaseline(
        k=10,
        sim_options={"name": "pearson_baseline", "user_based": True, "shrinkage": 100},
        bsl_options={"method": "als"},
        verbose=False,
    )
    algo.fit(Dataset.load_from_df(train, Reader(rating_scale=(0.5, 5.0))).build_full_trainset())
    rows = np.searchsorted(history.user_ids, test["userId"])
    items = np.searchsorted(history.movie_ids, test["movieId"])
    est = np.clip(ours.estimate(rows, items), 0.5, 5.0)
    theirs = [algo.predict(u, m).est for u, m in zip(test["userId"], test["movieId"], strict=True)]
    np.testing.assert_allclose(est, theirs, atol=1e-5)


def test_similarity_blocks_and_truncation() -> None:
    """Blockwise top-K equals the dense similarity's top K (positive ones only)."""
    frame = _synthetic(seed=5)
    history = _history(frame)
    rows = np.repeat(np.arange(history.matrix.shape[0]), np.diff(history.matrix.indptr))
    cols = history.matrix.indices.astype(np.int64)
    r = history.matrix.data.astype(np.float64)
    mu, bu, bi = als_baselines(rows, cols, r, history.matrix.shape, reg_item=10.0, reg_user=15.0,
                               epochs=10)  # fmt: skip
    resid = sp.csr_matrix((r - mu - bu[rows] - bi[cols], cols, history.matrix.indptr),
                          shape=history.matrix.shape)  # fmt: skip
    active, _, sim = pearson_baseline_neighbours(resid, 5, 100.0, block_elements=60)
    full_active, _, full_sim = pearson_baseline_neighbours(resid, 10_000, 100.0)
    np.testing.assert_array_equal(active, full_active)
    np.testing.assert_allclose(sim, full_sim[:, :5], rtol=1e-6)
    assert (np.diff(sim, axis=1) <= 0).all() and (sim >= 0).all()
    # Dense reference for one item.
    dense = resid.toarray()
    rated = history.matrix.toarray() > 0
    i = int(active[0])
    expected = []
    for j in range(dense.shape[1]):
        both = rated[:, i] & rated[:, j]
        n = int(both.sum())
        if j == i or n == 0:
            expected.append(0.0)
            continue
        a, b = dense[both, i], dense[both, j]
        value = (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())
        expected.append(value * (n - 1) / (n - 1 + 100.0))
    top = np.sort(np.array(expected))[::-1][:5]
    np.testing.assert_allclose(sim[0], np.where(top > 0, top, 0.0), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Bayesian MF
# ---------------------------------------------------------------------------------------------
BMF_FAST = RatingSettings(bmf_factors=2, bmf_burn_in=10, bmf_samples=20)


def _split_history(seed: int) -> tuple[RatingHistory, pd.DataFrame]:
    frame = _synthetic(seed=seed)
    train = frame.sample(frac=0.8, random_state=seed)
    test = frame.drop(train.index)
    test = test[test["userId"].isin(train["userId"]) & test["movieId"].isin(train["movieId"])]
    return _history(train), test


def test_bmf_learns_the_tastes_beyond_the_biases() -> None:
    """On ratings made of biases plus two latent tastes, held-out RMSE beats the ALS
    baselines (biases only), and the same seed gives the same model."""
    history, test = _split_history(6)
    model = BayesianMF(BMF_FAST).fit(history)
    rows = np.searchsorted(history.user_ids, test["userId"])
    items = np.searchsorted(history.movie_ids, test["movieId"])
    truth = test["rating"].to_numpy()
    ours = np.sqrt(np.mean((np.clip(model.estimate(rows, items), 0.5, 5) - truth) ** 2))
    base = ItemKNNBaseline(BMF_FAST).fit(history)
    biases = np.clip(base.mu + base.bu[rows] + base.bi[items], 0.5, 5)
    assert ours < np.sqrt(np.mean((biases - truth) ** 2)) - 0.02
    again = BayesianMF(BMF_FAST).fit(history)
    np.testing.assert_array_equal(again.estimate(rows, items), model.estimate(rows, items))
    assert model.summary()["samples kept"] == 20 and model.sweeps == 30


def test_bmf_fold_in_agrees_with_the_stored_samples() -> None:
    """A training user's own ratings folded in (posterior mean per sample) predict close to
    that user's sampled vectors; predicting every item equals predicting them as targets, and
    the batch path agrees with the per-user path."""
    history, _ = _split_history(7)
    model = BayesianMF(BMF_FAST).fit(history)
    row = 3
    items, ratings = history.user_items(int(history.user_ids[row]))
    stored = model.predict_user(items, ratings, own_row=row)
    folded = model.predict_user(items, ratings)
    assert stored is not None and folded is not None
    known = np.flatnonzero(model.known_item)
    assert np.abs(stored[known] - folded[known]).mean() < 0.1
    np.testing.assert_allclose(model.predict_user(items, ratings, known[:5]), folded[known[:5]])
    batch = model.estimate(np.full(len(known), row), known)
    np.testing.assert_allclose(batch, stored[known], rtol=1e-5)
    assert model.predict_user(np.array([], dtype=np.int64), np.array([])) is None
