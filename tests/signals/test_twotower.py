"""Two-tower retrieval and rating models on the tiny catalogue (a few epochs, seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.evaluation.signals import subset_catalog
from core.signals.base import Query
from core.signals.twotower import TowerFeatures, TwoTowerConfig, TwoTowerRating, TwoTowerRetrieval
from tests.fixtures import ROMANCE, SCIFI
from tests.scorer_contract import ScorerContract

FAST = TwoTowerConfig(dim=16, hidden=32, epochs=15, batch_size=64, lr=1e-2, seed=7, threads=1)


def text_vectors(catalog, dim: int = 24) -> np.ndarray:
    """Stand-in text embeddings: genres plus seeded noise, unit length (no encoder needed)."""
    rng = np.random.default_rng(0)
    genres = catalog.genre_names
    multi_hot = np.array(
        [[g in str(v).split("|") for g in genres] for v in catalog.movies["genres"]], np.float32
    )
    matrix = np.concatenate([multi_hot, 0.3 * rng.random((catalog.n_items, dim), np.float32)], 1)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def vectors(tiny_catalog) -> np.ndarray:
    return text_vectors(tiny_catalog)


@pytest.fixture(scope="module")
def model(tiny_catalog, vectors) -> TwoTowerRetrieval:
    return TwoTowerRetrieval(FAST).fit(tiny_catalog, vectors)


class TestTwoTowerRetrieval(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, model) -> TwoTowerRetrieval:
        return model

    def test_shapes(self, scorer, tiny_catalog) -> None:
        features = scorer.features
        assert features.items.shape[0] == tiny_catalog.n_items
        assert scorer.item_matrix.shape == (tiny_catalog.n_items, FAST.dim)
        np.testing.assert_allclose(np.linalg.norm(scorer.item_matrix, axis=1), 1.0, atol=1e-5)
        inputs, rows = scorer.training_users(np.array([1, 2, 999_999]))
        assert inputs.shape == (3, features.n_user_inputs) and rows[2] == len(
            scorer.history.user_ids
        )

    def test_training_lowers_the_loss(self, scorer) -> None:
        assert len(scorer.losses) == FAST.epochs
        assert scorer.losses[-1] < 0.95 * scorer.losses[0]

    def test_taste_groups(self, scorer, tiny_catalog) -> None:
        for user in (1, 2, 3, 4):
            values = scorer.score(Query(user_id=user)).values
            rated = set(tiny_catalog.user_ratings(user)["movieId"].tolist())
            liked, other = (SCIFI, ROMANCE) if user % 2 else (ROMANCE, SCIFI)
            mine = [values[tiny_catalog.item_of[m]] for m in liked if m not in rated]
            theirs = [values[tiny_catalog.item_of[m]] for m in other if m not in rated]
            assert np.mean(mine) > np.mean(theirs), user

    def test_retrieve_matches_scores_and_excludes(self, scorer, tiny_catalog) -> None:
        query = Query(ratings={1: 5.0, 2: 5.0})
        exclude = np.zeros(tiny_catalog.n_items, dtype=bool)
        exclude[[tiny_catalog.item_of[1], tiny_catalog.item_of[2]]] = True
        items, scores, _ = scorer.retrieve(query, 5, exclude)
        values = np.where(exclude, -np.inf, scorer.score(query).values)
        assert items.tolist() == np.argsort(-values, kind="stable")[:5].tolist()
        np.testing.assert_allclose(scores, values[items], rtol=1e-5)

    def test_reproducible(self, scorer, tiny_catalog, vectors) -> None:
        again = TwoTowerRetrieval(FAST).fit(tiny_catalog, vectors)
        np.testing.assert_allclose(again.item_matrix, scorer.item_matrix, atol=1e-6)
        assert again.losses == pytest.approx(scorer.losses, rel=1e-6)


def test_cold_start_movies_get_finite_scores(tiny_catalog, vectors) -> None:
    held_out = [3, 10]  # Star Wars and Pretty Woman: every rating removed
    ratings = tiny_catalog.ratings
    train = subset_catalog(tiny_catalog, ratings[~ratings["movieId"].isin(held_out)])
    model = TwoTowerRetrieval(FAST).fit(train, vectors)
    cold = [train.item_of[m] for m in held_out]
    assert (train.rating_stats["n_ratings"].to_numpy()[cold] == 0).all()
    for query in (Query(user_id=1), Query(ratings={9: 5.0}), Query(seeds=[1])):
        assert np.isfinite(model.score(query).values[cold]).all()
    # A sci-fi fan prefers the unseen sci-fi movie to the unseen romance.
    values = model.score(Query(user_id=1)).values
    assert values[train.item_of[3]] > values[train.item_of[10]]


def test_dot_product_and_shared_layers(tiny_catalog, vectors) -> None:
    config = TwoTowerConfig(
        dim=8, hidden=16, epochs=3, batch_size=64, similarity="dot", shared_layers=True,
        user_id_dim=4, logq=False, threads=1,
    )  # fmt: skip
    model = TwoTowerRetrieval(config).fit(tiny_catalog, vectors)
    assert "out.weight" in model.weights and "user_out.weight" not in model.weights
    assert model.weights["user_id.weight"].shape == (len(tiny_catalog.user_ids) + 1, 4)
    assert np.isfinite(model.score(Query(user_id=1)).values).all()


def test_user_features_fold_in_matches_stored_history(model, tiny_catalog) -> None:
    items, ratings = tiny_catalog.user_history(5)
    stored, _ = model.training_users(np.array([5]))
    np.testing.assert_allclose(model.user_inputs_for(items, ratings), stored, atol=1e-5)


def test_features_need_one_vector_per_movie(tiny_catalog) -> None:
    with pytest.raises(ValueError, match="text vectors"):
        TowerFeatures.build(tiny_catalog, np.zeros((3, 4), np.float32))


class TestTwoTowerRating:
    @pytest.fixture(scope="class")
    @classmethod
    def rating(cls, tiny_catalog, vectors) -> TwoTowerRating:
        ratings = tiny_catalog.ratings
        valid = ratings.groupby("userId").tail(1)
        train = subset_catalog(tiny_catalog, ratings.drop(valid.index))
        config = TwoTowerConfig(
            dim=8,
            hidden=32,
            epochs=25,
            batch_size=64,
            lr=1e-2,
            similarity="dot",
            user_id_dim=4,
            threads=1,
        )
        return TwoTowerRating(config).fit(train, vectors, valid=valid)

    def test_loss_falls_and_predictions_are_in_scale(self, rating, tiny_catalog) -> None:
        assert rating.losses[-1] < 0.7 * rating.losses[0]
        assert 1 <= rating.best_epoch <= 25 and len(rating.valid_losses) == 25
        users = np.array([1, 1, 2, 2, 424242])
        movies = np.array([1, 9, 9, 1, 1])
        est = rating.estimate(users, movies)
        assert est.shape == (5,) and np.all((est >= 0.5) & (est <= 5.0))
        assert est[0] > est[1] and est[2] > est[3]  # sci-fi fan vs romance fan
        frame = rating.predict(users, np.array([1, 9, 9, 1, 987654]))
        assert frame["was_impossible"].tolist() == [False, False, False, False, True]

    def test_save_load_round_trip(self, rating, tmp_path: Path) -> None:
        rating.save(tmp_path)
        loaded = TwoTowerRating.load(tmp_path)
        users, movies = np.array([1, 2, 3]), np.array([5, 12, 18])
        np.testing.assert_array_equal(
            rating.estimate(users, movies), loaded.estimate(users, movies)
        )
        assert loaded.best_epoch == rating.best_epoch and loaded.config == rating.config
