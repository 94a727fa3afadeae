"""Popularity prior: damped mean rating and log popularity."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import Settings
from core.signals.base import Query, titles_of
from core.signals.popularity import PopularityPrior
from tests.scorer_contract import ScorerContract


class TestPopularityPrior(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> PopularityPrior:
        return PopularityPrior(Settings()).fit(tiny_catalog)

    def test_damped_mean(self, scorer, tiny_catalog) -> None:
        stats = tiny_catalog.rating_stats
        c = float(tiny_catalog.ratings["rating"].mean())
        m = Settings().prior_damping
        n, mean = stats["n_ratings"].to_numpy(), stats["mean_rating"].to_numpy()
        rated = n > 0
        expected = (n[rated] * mean[rated] + m * c) / (n[rated] + m)
        np.testing.assert_allclose(scorer.damped_mean[rated], expected, rtol=1e-5)
        np.testing.assert_array_equal(scorer.n_ratings, n)

    def test_few_ratings_are_pulled_to_the_mean(self, scorer, tiny_catalog) -> None:
        stats = tiny_catalog.rating_stats
        item = int(np.argmin(np.where(stats["n_ratings"] > 0, stats["n_ratings"], 10**9)))
        raw = stats["mean_rating"].iloc[item]
        c = float(tiny_catalog.ratings["rating"].mean())
        assert abs(scorer.damped_mean[item] - c) < abs(raw - c)

    def test_unrated_movie_uses_tmdb(self, scorer, tiny_catalog) -> None:
        item = tiny_catalog.item_of[20]  # nobody rated it; TMDB 6.0/10 from 200 votes
        assert scorer.n_ratings[item] == 0 and scorer.from_tmdb[item]
        assert 0.5 < scorer.damped_mean[item] < 5.0 and np.isfinite(scorer.values[item])
        assert "TMDB" in scorer.explain(Query(), np.array([item]))[0]

    def test_unrated_without_tmdb_is_nan(self, tiny_catalog) -> None:
        from core.data.catalog import Catalog

        movies = tiny_catalog.movies.copy()
        movies["vote_count"] = movies["vote_count"].astype("Float32")
        movies.loc[len(movies) - 1, ["vote_average", "vote_count"]] = None
        catalog = Catalog(
            "no-tmdb", movies, tiny_catalog.ratings, tiny_catalog.tags, tiny_catalog.report
        )
        prior = PopularityPrior().fit(catalog)
        assert np.isnan(prior.values[-1]) and np.isnan(prior.damped_mean[-1])

    def test_same_for_every_query(self, scorer) -> None:
        first = scorer.score(Query(user_id=1))
        np.testing.assert_array_equal(first.values, scorer.score(Query(seeds=[9])).values)
        assert "popular and well rated overall" in first.note
        assert first.values.max() <= 1.0 and np.nanmin(first.values) >= 0.0

    def test_more_ratings_score_higher_at_equal_quality(self, scorer) -> None:
        # popularity share rises with the count, so a well-rated popular movie beats a gem.
        assert scorer.popularity.argmax() == scorer.n_ratings.argmax()

    def test_hidden_gem(self, scorer) -> None:
        gem = scorer.hidden_gem()
        assert gem.dtype == np.float32 and gem.shape == scorer.values.shape
        assert np.isnan(gem[scorer.n_ratings < 5]).all()
        assert np.isfinite(gem[scorer.n_ratings >= 5]).all()
        # Among equally rated movies, the less popular one is the bigger gem.
        few = int(np.nanargmax(np.where(scorer.n_ratings >= 5, -scorer.n_ratings, np.nan)))
        many = int(scorer.n_ratings.argmax())
        if abs(scorer.damped_mean[few] - scorer.damped_mean[many]) < 0.3:
            assert gem[few] > gem[many]


def test_titles(tiny_catalog) -> None:
    titles = titles_of(tiny_catalog)
    assert titles[tiny_catalog.item_of[6]] == "The Matrix (1999)"
    assert titles.dtype.kind == "U"
