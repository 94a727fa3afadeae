"""Training the search re-ranker and its request-vector adapter on requests with known answers.

Parses and encodes a queries file once (:class:`SearchRuns`), builds the re-ranker's candidate
rows and fits the models; it measures nothing (the evaluation's search part does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.progress import Progress, no_progress


def collect_search_runs(
    engine: Any, queries: list[dict[str, Any]], *, progress: Progress = no_progress
) -> SearchRuns:
    """Parse and encode every request whose answer is in the catalogue, once: the parsed
    requests, their answers, and the request and chunk vectors (the texts
    :meth:`SearchIndex.search` would encode, before any adapter).

    Encoded in batches (all requests, then all chunks): several times faster than one request
    at a time, and the same vectors up to float rounding."""
    from core.search.request import parse_request
    from core.search.rerank import request_chunks

    known = [q for q in queries if int(q["movieId"]) in engine.catalog.item_of]
    answers = [engine.catalog.item_of[int(q["movieId"])] for q in known]
    encoder = engine.encoder
    progress("search: parsing requests", 0.0)
    requests = [
        parse_request(str(q["query"])[:4000], engine.catalog, matcher=engine.titles) for q in known
    ]
    texts = [request.text.strip() for request in requests]
    with_text = [i for i, text in enumerate(texts) if text]
    # As SearchIndex.query_vector + Encoder.encode_query prepare a request's text.
    prepared = [" ".join(texts[i][:2000].split()) for i in with_text]
    chunk_lists = {
        i: request_chunks(texts[i]) for i in with_text if requests[i].narrative
    }  # fmt: skip

    def report(what: str) -> Callable[[int, int], None]:
        return lambda done, total: progress(f"search: encoding {what} {done}/{total}", done / total)

    matrix = encoder.encode(prepared, progress=report("requests"))
    vectors: list[np.ndarray | None] = [None] * len(requests)
    for row, i in enumerate(with_text):
        vectors[i] = matrix[row]
    flat = [chunk for chunks in chunk_lists.values() for chunk in chunks]
    chunk_matrix = encoder.encode(flat, progress=report("chunks")) if flat else None
    chunks: list[np.ndarray | None] = [None] * len(requests)
    start = 0
    for i, parts in chunk_lists.items():
        if parts:
            chunks[i] = chunk_matrix[start : start + len(parts)]
            start += len(parts)
    return SearchRuns(len(queries), requests, answers, vectors, chunks)


@dataclass
class SearchRuns:
    """Parsed, encoded requests of a queries file (see :func:`collect_search_runs`)."""

    n_queries: int
    requests: list[Any]
    answers: list[int]
    vectors: list[np.ndarray | None]
    chunks: list[np.ndarray | None]

    @property
    def narrative(self) -> np.ndarray:
        """Per request: whether the product re-ranks it (narrative, with text to encode)."""
        return np.array(
            [
                v is not None and bool(r.narrative)
                for r, v in zip(self.requests, self.vectors, strict=True)
            ],
            dtype=bool,
        )


@dataclass
class SearchModels:
    """What ``tune-search`` fits: the re-ranker and the request-vector adapter it was fitted
    with (None when the index's encoder is unknown)."""

    reranker: Any  # core.search.rerank.SearchReranker
    adapter: Any  # core.search.adapter.QueryAdapter | None
    answers_in_pool: int


def search_rows(
    index: Any, runs: SearchRuns, members: np.ndarray, adapter_of: Callable[[int], Any]
) -> Any:
    """The re-ranker's candidate rows (:class:`core.search.rerank.TrainingRows`) of the requests in
    ``members``, each computed with the adapter ``adapter_of(request number)`` (or none)."""
    from core.search.rerank import FEATURES, TrainingRows, candidate_rows

    wanted = np.zeros(len(runs.requests), dtype=bool)
    wanted[np.asarray(members, dtype=np.int64)] = True
    empty = (np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0))
    previous = index.adapter, index.reranker
    # No re-ranker while the rows are made: one trained without an adapter would switch the
    # adapter off (SearchIndex.adapter_for), and candidate_rows does not use it.
    index.reranker = None
    parts = []
    try:
        for number, request in enumerate(runs.requests):
            if not wanted[number]:
                parts.append(empty)
                continue
            index.adapter = adapter_of(number)
            parts.append(
                candidate_rows(
                    index, request, runs.vectors[number], runs.chunks[number], runs.answers[number]
                )
            )
    finally:
        index.adapter, index.reranker = previous
    return TrainingRows.stack(parts)


