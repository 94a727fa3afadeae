"""Training the search re-ranker: requests collected once, adapters cross-fitted behind its rows."""

from __future__ import annotations

import numpy as np

from core.search import rerank, training
from core.search.adapter import QueryAdapter
from tests.search.test_rerank import STORIES


def test_rerankers_rows_never_use_an_adapter_that_saw_the_request(tiny_engine, monkeypatch) -> None:
    """fit_search_models cross-fits the adapters behind the re-ranker's training rows."""

    queries = [{"query": story, "movieId": mid} for mid, story in STORIES.items()]
    runs = training.collect_search_runs(tiny_engine, queries)
    fitted_on: dict[int, set[int]] = {}
    fit = QueryAdapter.fit

    def fit_spy(vectors, answers, movies, **kwargs):
        model = fit(vectors, answers, movies, **{**kwargs, "epochs": 2})
        fitted_on[id(model)] = set(np.asarray(answers).tolist())
        return model

    seen: list[tuple[int, object]] = []
    rows = rerank.candidate_rows

    def rows_spy(index, request, vector, chunks, answer):
        seen.append((answer, index.adapter))
        return rows(index, request, vector, chunks, answer)

    monkeypatch.setattr(QueryAdapter, "fit", staticmethod(fit_spy))
    monkeypatch.setattr(rerank, "candidate_rows", rows_spy)
    index = tiny_engine.search_index
    shipped = index.adapter
    models = training.fit_search_models(index, runs, np.arange(len(STORIES)), adapter=True, folds=3)
    assert index.adapter is shipped  # the engine is left as it was
    assert len(seen) == len(STORIES) and len(fitted_on) == 3 + 1
    for answer, used in seen:
        assert used is not None and answer not in fitted_on[id(used)]
    assert fitted_on[id(models.adapter)] == set(runs.answers)
    assert models.reranker.trained_on["requests"] == len(STORIES)
    without = training.fit_search_models(index, runs, np.arange(3), adapter=False, folds=3)
    assert without.adapter is None and without.reranker.trained_on["requests"] == 3


def test_collected_vectors_are_the_ones_search_encodes(tiny_engine) -> None:
    """collect_search_runs batch-encodes what SearchIndex.search would encode one by one."""

    queries = [{"query": story, "movieId": mid} for mid, story in STORIES.items()]
    long_story = " ".join([STORIES[7]] * 4)  # several chunks
    queries += [{"query": long_story, "movieId": 7}, {"query": "alien", "movieId": 1}]
    runs = training.collect_search_runs(tiny_engine, queries)
    index, encoder = tiny_engine.search_index, tiny_engine.encoder
    assert runs.narrative.tolist() == [True] * (len(STORIES) + 1) + [False]
    for request, vector, chunks in zip(runs.requests, runs.vectors, runs.chunks, strict=True):
        text = request.text.strip()
        np.testing.assert_allclose(vector, index.query_vector(text, encoder), atol=1e-5)
        expected = index.chunk_vectors(text, encoder) if request.narrative else None
        if expected is None:
            assert chunks is None
        else:
            np.testing.assert_allclose(chunks, expected, atol=1e-5)
    assert runs.chunks[len(STORIES)] is not None and len(runs.chunks[len(STORIES)]) >= 2
