"""The TMDB metadata scorer: TMDB reception blended with text similarity."""

from __future__ import annotations

import numpy as np
import pytest

from core.signals.base import Query
from core.signals.metadata import MetadataScorer, tmdb_quality
from core.signals.semantic import SemanticScorer
from tests.scorer_contract import ScorerContract


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
