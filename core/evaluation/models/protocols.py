"""The two ranking protocols of the "models" part and the top-N figures they report.

Shared by the two-tower, blend, cold-start modules of this package: splits and Recall/nDCG/
HitRate of top-100 lists; nothing here fits a model or chooses a weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.catalog import Catalog
from core.evaluation.metrics import ranking_metrics
from core.evaluation.signals import ranked_lists
from core.evaluation.splits import stratified_split, temporal_leave_one_out

#: Cut-offs of the Recall figures (the lists are top-100).
KS = (10, 50, 100)


@dataclass
class ProtocolSplit:
    """One ranking protocol: a validation stage and a test stage."""

    key: str
    fit_valid: pd.DataFrame
    valid: pd.DataFrame
    fit_test: pd.DataFrame
    test: pd.DataFrame
    metric: str  # what weights are tuned for
    protocol: str


def protocol_splits(catalog: Catalog, seed: int) -> list[ProtocolSplit]:
    """The stratified 75/25 and temporal leave-one-out protocols, each with validation carved
    from its training part (the same splits as the ranking part's)."""
    train, test = stratified_split(catalog.ratings, 0.25, seed)
    inner, valid = stratified_split(train, 0.25, seed + 1)
    loo_train, loo_valid, loo_test = temporal_leave_one_out(catalog.ratings)
    return [
        ProtocolSplit(
            "stratified", inner, valid, train, test, "nDCG@10",
            f"Per-user stratified 75/25 split (seed {seed}); relevance = any held-out movie; "
            "candidates exclude the user's training movies. Weights and settings chosen by "
            "nDCG@10 on a 75/25 split of the training part; test scored with models refitted "
            "on the whole training part.",
        ),
        ProtocolSplit(
            "loo", loo_train, loo_valid, pd.concat([loo_train, loo_valid]), loo_test,
            "HitRate@10",
            "Temporal leave-one-out: each user's latest rating is the test item, the second "
            "latest validation. Weights chosen by HitRate@10 on the validation items with "
            "models fitted on the rest; test scored with models refitted on train + validation.",
        ),
    ]  # fmt: skip


def recall_metrics(
    users: np.ndarray, top: np.ndarray, truth: Mapping[int, set[int]]
) -> dict[str, float]:
    """Recall@10/50/100, nDCG@10 and HitRate@10 from top-100 lists."""
    out: dict[str, float] = {}
    for k in KS:
        scores = ranking_metrics(ranked_lists(users, top[:, :k]), truth, k)
        out[f"Recall@{k}"] = scores[f"Recall@{k}"]
        if k == 10:
            out["nDCG@10"] = scores["nDCG@10"]
            out["HitRate@10"] = scores["HitRate@10"]
    return out
