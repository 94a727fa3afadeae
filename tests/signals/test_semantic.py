"""The semantic scorer: movie embeddings against liked/seed movies and query text."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from core.signals.base import Query
from core.signals.encoder import Encoder
from core.signals.semantic import SemanticScorer
from tests.scorer_contract import ScorerContract


class TestSemanticScorer(ScorerContract):
    """The shared scorer contract, on a scorer fitted with the session's encoder."""

    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog, encoder):
        return SemanticScorer(encoder=encoder).fit(tiny_catalog)


@pytest.fixture(scope="module")
def semantic(tiny_catalog, encoder) -> SemanticScorer:
    return SemanticScorer(encoder=encoder).fit(tiny_catalog)


def test_items_are_unit_vectors_even_without_text(semantic: SemanticScorer, tiny_catalog) -> None:
    assert semantic.embeddings.shape == (tiny_catalog.n_items, 384)
    np.testing.assert_allclose(np.linalg.norm(semantic.embeddings, axis=1), 1.0, atol=1e-5)
    no_text = tiny_catalog.item_of[20]  # "Unrated Obscurity" has no overview, tags or keywords
    assert np.abs(semantic.embeddings[no_text]).sum() > 0


def test_seed_neighbours_and_text(semantic: SemanticScorer, tiny_catalog) -> None:
    scores = semantic.score(Query(seeds=[1])).values
    order = np.argsort(-scores)
    assert tiny_catalog.movie_ids[order[1]] == 2  # Aliens right after Alien itself
    text = semantic.score(Query(text="romantic comedy in a London bookshop")).values
    assert tiny_catalog.movie_ids[int(np.argmax(text))] == 9  # Notting Hill
    reasons = semantic.explain(Query(seeds=[1]), np.array([tiny_catalog.item_of[2]]))
    assert reasons == ["similar story to Alien (1979)"]
    assert semantic.explain(Query(text="x"), np.array([0])) == ["close to your description"]


def test_disliked_movies_pull_away(semantic: SemanticScorer, tiny_catalog) -> None:
    liked = semantic.score(Query(ratings={1: 5.0, 9: 1.0})).values
    scifi, romance = tiny_catalog.item_of[2], tiny_catalog.item_of[10]
    assert liked[scifi] > liked[romance]


def test_fit_text_count_must_match(tiny_catalog, encoder) -> None:
    with pytest.raises(ValueError):
        SemanticScorer(encoder=encoder).fit(tiny_catalog, texts=["only one"])


def test_pickle_and_load_leave_the_encoder_out(
    semantic: SemanticScorer, tmp_path: Path, encoder: Encoder
) -> None:
    assert pickle.loads(pickle.dumps(semantic))._encoder is None
    semantic.save(tmp_path)
    loaded = SemanticScorer.load(tmp_path)
    assert isinstance(loaded.embeddings, np.memmap)
    loaded.set_encoder(encoder)
    np.testing.assert_allclose(
        loaded.score(Query(text="space")).values, semantic.score(Query(text="space")).values
    )
