"""The search part: variants, the cross-validated re-ranker row and train_search_reranker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.evaluation.search import (
    QUICK_FOLDS,
    evaluate_search,
    sample_queries,
    train_search_reranker,
)
from core.search import rerank
from core.search.adapter import QueryAdapter
from core.search.rerank import SearchReranker
from tests.search.test_rerank import STORIES


def test_evaluate_search_reports_the_cross_validated_row(tiny_engine, tmp_path: Path) -> None:

    lines = [json.dumps({"query": story, "movieId": mid}) for mid, story in STORIES.items()]
    lines.append(json.dumps({"query": "a documentary nobody has seen", "movieId": 999999}))
    path = tmp_path / "queries.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out, adapter_out = tmp_path / "reranker.json", tmp_path / "adapter.npz"
    index = tiny_engine.search_index
    previous = (index.reranker, index.adapter)
    models, section = train_search_reranker(tiny_engine, path, out, adapter_out, folds=3)
    assert index.reranker is previous[0] and index.adapter is previous[1]  # left as it was
    assert out.exists() and SearchReranker.load(out).trained_on["requests"] == len(STORIES)
    adapter = QueryAdapter.load(adapter_out)
    assert adapter.trained_on["requests"] == len(STORIES)
    assert adapter.fits(index.model_name, index.embeddings.shape[1])
    names = [row["model"] for row in section.rows]
    assert "full search, re-ranker and adapter 3-fold cross-validated on these requests" in names
    assert all(row["queries"] == len(STORIES) for row in section.rows)
    assert "full search, score fusion, over title, genres and tags only" in names
    # every story has its own answer: none was asked about in the other folds
    assert names[-1] == "  held out, answer never asked in the other folds"
    assert section.chosen["cross-validation"]["adapter"] is True
    # with the new models loaded, the product row says it is in-sample on this file
    index.reranker, index.adapter = models.reranker, models.adapter
    try:
        again = evaluate_search(
            tiny_engine,
            [json.loads(line) for line in lines],
            queries_digest=rerank.file_digest(path),
            folds=3,
        )
    finally:
        index.reranker, index.adapter = previous
    assert any("in-sample" in row["model"] and "adapter" in row["model"] for row in again.rows)
    # no adapter file asked for: the re-ranker alone, cross-validated without one
    index.adapter = None
    try:
        models, section = train_search_reranker(tiny_engine, path, out, folds=3)
    finally:
        index.adapter = previous[1]
    assert models.adapter is None and models.reranker.trained_on["adapter"] is False
    names = [row["model"] for row in section.rows]
    assert "full search, re-ranker 3-fold cross-validated on these requests" in names


@pytest.mark.parametrize(("most", "expected"), [(10, 5), (5, 5), (3, 3), (1, 1)])
def test_sample_queries_is_seeded_and_keeps_file_order(most: int, expected: int) -> None:
    queries = [{"query": f"q{i}", "movieId": i} for i in range(5)]
    sample = sample_queries(queries, most, seed=3)
    assert len(sample) == expected
    assert [q["movieId"] for q in sample] == sorted(q["movieId"] for q in sample)
    assert sample == sample_queries(queries, most, seed=3)


def test_quick_search_says_so_and_uses_fewer_folds(tiny_engine) -> None:
    queries = [{"query": story, "movieId": mid} for mid, story in STORIES.items()]
    section = evaluate_search(tiny_engine, queries, quick=True)
    assert section.quick and f"{QUICK_FOLDS} folds" in section.protocol
    assert f"fits both on {QUICK_FOLDS - 1}/{QUICK_FOLDS} of these requests" in section.protocol
    cross_validated = f"{QUICK_FOLDS}-fold cross-validated on these requests"
    assert any(cross_validated in row["model"] for row in section.rows)
