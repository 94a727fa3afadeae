"""Director & cast and TMDB-metadata signals (contract tests plus their specifics)."""

from __future__ import annotations

import numpy as np
import pytest

from core.signals.crew import CrewScorer, MetadataScorer, split_people, tmdb_quality
from core.signals.semantic import SemanticScorer
from core.signals.base import Query
from tests.scorer_contract import ScorerContract


class TestCrewScorer(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> CrewScorer:
        return CrewScorer().fit(tiny_catalog)

    def test_same_director_ranks_first(self, scorer, tiny_catalog) -> None:
        values = scorer.score(Query(seeds=[1])).values  # Alien: Ridley Scott, Sigourney Weaver
        item = tiny_catalog.item_of
        assert values[item[4]] > values[item[9]]  # Blade Runner (Scott) over Notting Hill
        assert values[item[2]] > values[item[9]]  # Aliens (Weaver) over Notting Hill
        assert np.isnan(values[item[20]])  # no credits: no opinion
        reasons = scorer.explain(Query(seeds=[1]), np.array([item[4], item[2], item[9]]))
        assert reasons[0] == "same director as Alien (1979)"
        assert reasons[1] == "with Sigourney Weaver"
        assert reasons[2] is None

    def test_people_rows(self, scorer, tiny_catalog) -> None:
        rows = scorer.same_people(tiny_catalog.item_of[12])  # Sleepless in Seattle
        labels = {(role, person) for role, person, _ in rows}
        assert ("directors", "Nora Ephron") in labels and ("cast", "Tom Hanks") in labels
        ephron = next(items for role, person, items in rows if person == "Nora Ephron")
        assert tiny_catalog.movie_ids[ephron].tolist() == [13]
        hanks = next(items for role, person, items in rows if person == "Tom Hanks")
        assert set(tiny_catalog.movie_ids[hanks].tolist()) == {13, 18}
        assert scorer.movies_with("Nobody Atall").size == 0

    def test_catalogue_without_credits_has_no_opinion(self, tiny_catalog) -> None:
        movies = tiny_catalog.movies.assign(directors="", cast="")
        bare = type(tiny_catalog)("bare", movies, tiny_catalog.ratings, tiny_catalog.tags,
                                  tiny_catalog.report)  # fmt: skip
        scorer = CrewScorer().fit(bare)
        scores = scorer.score(Query(user_id=1))
        assert not scores.has_opinion and "credits" in scores.note
        assert scorer.same_people(0) == []

    def test_split_people(self) -> None:
        assert split_people("Tom Hanks| Meg Ryan|") == ["Tom Hanks", "Meg Ryan"]
        assert split_people(None) == [] and split_people(float("nan")) == []


class TestMetadataScorer(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog, encoder) -> MetadataScorer:
        text = SemanticScorer(encoder=encoder).fit(tiny_catalog)
        return MetadataScorer(metadata_weight=0.3).fit(tiny_catalog, semantic=text)

    def test_weight_moves_between_text_and_metadata(self, scorer, tiny_catalog) -> None:
        query = Query(seeds=[9])  # Notting Hill
        text_only = scorer.with_weight(0.0).score(query).values
        meta_only = scorer.with_weight(1.0).score(query).values
        item = tiny_catalog.item_of
        assert text_only[item[10]] > text_only[item[3]]  # romance beats Star Wars on text
        # Metadata alone follows TMDB reception, whatever the seed.
        np.testing.assert_allclose(meta_only, np.nan_to_num(scorer.quality), atol=1e-6)

    def test_quality_is_standardised(self, tiny_catalog) -> None:
        quality, parts = tmdb_quality(tiny_catalog.movies)
        assert quality.shape == (tiny_catalog.n_items,)
        assert abs(float(np.nanmean(quality))) < 1e-5
        assert set(parts) == {"popularity", "vote_average", "vote_count"}
        no_tmdb = tiny_catalog.movies.assign(popularity=None, vote_average=None, vote_count=None)
        assert np.isnan(tmdb_quality(no_tmdb)[0]).all()
