"""The "models" evaluation part (``--parts models``): the models beside the main blend.

Two-tower retrieval and rating, cold start, the vector index, director & cast / TMDB metadata in
the blend and genre-cluster search, one module each; this file only runs them in order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.config import Settings
from core.evaluation.models.ann import evaluate_ann
from core.evaluation.models.blend_models import evaluate_ranking_models
from core.evaluation.models.clusters import evaluate_cluster_search
from core.evaluation.models.cold_start import evaluate_cold_start
from core.evaluation.models.twotower import evaluate_twotower_variants
from core.evaluation.models.twotower_rating import evaluate_rating_models
from core.evaluation.results import Section
from core.progress import Progress, no_progress
from core.signals.twotower import TwoTowerRetrieval


def evaluate_models(
    engine: Any,
    settings: Settings,
    *,
    queries: list[dict[str, Any]] | None = None,
    progress: Progress = no_progress,
) -> dict[str, Section]:
    """Every section of the "models" part (cluster search only with ``queries``)."""
    catalog = engine.catalog
    embeddings = np.asarray(engine.scorers["semantic"].embeddings, dtype=np.float32)

    def part(start: float, span: float) -> Progress:
        return lambda message, f: progress(message, start + span * max(0.0, min(1.0, f)))

    sections: dict[str, Section] = {}
    for section in evaluate_ranking_models(catalog, settings, embeddings,
                                           progress=part(0.0, 0.5)):  # fmt: skip
        sections[section.name] = section
    sections["twotower_variants"] = evaluate_twotower_variants(
        catalog, embeddings, progress=part(0.5, 0.15)
    )
    sections["twotower_cold_start"] = evaluate_cold_start(
        catalog, settings, embeddings, progress=part(0.65, 0.1)
    )
    sections["twotower_rating"] = evaluate_rating_models(
        catalog, settings, embeddings, progress=part(0.75, 0.12)
    )
    model = engine.scorers.get("twotower")
    if model is None:
        model = TwoTowerRetrieval().fit(catalog, embeddings)
    sections["ann_recall"] = evaluate_ann(catalog, model, embeddings, progress=part(0.87, 0.03))
    if queries:
        sections["cluster_search"] = evaluate_cluster_search(
            engine, queries, progress=part(0.9, 0.1)
        )
    return sections
