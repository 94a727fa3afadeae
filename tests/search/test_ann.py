"""The vector index: exact NumPy search, faiss IVF/HNSW, exclusion masks, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.search.ann import IndexConfig, VectorIndex, exact_top_k, recall_against_exact


def unit_rows(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    """Unit vectors around 30 shared centres (real embeddings are clustered, not uniform)."""
    centres = np.random.default_rng(99).normal(size=(30, d))
    rng = np.random.default_rng(seed)
    matrix = centres[rng.integers(0, 30, n)] + 0.6 * rng.normal(size=(n, d))
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return unit_rows(3000)


def test_auto_is_exact_below_the_threshold_and_ann_above(vectors) -> None:
    assert VectorIndex.build(vectors).kind == "exact"
    assert VectorIndex.build(vectors, IndexConfig(exact_below=1000)).kind == "ivf"


def test_exact_search_is_the_true_top_k(vectors) -> None:
    index = VectorIndex.build(vectors)
    queries = unit_rows(5, seed=1)
    ids, scores = index.search(queries, 10)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    assert ids.shape == (5, 10) and (ids == truth).all()
    assert (np.diff(scores, axis=1) <= 0).all()
    one_ids, _ = index.search(queries[0], 3)
    assert one_ids.shape == (3,) and (one_ids == truth[0, :3]).all()


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_recall_against_exact(vectors, kind) -> None:
    index = VectorIndex.build(vectors, IndexConfig(kind=kind))
    queries = unit_rows(50, seed=2)
    assert recall_against_exact(index, queries, k=10) >= 0.8
    assert recall_against_exact(VectorIndex.build(vectors), queries, k=10) == 1.0


@pytest.mark.parametrize("kind", ["exact", "ivf"])
def test_excluded_items_never_come_back(vectors, kind) -> None:
    index = VectorIndex.build(vectors, IndexConfig(kind=kind))
    query = unit_rows(1, seed=3)[0]
    first, _ = index.search(query, 5)
    exclude = np.zeros(len(vectors), dtype=bool)
    exclude[first[:3]] = True
    again, _ = index.search(query, 5, exclude)
    assert not set(again.tolist()) & set(first[:3].tolist())
    assert len(again) == 5 and (again >= 0).all()


def test_padding_when_fewer_items_qualify() -> None:
    index = VectorIndex.build(unit_rows(4))
    exclude = np.array([True, True, False, False])
    ids, scores = index.search(unit_rows(1, seed=5)[0], 4, exclude)
    assert ids.tolist()[2:] == [-1, -1] and np.isneginf(scores[2:]).all()
    assert set(ids[:2].tolist()) == {2, 3}
    empty_ids, _ = exact_top_k(np.zeros((2, 0), np.float32), 3)
    assert empty_ids.shape == (2, 0)


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_save_load_round_trip(vectors, kind, tmp_path: Path) -> None:
    index = VectorIndex.build(vectors, IndexConfig(kind=kind))
    index.save(tmp_path, "movies")
    loaded = VectorIndex.load(tmp_path, "movies")
    queries = unit_rows(4, seed=4)
    for a, b in zip(index.search(queries, 7), loaded.search(queries, 7), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.kind == kind
