"""The search part: Recall@k / MRR of natural-language requests with one known answer each.

Compares retrievers, score fusion, the shipped re-ranker and a re-ranker cross-validated on the
same requests; the models are fitted by :mod:`core.search.training`, never on a held-out fold.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.evaluation.metrics import search_metrics
from core.evaluation.results import Section, quick_protocol
from core.progress import Progress, no_progress
from core.search.request import NARRATIVE_WORDS
from core.search.training import (
    SearchModels,
    SearchRuns,
    collect_search_runs,
    fit_on_every_request,
    fit_search_models,
    save_search_models,
)

#: ``evaluate --quick``: a seeded sample of at most this many requests, and fewer folds for the
#: cross-validated re-ranker.
QUICK_QUERIES = 300
QUICK_FOLDS = 3

FUSION = "full search, score fusion only"
METADATA_ONLY = "full search, score fusion, over title, genres and tags only"


def read_queries(path: Path) -> list[dict[str, Any]]:
    """Lines of ``{"query": ..., "movieId": ...}``; lines without both are skipped."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            if "query" in record and "movieId" in record:
                out.append(record)
    return out


def sample_queries(
    queries: list[dict[str, Any]], most: int = QUICK_QUERIES, seed: int = 42
) -> list[dict[str, Any]]:
    """A seeded random sample of at most ``most`` requests, in file order."""
    if len(queries) <= most:
        return queries
    keep = np.sort(np.random.default_rng(seed).choice(len(queries), size=most, replace=False))
    return [queries[i] for i in keep]


def _search_all(
    engine: Any, index: Any, runs: SearchRuns, top: int, config: Any = None
) -> list[list[int]]:
    """Every request of ``runs`` searched with ``index`` (its own config unless ``config``)."""
    return [
        [int(i) for i in index.search(
            request, encoder=engine.encoder, top=top, config=config,
            prior=engine.scorers["popularity"], query_vector=runs.vectors[number],
            chunk_vectors=runs.chunks[number],
        ).items]
        for number, request in enumerate(runs.requests)
    ]  # fmt: skip


def _product_label(index: Any, reranker: Any, queries_digest: str | None) -> str:
    """The product row's name: says whether the shipped re-ranker saw these very requests."""
    trained_here = bool(
        reranker is not None
        and queries_digest
        and reranker.trained_on.get("queries_sha1") == queries_digest
    )
    adapted = " and adapter" if index.active_adapter is not None else ""
    product = f"full search (product: fusion + shipped re-ranker{adapted})"
    if trained_here:
        product += " [in-sample: trained on these requests]"
    elif reranker is None:
        product = "full search (product: fusion; no re-ranker loaded)"
    return product


def _rank_variants(
    engine: Any, runs: SearchRuns, product: str, reranker: Any, top: int, progress: Progress
) -> dict[str, list[list[int]]]:
    """Ranked lists of each retrieval variant; without a re-ranker the product row repeats
    score fusion (it is the same search)."""
    index = engine.search_index
    base = index.config
    variants = {
        "BM25 alone": replace(base, w_dense=0.0, rerank=False),
        "embeddings alone": replace(base, w_bm25=0.0, rerank=False),
        FUSION: replace(base, rerank=False),
        product: base,
    }
    ranked: dict[str, list[list[int]]] = {name: [] for name in variants}
    for number, request in enumerate(runs.requests):
        if number % 100 == 0:
            progress(f"search {number}/{len(runs.requests)}", number / max(len(runs.requests), 1))
        for name, config in variants.items():
            if name == product and reranker is None:
                ranked[name].append(ranked[FUSION][-1])
                continue
            hits = index.search(
                request,
                encoder=engine.encoder,
                top=top,
                config=config,
                prior=engine.scorers["popularity"],
                query_vector=runs.vectors[number],
                chunk_vectors=runs.chunks[number],
            )
            ranked[name].append([int(i) for i in hits.items])
    return ranked


