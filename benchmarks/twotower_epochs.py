"""Two-tower retrieval quality and fit time by number of epochs, on validation data only.

Usage: python benchmarks/twotower_epochs.py [--seed 42] [--epochs 12,8,6,4] [--data DIR]

Trains on the inner training part of the stratified protocol (``protocol_splits(...)[0]``, the
setup of the ablations in ``core/evaluation/models/twotower.py``) and scores the validation
part; the test ratings are never touched. Needs the data set's artifacts (for the movie
vectors): ``python -m core build`` first.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import Settings
from core.evaluation.models.protocols import KS, protocol_splits, recall_metrics
from core.evaluation.models.twotower import twotower_matrix
from core.evaluation.signals import candidate_mask, held_out_truth, subset_catalog, top_k
from core.serving.engine import Engine
from core.signals.twotower import TwoTowerConfig, TwoTowerRetrieval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", default="12,8,6,4")
    args = parser.parse_args()
    engine = Engine.open(args.data, Settings())
    catalog = engine.catalog
    vectors = np.asarray(engine.scorers["semantic"].embeddings)
    split = protocol_splits(catalog, args.seed)[0]
    part = subset_catalog(catalog, split.fit_valid)
    users = np.unique(split.valid["userId"].to_numpy())
    mask = candidate_mask(part, users, split.fit_valid)
    truth = held_out_truth(part, users, split.valid)
    print(f"seed {args.seed}: {len(users)} validation users")
    for epochs in (int(e) for e in args.epochs.split(",")):
        config = dataclasses.replace(TwoTowerConfig(), epochs=epochs)
        started = time.perf_counter()
        model = TwoTowerRetrieval(config).fit(part, vectors)
        seconds = time.perf_counter() - started
        metrics = recall_metrics(users, top_k(twotower_matrix(model, users), mask, max(KS)), truth)
        shown = "  ".join(f"{k} {metrics[k]:.4f}" for k in ("Recall@10", "Recall@50", "nDCG@10"))
        print(f"{epochs:>3} epochs  {shown}  fit {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
