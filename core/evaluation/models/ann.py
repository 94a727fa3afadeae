"""Vector index recall: each faiss index's share of the exact top-k, and its query latency.

Measures :mod:`core.search.ann` on two-tower and text vectors; it must not change what the
product builds.
"""

from __future__ import annotations

import time

import numpy as np

from core.data.catalog import Catalog
from core.evaluation.results import Section
from core.progress import Progress, no_progress
from core.signals.twotower import TwoTowerRetrieval


def evaluate_ann(
    catalog: Catalog,
    model: TwoTowerRetrieval,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    progress: Progress = no_progress,
) -> Section:
    """Recall of the faiss indexes against exact search, and their latency."""
    from core.search.ann import IndexConfig, VectorIndex, recall_against_exact

    started = time.perf_counter()
    progress("vector index: recall against exact search", 0.0)
    user_queries = model.user_vectors(*model.training_users(catalog.user_ids))
    rng = np.random.default_rng(seed)
    sample = rng.choice(catalog.n_items, size=min(1000, catalog.n_items), replace=False)
    text = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
    # A catalogue ten times larger, the size where the product switches to an ANN index:
    # every movie vector ten times, each copy moved by noise (norm ~0.5) and re-normalised.
    copies = np.repeat(model.item_matrix, 10, axis=0)
    noise = rng.normal(size=copies.shape).astype(np.float32) / np.sqrt(copies.shape[1])
    large = copies + 0.5 * noise
    large /= np.linalg.norm(large, axis=1, keepdims=True)
    sets = {
        f"two-tower movie vectors ({model.item_matrix.shape[1]}-d), user queries":
            (model.item_matrix, user_queries),
        f"text embeddings ({text.shape[1]}-d), movie queries": (text, text[sample]),
        f"{len(large):,} noisy copies of the two-tower vectors, user queries":
            (large, user_queries),
    }  # fmt: skip
    kinds = {
        "exact (NumPy)": IndexConfig(kind="exact"),
        "IVF-flat (default nprobe)": IndexConfig(kind="ivf"),
        "IVF-flat, nprobe 4": IndexConfig(kind="ivf", nprobe=4),
        "HNSW (M 32, efSearch 128)": IndexConfig(kind="hnsw"),
        "HNSW (M 32, efSearch 32)": IndexConfig(kind="hnsw", ef_search=32),
    }
    rows = []
    for data_label, (vectors, queries) in sets.items():
        for kind_label, config in kinds.items():
            index = VectorIndex.build(vectors, config)
            timed = queries[:200]
            t0 = time.perf_counter()
            for query in timed:
                index.search(query, 10)
            ms = (time.perf_counter() - t0) / max(len(timed), 1) * 1000
            rows.append({
                "model": kind_label, "vectors": data_label,
                "recall@10 vs exact": recall_against_exact(index, queries, 10),
                "recall@100 vs exact": recall_against_exact(index, queries, 100),
                "ms per query": ms, "build_s": index.build_seconds,
            })  # fmt: skip
    auto = VectorIndex.build(model.item_matrix).kind
    section = Section(
        "ann_recall",
        f"Top-k over {catalog.n_items} movies: each index's share of the exact top 10 / top 100 "
        "(inner product), and the time of one query. The product searches exactly below "
        f"{IndexConfig().exact_below:,} movies and with IVF-flat above; here it uses "
        f"'{auto}'.",
        rows,
    )
    section.seconds = time.perf_counter() - started
    return section