def _fit_folds(
    index: Any, runs: SearchRuns, fold_of: np.ndarray, folds: int, with_adapter: bool,
    progress: Progress,
) -> tuple[list[SearchModels], str]:  # fmt: skip
    """The models of each fold, fitted on the other folds' requests (none with too few
    narrative requests), and why they were skipped ("" when not)."""
    models: list[SearchModels] = []
    if runs.narrative.sum() < folds:
        return models, ""
    try:
        for fold in range(folds):
            progress(f"search: fitting fold {fold + 1}/{folds}", fold / folds)
            members = np.flatnonzero(fold_of != fold)
            models.append(
                fit_search_models(index, runs, members, adapter=with_adapter, folds=folds)
            )
    except ValueError as err:
        return [], f"skipped: {err} in some fold"
    return models, ""


def _rank_cross_validated(
    engine: Any, runs: SearchRuns, models: list[SearchModels], fold_of: np.ndarray,
    fusion: list[list[int]], top: int,
) -> list[list[int]]:  # fmt: skip
    """The product's search with, for each request, the models that did not see it (short
    requests keep score fusion); the index's own models are put back afterwards."""
    index = engine.search_index
    narrative = runs.narrative
    shipped = (index.reranker, index.adapter)
    ranked: list[list[int]] = []
    try:
        for number, request in enumerate(runs.requests):
            if not narrative[number]:
                ranked.append(fusion[number])
                continue
            fold_models = models[int(fold_of[number])]
            index.reranker, index.adapter = fold_models.reranker, fold_models.adapter
            hits = index.search(
                request, encoder=engine.encoder, top=top,
                config=replace(index.config, rerank=True),
                prior=engine.scorers["popularity"], query_vector=runs.vectors[number],
                chunk_vectors=runs.chunks[number],
            )  # fmt: skip
            ranked.append([int(i) for i in hits.items])
    finally:
        index.reranker, index.adapter = shipped
    return ranked


def _held_out_rows(
    runs: SearchRuns, ranked: list[list[int]], fold_of: np.ndarray, folds: int
) -> list[dict[str, Any]]:
    """Popular answers recur in such requests: the held-out figure split by whether the
    answer was asked about in the other folds (what the fold's models learned from)."""
    answers = np.asarray(runs.answers)
    narrative = runs.narrative
    seen = np.zeros(len(answers), dtype=bool)
    for fold in range(folds):
        held = fold_of == fold
        seen[held] = np.isin(answers[held], answers[~held & narrative])
    rows = []
    for label, chosen_rows in (("also", seen), ("never", ~seen)):
        if chosen_rows.any():
            lists = [ranked[i] for i in np.flatnonzero(chosen_rows)]
            rows.append({
                "model": f"  held out, answer {label} asked in the other folds",
                **search_metrics(lists, answers[chosen_rows].tolist()),
            })  # fmt: skip
    return rows


def _search_protocol(runs: SearchRuns, folds: int) -> str:
    return (
        f"{len(runs.requests)} natural-language requests with one known answer each "
        f"({runs.n_queries - len(runs.requests)} skipped: answer not in this catalogue); the "
        "same parsing, constraints and re-ranking for every variant; BM25 alone and embeddings "
        "alone use score fusion with the other retriever switched off. Narrative requests "
        f"(more than {NARRATIVE_WORDS} words) are re-ranked by the learned model in the "
        "product, with request vectors mapped by the learned adapter; the cross-validated row "
        f"fits both on {folds - 1}/{folds} of these requests and ranks the other 1/{folds}, in "
        "turn (short requests keep score fusion)."
    )