def fit_search_models(
    index: Any,
    runs: SearchRuns,
    members: np.ndarray,
    *,
    adapter: bool,
    folds: int = 5,
    seed: int = 1,
    **trained_on: Any,
) -> SearchModels:
    """Fit the re-ranker, and the adapter when ``adapter``, on the narrative requests among
    ``members`` (request numbers of ``runs``).

    The adapter is fitted on all of them. The re-ranker's rows are computed with adapters
    cross-fitted over ``folds`` folds of the same requests, so each request's cosines come from
    an adapter that never saw it: the re-ranker then learns how much to trust the cosines as
    they look on new requests, not on the adapter's own training data. ``ValueError`` when no
    answer is among its candidates."""
    from core.search.adapter import QueryAdapter, model_fingerprint
    from core.search.rerank import SearchReranker, fold_of_requests

    members = np.asarray(members, dtype=np.int64)
    members = members[runs.narrative[members]]
    full = None
    if adapter and len(members) >= folds:
        fingerprint = model_fingerprint(index.model_name)
        movies = np.asarray(index.embeddings, dtype=np.float32)
        answers = np.asarray(runs.answers, dtype=np.int64)

        def fit(chosen: np.ndarray) -> QueryAdapter:
            vectors = np.stack([runs.vectors[i] for i in chosen])
            return QueryAdapter.fit(
                vectors, answers[chosen], movies, fingerprint=fingerprint, **trained_on
            )

        inner = fold_of_requests(len(members), folds, seed)
        fitted = [fit(members[inner != fold]) for fold in range(folds)]
        fold_of = dict(zip(members.tolist(), inner.tolist(), strict=True))
        rows = search_rows(index, runs, members, lambda number: fitted[fold_of[number]])
        full = fit(members)
    else:
        rows = search_rows(index, runs, members, lambda number: None)
    if rows.labels.sum() == 0 or not (rows.labels == 0).any():
        raise ValueError("no narrative request has its answer among the candidates")
    requests = len(np.unique(rows.request))
    reranker = SearchReranker.fit(
        rows.matrix, rows.labels, rows.request, requests=requests, adapter=full is not None,
        **trained_on,
    )  # fmt: skip
    return SearchModels(reranker, full, int(rows.labels.sum()))


def fit_on_every_request(
    engine: Any,
    runs: SearchRuns,
    queries_path: Path,
    *,
    adapter: bool,
    folds: int = 5,
    progress: Progress = no_progress,
) -> SearchModels:
    """The models ``tune-search`` ships: fitted on every narrative request of ``runs`` (read
    from ``queries_path``, whose name and digest they record), the adapter only when
    ``adapter`` and the index's encoder is known. ``ValueError`` with fewer than ``folds``
    narrative requests."""
    from core.search.rerank import file_digest

    if runs.narrative.sum() < folds:
        raise ValueError(f"{queries_path}: fewer than {folds} narrative requests to train on")
    index = engine.search_index
    progress("search: fitting the re-ranker", 0.0)
    return fit_search_models(
        index,
        runs,
        np.arange(len(runs.requests)),
        adapter=adapter and bool(index.model_name) and index.config.adapter,
        folds=folds,
        dataset=engine.manifest.dataset if engine.manifest else engine.catalog.name,
        queries=Path(queries_path).name,
        queries_sha1=file_digest(queries_path),
        trained_at=time.strftime("%Y-%m-%d"),
    )


def save_search_models(models: SearchModels, out: Path, adapter_out: Path | None) -> None:
    """Save the re-ranker to ``out`` (and the adapter, when there is one, to ``adapter_out``);
    this process serves the new models from then on (the default-model caches are cleared)."""
    from core.search.adapter import load_default as load_default_adapter
    from core.search.rerank import load_default

    models.reranker.save(out)
    if models.adapter is not None and adapter_out is not None:
        models.adapter.save(adapter_out)
    load_default.cache_clear()
    load_default_adapter.cache_clear()
