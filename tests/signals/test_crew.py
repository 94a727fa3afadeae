"""Director & cast signal (contract tests plus its specifics)."""

from __future__ import annotations

import numpy as np
import pytest

from core.signals.base import Query
from core.signals.crew import CrewScorer, split_people
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
