"""Genre clusters: two-stage search (nearest clusters, then movies inside) against plain search.

Same requests and retrieval as the search part; measures only, builds no shipped artifact.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from core.evaluation.metrics import search_metrics
from core.evaluation.results import Section
from core.progress import Progress, no_progress


def evaluate_cluster_search(
    engine: Any, queries: list[dict[str, Any]], *, progress: Progress = no_progress
) -> Section:
    """Two-stage search (nearest genre clusters, then movies inside) against plain search."""
    from core.search.clusters import GenreClusters
    from core.search.request import parse_request
    from core.serving.blend import Filters

    started = time.perf_counter()
    catalog = engine.catalog
    embeddings = np.asarray(engine.scorers["semantic"].embeddings, dtype=np.float32)
    clusters = GenreClusters.build(catalog, embeddings)
    index = engine.search_index
    # Embeddings alone: score fusion with BM25 off (the learned re-ranker would bring BM25 back).
    dense_only = dataclasses.replace(index.config, w_bm25=0.0, rerank=False)
    known = [q for q in queries if int(q["movieId"]) in catalog.item_of]
    answers = [catalog.item_of[int(q["movieId"])] for q in known]
    variants = ["embeddings alone (plain)"]
    variants += [f"two-stage: {n} nearest clusters -> embeddings" for n in (1, 3, 5, 10)]
    variants += ["full search (plain)", "two-stage: 5 nearest clusters -> full search"]
    ranked: dict[str, list[list[int]]] = {v: [] for v in variants}
    searched: dict[str, list[float]] = {v: [] for v in variants}
    seconds: dict[str, float] = dict.fromkeys(variants, 0.0)
    encoder = engine.encoder
    prior = engine.scorers["popularity"]
    for number, record in enumerate(known):
        if number % 200 == 0:
            progress(f"cluster search {number}/{len(known)}", number / max(len(known), 1))
        request = parse_request(str(record["query"])[:4000], catalog, matcher=engine.titles)
        text = request.text.strip() or str(record["query"])[:2000]
        vector = encoder.encode_query(text[:2000])
        chunks = index.chunk_vectors(text, encoder) if index.uses_reranker(request) else None
        for variant in variants:
            t0 = time.perf_counter()
            config = dense_only if variant.endswith("embeddings") or "alone" in variant else None
            filters = None
            if variant.startswith("two-stage"):
                n = int(variant.split(": ")[1].split()[0])
                outside = ~clusters.members(clusters.nearest(vector, n))
                filters = Filters(exclude_ids=tuple(catalog.movie_ids[outside].tolist()))
                searched[variant].append(1.0 - float(outside.mean()))
            else:
                searched[variant].append(1.0)
            hits = index.search(request, encoder=encoder, top=100, config=config, prior=prior,
                                filters=filters, query_vector=vector,
                                chunk_vectors=chunks)  # fmt: skip
            seconds[variant] += time.perf_counter() - t0
            ranked[variant].append([int(i) for i in hits.items])
    rows = [
        {"model": v, **search_metrics(ranked[v], answers),
         "catalogue searched": float(np.mean(searched[v])) if searched[v] else 0.0,
         "ms per query": 1000 * seconds[v] / max(len(known), 1)}
        for v in variants
    ]  # fmt: skip
    section = Section(
        "cluster_search",
        f"{len(known)} natural-language requests with one known answer each. Genre "
        f"combinations clustered with community detection ({clusters.n_clusters} clusters); a "
        "two-stage search keeps only the movies of the clusters nearest the request's vector, "
        "then runs the same retrieval inside them. 'catalogue searched' = share of movies left "
        "after stage one; 'full search' variants re-rank narrative requests with the learned "
        "re-ranker, the embeddings variants do not; times include the constraint parsing and, "
        "for two stages, building the exclusion filter of the other clusters' movies, not the "
        "text encoding.",
        rows,
        {"largest clusters": {row.name: int(row.movies) for row in
                              clusters.table().head(8).itertuples()}},
    )  # fmt: skip
    section.seconds = time.perf_counter() - started
    return section
