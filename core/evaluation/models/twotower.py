"""Two-tower retrieval helpers and its ablations, scored on validation data only.

Scores users x movies with a fitted two-tower model and compares configuration variants on the
stratified protocol's validation part; it must never score a variant on test ratings.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from core.data.catalog import Catalog
from core.evaluation.models.protocols import KS, protocol_splits, recall_metrics
from core.evaluation.results import Section
from core.evaluation.signals import candidate_mask, held_out_truth, subset_catalog, top_k
from core.progress import Progress, no_progress
from core.signals.twotower import TwoTowerConfig, TwoTowerRetrieval

#: Two-tower variants compared on validation data (the first is the product's config).
VARIANTS: dict[str, dict[str, Any]] = {
    "product: cosine, logQ, text profile, user id": {},
    "without the logQ correction": {"logq": False},
    "dot product instead of cosine": {"similarity": "dot"},
    "shared output layer": {"shared_layers": True},
    "without the user-id embedding": {"user_id_dim": 0},
    "without the liked-text profile": {"text_profile": False},
    "without cold-start dropout": {"cold_dropout": 0.0},
}


def twotower_matrix(model: TwoTowerRetrieval, users: np.ndarray) -> np.ndarray:
    """Scores (users x movies, float32) of a fitted two-tower model for known ``users``."""
    inputs, rows = model.training_users(users)
    return (model.user_vectors(inputs, rows) @ model.item_matrix.T).astype(np.float32)


def train_twotower(
    part: Catalog, embeddings: np.ndarray, config: TwoTowerConfig, progress: Progress, label: str
) -> TwoTowerRetrieval:
    """A two-tower model fitted on ``part``, its progress messages prefixed with ``label``."""
    return TwoTowerRetrieval(config).fit(
        part, embeddings, progress=lambda message, f: progress(f"{label}: {message}", f)
    )


def config_text(config: TwoTowerConfig) -> str:
    """The configuration in words, for a section's protocol."""
    return (
        f"{config.similarity}, logQ {'on' if config.logq else 'off'}, {config.dim}-d output, "
        f"{config.hidden} hidden, {config.epochs} epochs, batch {config.batch_size}, "
        f"seed {config.seed}"
    )


def evaluate_twotower_variants(
    catalog: Catalog,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    config: TwoTowerConfig | None = None,
    progress: Progress = no_progress,
) -> Section:
    """Each variant trained on the stratified protocol's inner training part and scored on
    its validation part (never on test): how the product's configuration was chosen."""
    started = time.perf_counter()
    config = config or TwoTowerConfig()
    split = protocol_splits(catalog, seed)[0]
    part = subset_catalog(catalog, split.fit_valid)
    users = np.unique(split.valid["userId"].to_numpy())
    mask = candidate_mask(part, users, split.fit_valid)
    truth = held_out_truth(part, users, split.valid)
    rows = []
    for number, (label, changes) in enumerate(VARIANTS.items()):
        progress(f"two-tower variant: {label}", number / len(VARIANTS))
        variant = dataclasses.replace(config, **changes)
        model = TwoTowerRetrieval(variant).fit(part, embeddings)
        top = top_k(twotower_matrix(model, users), mask, max(KS))
        metrics = recall_metrics(users, top, truth)
        rows.append({"model": label, **{k: metrics[k] for k in
                     ("Recall@10", "Recall@50", "Recall@100", "nDCG@10")},
                     "train_s": model.fit_seconds, "final loss": model.losses[-1]})  # fmt: skip
    section = Section(
        "twotower_variants",
        "Two-tower ablations on validation data only: trained on a 75/25 split of the "
        f"stratified protocol's training part (seed {seed + 1}), scored on the held-out 25%; "
        f"{len(users)} users. Product settings: {config_text(config)}.",
        rows,
    )
    section.seconds = time.perf_counter() - started
    return section
