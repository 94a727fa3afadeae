"""Search quality on real Reddit "which movie is this?" requests (tip-of-the-tongue).

Usage:
    python benchmarks/search_quality.py [--sample N] [--seed S] [--variants a,b,...]
                                        [--threads T] [--data DIR] [--queries FILE]

Builds the search index for ml-latest-small (with the TMDB/Wikipedia text of core.data.enrich),
answers every request of ``tomt-movies/train.jsonl`` and prints Recall@1/10/100 and MRR@10 per
variant (BM25 alone, dense alone, score fusion, fusion + the shipped re-ranker and its
request-vector adapter, ...). The shipped re-ranker (core/resources/search_reranker.json) and
adapter (core/resources/search_adapter.npz) were trained on these very requests, so that row is
in-sample: ``python -m core evaluate --parts search`` also prints their 5-fold
cross-validated figure. Movie and query embeddings are cached under
``artifacts/_cache/bench`` by content hash, so a second run only pays for the searches.
``--sample 0`` (the default) uses every query.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import REPO_ROOT, Settings
from core.data.catalog import Catalog
from core.search.config import SearchConfig
from core.search.index import SearchIndex
from core.search.request import ParsedRequest, parse_request
from core.search.rerank import request_chunks
from core.search.text import split_passages

SHARED = REPO_ROOT.parent / "shared" / "data"
CACHE = REPO_ROOT / "artifacts" / "_cache" / "bench"


def load(data: Path) -> tuple[Catalog, list[str], list[str]]:
    """The catalogue and its (short, long) movie texts; a plain CSV read when core.data.enrich
    or core.data.loaders are unavailable."""
    from core.data.enrich import movie_text
    from core.data.loaders import load_catalog

    catalog = load_catalog(data, Settings())
    return catalog, movie_text(catalog.movies, long=False), movie_text(catalog.movies, long=True)


def cached_encode(texts: list[str], threads: int, label: str) -> np.ndarray:
    """Encode ``texts`` once; later runs read the cached matrix (keyed by content + model)."""
    settings = Settings()
    digest = hashlib.sha1(
        json.dumps([settings.embed_model, *texts]).encode("utf-8", "replace")
    ).hexdigest()[:16]
    path = CACHE / f"{label}-{digest}.npy"
    if path.exists():
        return np.load(path)
    from core.signals.encoder import Encoder

    encoder = Encoder(settings.embed_model, threads=threads)
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)

    matrix = encoder.encode(texts, progress=progress)
    print(
        f"  encoded {len(texts)} {label} in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, matrix)
    return matrix


def metrics(ranks: list[int | None]) -> dict[str, float]:
    """Recall@1/10/100 and MRR@10 from the 1-based rank of each answer (None = not in top 100)."""
    n = max(len(ranks), 1)
    found = [r for r in ranks if r is not None]
    return {
        "R@1": sum(r <= 1 for r in found) / n,
        "R@10": sum(r <= 10 for r in found) / n,
        "R@100": sum(r <= 100 for r in found) / n,
        "MRR@10": sum(1.0 / r for r in found if r <= 10) / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "ml-latest-small")
    parser.add_argument("--queries", type=Path, default=SHARED / "tomt-movies" / "train.jsonl")
    parser.add_argument("--sample", type=int, default=0, help="random queries (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for bulk encoding")
    parser.add_argument("--variants", default="bm25,dense,fused,fused_rrf,fused_noparse,reranked")
    parser.add_argument(
        "--no-passages", dest="passages", action="store_false", help="skip passage vectors"
    )
    parser.add_argument(
        "--latency", action="store_true", help="also time parse + encode + search (1 thread)"
    )
    args = parser.parse_args()

    catalog, short, long = load(args.data)
    rows = [json.loads(line) for line in args.queries.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if int(r["movieId"]) in catalog.item_of]
    if args.sample:
        rng = np.random.default_rng(args.seed)
        rows = [rows[i] for i in sorted(rng.choice(len(rows), args.sample, replace=False))]
    print(
        f"{catalog.n_items} movies, coverage {catalog.report.text_coverage}, {len(rows)} queries",
        file=sys.stderr,
    )

    embeddings = cached_encode(short, args.threads, "movies")
    chunks, owners = split_passages(long) if args.passages else ([], [])
    passages = cached_encode(chunks, args.threads, "passages") if chunks else None
    t0 = time.perf_counter()
    index = SearchIndex.build(
        catalog,
        long,
        embeddings,
        passages=passages,
        passage_item=np.asarray(owners) if chunks else None,
    )
    index.model_name = Settings().embed_model  # the vectors' encoder: the shipped adapter fits it
    print(
        f"  BM25 index built in {time.perf_counter() - t0:.1f} s; {len(owners)} passages",
        file=sys.stderr,
    )

    t0 = time.perf_counter()
    parsed = [parse_request(r["query"], catalog) for r in rows]
    print(f"  parsed {len(rows)} requests in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    plain = [ParsedRequest(raw=r["query"], text=r["query"], cleaned=r["query"]) for r in rows]
    cleaned = [replace(p, text=p.cleaned) for p in parsed]
    texts = {
        "parsed": [p.text[:2000] for p in parsed],
        "cleaned": [p.cleaned[:2000] for p in parsed],
        "raw": [p.text[:2000] for p in plain],
    }
    vectors: dict[str, np.ndarray] = {}
    answers = [catalog.item_of[int(r["movieId"])] for r in rows]

    shipped = SearchConfig()
    base = replace(shipped, rerank=False)
    variants: dict[str, tuple[list[ParsedRequest], str, SearchConfig]] = {
        "reranked": (parsed, "parsed", shipped),
        "bm25": (parsed, "parsed", replace(base, w_dense=0.0)),
        "dense": (parsed, "parsed", replace(base, w_bm25=0.0)),
        "dense_nopassages": (parsed, "parsed", replace(base, w_bm25=0.0, passages=False)),
        "fused": (parsed, "parsed", base),
        "fused_rrf": (parsed, "parsed", replace(base, fusion="rrf")),
        "fused_nopassages": (parsed, "parsed", replace(base, passages=False)),
        "fused_noparse": (plain, "raw", base),
        "fused_cleaned": (cleaned, "cleaned", base),
        "fused_noprior": (parsed, "parsed", replace(base, w_prior=0.0)),
        "fused_prior10": (parsed, "parsed", replace(base, w_prior=0.1)),
        "fused_bm25_05": (parsed, "parsed", replace(base, w_bm25=0.5)),
        "fused_bm25_10": (parsed, "parsed", replace(base, w_bm25=1.0)),
        "fused_noyear": (parsed, "parsed", replace(base, w_year=0.0)),
        "fused_year1": (parsed, "parsed", replace(base, w_year=1.0)),
        "fused_nogenre": (parsed, "parsed", replace(base, w_genre=0.0)),
        "fused_genre3": (parsed, "parsed", replace(base, w_genre=0.3)),
        "fused_noref": (parsed, "parsed", replace(base, w_reference=0.0)),
    }
    wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
    print(f"{'variant':<20} {'R@1':>6} {'R@10':>6} {'R@100':>6} {'MRR@10':>7} {'ms/q':>6}")
    for name in wanted:
        if name not in variants:
            print(f"unknown variant {name}; known: {', '.join(variants)}", file=sys.stderr)
            continue
        requests, key, config = variants[name]
        if key not in vectors:
            vectors[key] = cached_encode(texts[key], args.threads, "queries")
        chunked = [request_chunks(r.text) for r in requests]
        flat = [c for chunks in chunked for c in chunks]
        chunk_matrix = cached_encode(flat, args.threads, "qchunks") if flat else None
        offsets = np.cumsum([0, *(len(c) for c in chunked)])
        ranks: list[int | None] = []
        started = time.perf_counter()
        for i, answer in enumerate(answers):
            chunk_vectors = (
                chunk_matrix[offsets[i] : offsets[i + 1]]
                if chunk_matrix is not None and offsets[i + 1] > offsets[i]
                else None
            )
            items = index.search(
                requests[i],
                top=100,
                config=config,
                query_vector=vectors[key][i],
                chunk_vectors=chunk_vectors,
            ).items
            hit = np.flatnonzero(items == answer)
            ranks.append(int(hit[0]) + 1 if len(hit) else None)
        ms = (time.perf_counter() - started) * 1000 / max(len(answers), 1)
        m = metrics(ranks)
        print(
            f"{name:<20} {m['R@1']:6.3f} {m['R@10']:6.3f} {m['R@100']:6.3f} "
            f"{m['MRR@10']:7.3f} {ms:6.1f}",
            flush=True,
        )

    if args.latency:
        latency(index, catalog)


#: Chat-style requests for the latency check (encoded without the cache each time).
LATENCY_QUERIES = [
    "a 90s space adventure, no horror",
    "funny animated movie for kids",
    "like Alien but funnier",
    "hidden gem crime thriller from the 70s",
    "romantic comedy set in New York",
    "a heist movie with a twist ending",
    "something about dreams inside dreams",
    "war drama after 2005",
]


def latency(index: SearchIndex, catalog: Catalog) -> None:
    """Median and worst warm time of parse + encode + search with a one-thread encoder."""
    from core.signals.encoder import Encoder

    encoder = Encoder(Settings().embed_model, threads=1)
    index.set_encoder(encoder)
    for text in LATENCY_QUERIES[:2]:  # warm up
        index.search(parse_request(text, catalog), top=10)
    parts: dict[str, list[float]] = {"parse": [], "encode": [], "search": [], "total": []}
    for _ in range(5):
        for text in LATENCY_QUERIES:
            t0 = time.perf_counter()
            request = parse_request(text, catalog)
            t1 = time.perf_counter()
            vector = encoder.encode([request.text or text])[0]  # uncached on purpose
            t2 = time.perf_counter()
            index.search(request, top=10, query_vector=vector)
            t3 = time.perf_counter()
            for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                value_ms = value * 1000
                parts[key].append(value_ms)
    for key, values in parts.items():
        print(f"latency {key:<7} median {np.median(values):6.1f} ms   max {max(values):6.1f} ms")


if __name__ == "__main__":
    main()
