"""Genre & tag content similarity."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import Settings
from core.data.catalog import Catalog
from core.signals.base import Query
from core.signals.genre_tag import GenreTagScorer, split_pipes
from tests.fixtures import ROMANCE, SCIFI, make_tiny_catalog
from tests.scorer_contract import ScorerContract


def unseen(catalog, user: int, group: list[int]) -> np.ndarray:
    rated = set(catalog.user_ratings(user)["movieId"].tolist())
    return np.array([catalog.item_of[m] for m in group if m not in rated])


class TestGenreTagScorer(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> GenreTagScorer:
        return GenreTagScorer(Settings()).fit(tiny_catalog)

    def test_taste_groups(self, scorer, tiny_catalog) -> None:
        for user in (1, 3, 5, 2, 4):
            values = scorer.score(Query(user_id=user)).values
            liked, other = (SCIFI, ROMANCE) if user % 2 else (ROMANCE, SCIFI)
            mine = values[unseen(tiny_catalog, user, liked)]
            theirs = values[unseen(tiny_catalog, user, other)]
            assert mine.min() > theirs.max(), user

    def test_seed_similarity_and_explanation(self, scorer, tiny_catalog) -> None:
        query = Query(seeds=[3])  # Star Wars: space, smuggler, jedi / Action|Adventure|Sci-Fi
        values = scorer.score(query).values
        alien, notting_hill = tiny_catalog.item_of[1], tiny_catalog.item_of[9]
        assert values[alien] > values[notting_hill]
        assert scorer.explain(query, np.array([alien])) == ["matches: space"]
        # Terminator shares no tag with Star Wars, only genres.
        terminator = tiny_catalog.item_of[5]
        assert scorer.explain(query, np.array([terminator])) == ["matches: Action, Sci-Fi"]
        assert scorer.explain(query, np.array([notting_hill])) == [None]

    def test_genre_weight_extremes(self, scorer, tiny_catalog) -> None:
        query = Query(seeds=[3])
        genres_only = scorer.with_genre_weight(1.0).score(query).values
        tags_only = scorer.with_genre_weight(0.0).score(query).values
        blended = scorer.with_genre_weight(0.25).score(query).values
        np.testing.assert_allclose(blended, 0.25 * genres_only + 0.75 * tags_only, rtol=1e-5)
        # Blade Runner and Star Wars share only the Sci-Fi genre, no tags.
        blade_runner = tiny_catalog.item_of[4]
        assert genres_only[blade_runner] > 0 and tags_only[blade_runner] == 0
        default = scorer.score(query).values
        np.testing.assert_allclose(default, scorer.with_genre_weight(0.5).score(query).values)

    def test_with_genre_weight_is_a_cheap_exact_copy(self, scorer, tiny_catalog) -> None:
        """``with_genre_weight(w).score(q)`` equals a scorer built with ``genre_weight=w`` (what
        ``score(q, genre_weight=w)`` returned before), shares the fitted matrices and leaves
        the original alone."""
        query = Query(user_id=1, seeds=[3])
        for weight in (0.0, 0.25, 0.5, 0.8, 1.0):
            copy = scorer.with_genre_weight(weight)
            built = GenreTagScorer(genre_weight=weight).fit(tiny_catalog)
            np.testing.assert_array_equal(copy.score(query).values, built.score(query).values)
            assert copy.score(query).note == built.score(query).note
            assert copy.genres is scorer.genres and copy.tags is scorer.tags
            assert copy.history is scorer.history
        assert scorer.genre_weight == Settings().genre_weight
        genres = scorer.with_genre_weight(1.0).score(query).values
        tags = scorer.with_genre_weight(0.0).score(query).values
        mixed = scorer.with_genre_weight(0.3).score(query).values
        np.testing.assert_allclose(mixed, 0.3 * genres + 0.7 * tags, rtol=1e-5)

    def test_movie_without_genres_or_tags_is_nan(self) -> None:
        catalog = make_tiny_catalog()
        movies = catalog.movies.copy()
        last = len(movies) - 1
        movies.loc[last, "genres"] = "(no genres listed)"
        movies.loc[last, ["tags", "keywords"]] = ""
        bare = Catalog("bare", movies, catalog.ratings, catalog.tags, catalog.report)
        values = GenreTagScorer().fit(bare).score(Query(user_id=1)).values
        assert np.isnan(values[last]) and np.isfinite(values[:last]).all()

    def test_keywords_stand_in_for_missing_tags(self) -> None:
        catalog = make_tiny_catalog()
        movies = catalog.movies.copy()
        movies.loc[1, "tags"] = ""  # Aliens: falls back to keywords space|alien|marines
        scorer = GenreTagScorer().fit(
            Catalog("kw", movies, catalog.ratings, catalog.tags, catalog.report)
        )
        assert "marines" in scorer.tag_terms.tolist()
        assert scorer.explain(Query(seeds=[1]), np.array([1])) == ["matches: alien, space"]

    def test_harsh_rater_still_gets_a_profile(self, scorer) -> None:
        scores = scorer.score(Query(ratings={1: 3.0, 2: 3.0, 9: 1.0}))
        assert scores.has_opinion

    def test_new_user_ratings(self, scorer, tiny_catalog) -> None:
        values = scorer.score(Query(ratings={9: 5.0, 10: 4.5, 1: 1.0})).values
        assert values[tiny_catalog.item_of[11]] > values[tiny_catalog.item_of[2]]

    def test_only_unusable_input(self, scorer) -> None:
        scores = scorer.score(Query(text="space smugglers"))
        assert not scores.has_opinion and "no liked or seed movies" in scores.note


def test_split_pipes() -> None:
    assert split_pipes("Space| time travel ||Alien") == ["space", "time travel", "alien"]
    assert split_pipes("") == []