def evaluate_search(
    engine: Any,
    queries: list[dict[str, Any]] | SearchRuns,
    *,
    progress: Progress = no_progress,
    top: int = 100,
    queries_digest: str | None = None,
    folds: int | None = None,
    quick: bool = False,
) -> Section:
    """Recall@1/10/100 and MRR@10 of BM25 alone, embeddings alone, score fusion, score fusion
    over title, genres and tags only, the product (fusion + the shipped re-ranker and adapter)
    and the re-ranker (with its adapter, when the product has one) cross-validated on these
    requests, the latter also split by whether each request's answer was asked about in the
    other folds.

    ``queries_digest`` (:func:`core.search.rerank.file_digest` of the queries file) marks the
    product row as in-sample when the shipped re-ranker was trained on that very file; the
    cross-validated row is then the honest figure. ``folds`` defaults to 5, or
    :data:`QUICK_FOLDS` with ``quick`` (the caller samples the requests, :func:`sample_queries`;
    the protocol then says so)."""
    from core.search.rerank import fold_of_requests

    started = time.perf_counter()
    folds = folds or (QUICK_FOLDS if quick else 5)
    runs = queries if isinstance(queries, SearchRuns) else collect_search_runs(
        engine, queries, progress=progress
    )  # fmt: skip
    index = engine.search_index
    reranker = index.reranker if index.config.rerank else None
    product = _product_label(index, reranker, queries_digest)
    ranked = _rank_variants(engine, runs, product, reranker, top, progress)
    progress("search: indexing title, genres and tags only", 0.0)
    ranked[METADATA_ONLY] = _search_all(engine, _metadata_only_index(engine), runs, top)
    with_adapter = index.active_adapter is not None
    chosen: dict[str, Any] = {
        "re-ranker": reranker.trained_on if reranker else None,
        "adapter": index.active_adapter.trained_on if with_adapter else None,
    }
    cv_name = (
        f"full search, re-ranker{' and adapter' if with_adapter else ''} {folds}-fold "
        "cross-validated on these requests"
    )
    fold_of = fold_of_requests(len(runs.requests), folds)
    models, skipped = _fit_folds(index, runs, fold_of, folds, with_adapter, progress)
    if skipped:
        chosen["cross-validation"] = skipped
    if models:
        ranked[cv_name] = _rank_cross_validated(engine, runs, models, fold_of, ranked[FUSION], top)
        chosen["cross-validation"] = {
            "folds": folds,
            "re-ranked requests": int(runs.narrative.sum()),
            "adapter": with_adapter,
            "training answers among their candidates, per fold": [
                m.answers_in_pool for m in models
            ],
        }
    protocol = _search_protocol(runs, folds)
    if quick:
        reduced = f"a random sample of at most {QUICK_QUERIES} requests (seed 42), {folds} folds"
        protocol = quick_protocol(protocol, reduced)
    section = Section("search", protocol, chosen=chosen)
    for name, lists in ranked.items():
        section.rows.append({"model": name, **search_metrics(lists, runs.answers)})
    if cv_name in ranked:
        section.rows.extend(_held_out_rows(runs, ranked[cv_name], fold_of, folds))
    section.seconds = time.perf_counter() - started
    return section


def _metadata_only_index(engine: Any) -> Any:
    """A search index of the same catalogue without any TMDB or Wikipedia text (title, year,
    genres and MovieLens tags only): the issue's "metadata only" baseline. Score fusion, no
    re-ranker or adapter, no passages."""
    from core.data.enrich import movie_text
    from core.search.index import SearchConfig, SearchIndex

    catalog = engine.catalog
    movies = catalog.movies.copy()
    for column in ("keywords", "directors", "cast", "tagline", "overview", "plot"):
        if column in movies:
            movies[column] = ""
    vectors = engine.encoder.encode(movie_text(movies, long=False))
    config = dataclasses.replace(SearchConfig(), rerank=False, adapter=False, passages=False)
    small = SearchIndex.build(catalog, movie_text(movies, long=True), vectors, config=config)
    small.reranker, small.adapter = None, None
    return small


def train_search_reranker(
    engine: Any,
    queries_path: Path,
    out: Path,
    adapter_out: Path | None = None,
    *,
    progress: Progress = no_progress,
    folds: int = 5,
) -> tuple[SearchModels, Section]:
    """Fit the search re-ranker and its request-vector adapter on every narrative request of
    ``queries_path`` and save them to ``out`` and ``adapter_out`` (no adapter is fitted when
    ``adapter_out`` is None or the index's encoder is unknown); also returns the
    cross-validated evaluation of the same requests (so the printed figures are held-out
    ones, not the fit's).

    Lives here, not in :mod:`core.search.training`, because it also measures: training
    itself is :func:`~core.search.training.fit_on_every_request`."""
    from core.search.rerank import file_digest

    runs = collect_search_runs(engine, read_queries(queries_path), progress=progress)
    models = fit_on_every_request(
        engine, runs, queries_path, adapter=adapter_out is not None, folds=folds,
        progress=progress,
    )  # fmt: skip
    index = engine.search_index
    previous = (index.reranker, index.adapter)
    index.reranker, index.adapter = models.reranker, models.adapter
    try:
        section = evaluate_search(
            engine, runs, progress=progress, queries_digest=file_digest(queries_path), folds=folds
        )
    finally:
        index.reranker, index.adapter = previous
    save_search_models(models, out, adapter_out)
    return models, section
