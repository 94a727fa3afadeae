"""Build-time tuning, held out: the default blend before and after `core.tuning.tune`.

For each data folder and each ranking protocol (per-user stratified 75/25, nDCG@10; temporal
leave-one-out, HitRate@10), the training part goes through `tune` exactly as a build of that
part would (validation carved from it alone), then the product's signals are fitted on the
training part and the test part is scored with the registry defaults and with the tuned
choice. In-process and fast (a minute per folder); `benchmarks/generalisation.py` measures
the same through the command line against EASE.

    python benchmarks/tuning_quality.py ../shared/data/ml-latest-small /path/to/ml-100k
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import Settings
from core.data.enrich import movie_text
from core.data.loaders import load_catalog
from core.evaluation.signals import fit_content, subset_catalog
from core.evaluation.splits import stratified_split, temporal_leave_one_out
from core.signals.encoder import Encoder
from core.signals.ranking import make_ranker
from core.signals.semantic import SemanticScorer
from core.tuning import tune
from core.tuning.problems import QUERY_FIELDS, Problem
from core.tuning.search import default_weights


def _embeddings(catalog, settings: Settings) -> np.ndarray:  # type: ignore[no-untyped-def]
    encoder = Encoder(settings.embed_model, threads=2,
                      vector_cache=settings.cache_dir / "embeddings")  # fmt: skip
    scorer = SemanticScorer(settings, encoder=encoder)
    return np.asarray(scorer.fit(catalog, texts=movie_text(catalog.movies, long=False)).embeddings)


def _protocol(catalog, settings, embeddings, metric, train, test, seed):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    tuning = tune(subset_catalog(catalog, train), settings, embeddings, seed=seed, budget=1e9)
    seconds = time.perf_counter() - started
    users = np.unique(test["userId"].to_numpy())
    row = {"tune seconds": round(seconds, 1), "chosen": tuning.record()}
    for name, chosen, weights in (
        ("defaults", settings, default_weights()),
        ("tuned", tuning.apply(settings), tuning.weights),
    ):
        problem = Problem.make(name, metric, 10, catalog, train, test, users)
        problem.set_collab(make_ranker(problem.part, chosen).fit(problem.part))
        problem.set_content(fit_content(problem.part, chosen, embeddings), chosen.genre_weight)
        params = {f: getattr(chosen.ranker, f) for f in QUERY_FIELDS}
        row[name] = round(problem.value(params, weights), 4)
        row[f"{name}, collaborative alone"] = round(problem.value(params, {"collab": 1.0}), 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="MovieLens folders, or 'builtin'")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    settings = Settings()
    results = {}
    for folder in args.folders:
        catalog = load_catalog(folder, settings)
        embeddings = _embeddings(catalog, settings)
        train, test = stratified_split(catalog.ratings, 0.25, args.seed)
        before, second, latest = temporal_leave_one_out(catalog.ratings)
        results[folder] = {
            "stratified nDCG@10": _protocol(catalog, settings, embeddings, "ndcg", train, test,
                                            args.seed),
            "leave-one-out HitRate@10": _protocol(catalog, settings, embeddings, "hit",
                                                  pd.concat([before, second]), latest, args.seed),
        }  # fmt: skip
        for protocol, row in results[folder].items():
            alone = (row["defaults, collaborative alone"], row["tuned, collaborative alone"])
            print(f"{folder} | {protocol} | defaults {row['defaults']:.4f} | tuned "
                  f"{row['tuned']:.4f} | collaborative alone {alone[0]:.4f} -> {alone[1]:.4f}"
                  f" | tuning {row['tune seconds']} s", flush=True)  # fmt: skip
            print(f"    chosen: {json.dumps({k: row['chosen'][k] for k in ('ranker', 'weights')})}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
