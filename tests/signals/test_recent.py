"""Recent taste: the collaborative model led by the latest ratings, silent without ratings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ArtifactError
from core.signals.base import Query
from core.signals.ranking import EASERanker
from core.signals.recent import RECENT_DECAY, RecentTaste
from tests.scorer_contract import KNOWN_USER, ROUND_TRIP_QUERIES, ScorerContract
from tests.signals.collab_support import SMALL


@pytest.fixture(scope="module")
def ranker(tiny_catalog) -> EASERanker:
    return EASERanker(SMALL).fit(tiny_catalog)  # type: ignore[return-value]


class TestRecentTaste(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> RecentTaste:
        return RecentTaste().fit(tiny_catalog, EASERanker(SMALL).fit(tiny_catalog))

    def test_save_load_round_trip(self, scorer, tmp_path: Path) -> None:
        # Saved as its decay only; the ranker is the collaborative component's, beside it.
        assert scorer.ranker is not None
        scorer.ranker.save(tmp_path / "collab")
        scorer.save(tmp_path / "recent")
        loaded = RecentTaste.load(tmp_path / "recent")
        for query in ROUND_TRIP_QUERIES:
            np.testing.assert_array_equal(scorer.score(query).values, loaded.score(query).values)

    def test_is_the_ranker_led_by_the_latest_ratings(self, scorer, ranker) -> None:
        expected = ranker.with_params(recency_decay=RECENT_DECAY, recency_floor=0.0)
        np.testing.assert_allclose(scorer.score(Query(user_id=KNOWN_USER)).values,
                                   expected.score(Query(user_id=KNOWN_USER)).values)  # fmt: skip
        overall = ranker.score(Query(user_id=KNOWN_USER)).values
        assert not np.allclose(scorer.score(Query(user_id=KNOWN_USER)).values, overall)

    def test_seeds_alone_leave_it_silent(self, scorer) -> None:
        # "More like this movie" is the collaborative signal's job: not counted twice.
        assert not scorer.score(Query(seeds=[1])).has_opinion


def test_load_without_the_collaborative_model_says_so(tmp_path: Path, tiny_catalog) -> None:
    RecentTaste().fit(tiny_catalog).save(tmp_path / "recent")
    with pytest.raises(ArtifactError, match="collaborative model"):
        RecentTaste.load(tmp_path / "recent")
