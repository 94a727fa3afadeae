"""Taste factors: a few-factor ALS model scored like the collaborative signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ArtifactError
from core.signals.base import Query
from core.signals.factors import FACTORS, TasteFactors
from core.signals.ranking import EASERanker
from tests.scorer_contract import KNOWN_USER, ROUND_TRIP_QUERIES, ScorerContract
from tests.signals.collab_support import SMALL


class TestTasteFactors(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> TasteFactors:
        return TasteFactors().fit(tiny_catalog)

    def test_save_load_round_trip(self, scorer, tmp_path: Path) -> None:
        scorer.save(tmp_path / "factors")
        loaded = TasteFactors.load(tmp_path / "factors")
        for query in ROUND_TRIP_QUERIES:
            np.testing.assert_array_equal(scorer.score(query).values, loaded.score(query).values)

    def test_a_known_user_gets_the_product_of_few_factors(self, scorer, tiny_catalog) -> None:
        model = scorer.ranker.model
        assert model.item_factors.shape[1] == FACTORS
        row = int(np.searchsorted(tiny_catalog.user_ids, KNOWN_USER))
        expected = model.item_factors @ model.user_factors[row]
        values = scorer.score(Query(user_id=KNOWN_USER)).values
        known = np.isfinite(values)
        assert known.any()
        np.testing.assert_allclose(values[known], expected[known], rtol=1e-4, atol=1e-5)

    def test_the_note_says_what_scored(self, scorer) -> None:
        note = scorer.score(Query(user_id=KNOWN_USER)).note
        assert f"{FACTORS} latent factors of your ratings" in note and "ALS" not in note


def test_a_folder_holding_another_ranker_is_refused(tmp_path: Path, tiny_catalog) -> None:
    EASERanker(SMALL).fit(tiny_catalog).save(tmp_path / "factors")
    with pytest.raises(ArtifactError, match="taste factors"):
        TasteFactors.load(tmp_path / "factors")
