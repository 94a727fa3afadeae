"""Cold start: ranking movies that lost every rating, by content signals and the two-tower model.

Movies are held out of training entirely and only they are ranked; nothing here is tuned on
the held-out ratings.
"""

from __future__ import annotations

import time

import numpy as np

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.models.protocols import KS, recall_metrics
from core.evaluation.models.twotower import train_twotower, twotower_matrix
from core.evaluation.results import Section
from core.evaluation.signals import held_out_truth, subset_catalog, top_k
from core.progress import Progress, no_progress
from core.signals.twotower import TwoTowerConfig

#: Share of the rated movies held out entirely in the cold-start protocol.
COLD_SHARE = 0.1


def evaluate_cold_start(
    catalog: Catalog,
    settings: Settings,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    config: TwoTowerConfig | None = None,
    progress: Progress = no_progress,
) -> Section:
    """Rank movies that have no rating at all in training (held out entirely)."""
    from core.signals.base import Query
    from core.signals.crew import CrewScorer
    from core.signals.genre_tag import GenreTagScorer
    from core.signals.metadata import MetadataScorer
    from core.signals.popularity import PopularityPrior
    from core.signals.semantic import SemanticScorer

    started = time.perf_counter()
    config = config or TwoTowerConfig()
    ratings = catalog.ratings
    rated = np.unique(ratings["movieId"].to_numpy())
    rng = np.random.default_rng(seed)
    cold_ids = rng.choice(rated, size=max(1, int(COLD_SHARE * len(rated))), replace=False)
    is_cold = ratings["movieId"].isin(cold_ids)
    train, held_out = ratings[~is_cold], ratings[is_cold]
    part = subset_catalog(catalog, train)
    users = np.intersect1d(np.unique(held_out["userId"]), part.user_ids)
    held_out = held_out[held_out["userId"].isin(users)]
    cold_items = part.items_for(cold_ids)
    mask = np.zeros((len(users), part.n_items), dtype=bool)
    mask[:, cold_items] = True  # rank only the cold movies: the warm ones would be easy wins
    truth = held_out_truth(part, users, held_out)
    progress("cold start: training the two-tower model without the held-out movies", 0.1)
    model = train_twotower(part, embeddings, config, progress, "cold start")
    semantic = SemanticScorer(settings).fit_embeddings(part, embeddings)
    scorers = {
        "popularity prior (TMDB votes for unrated movies)": PopularityPrior(settings).fit(part),
        "genre & tags": GenreTagScorer(settings).fit(part),
        "semantic (text embeddings)": semantic,
        "director & cast": CrewScorer().fit(part),
        "TMDB metadata + text": MetadataScorer().fit(part, semantic=semantic),
    }
    matrices: dict[str, np.ndarray] = {
        "random order (seeded)": np.random.default_rng(seed).random(mask.shape, dtype=np.float32)
    }
    for label, scorer in scorers.items():
        matrices[label] = np.vstack(
            [scorer.score(Query(user_id=int(u))).values for u in users.tolist()]
        )
    matrices["two-tower (movie tower sees content)"] = twotower_matrix(model, users)
    rows = []
    for label, matrix in matrices.items():
        finite = float(np.isfinite(matrix[:, cold_items]).mean())
        top = top_k(matrix, mask, max(KS))
        metrics = recall_metrics(users, top, truth)
        rows.append({"model": label, "Recall@10": metrics["Recall@10"],
                     "Recall@50": metrics["Recall@50"], "nDCG@10": metrics["nDCG@10"],
                     "cold movies scored": finite})  # fmt: skip
    section = Section(
        "twotower_cold_start",
        f"{len(cold_ids)} movies ({COLD_SHARE:.0%} of the rated ones, seed {seed}) lose every "
        "rating: models are trained on the rest; each of the "
        f"{len(users)} users who rated a held-out movie gets the held-out movies ranked "
        "(relevance = the ones they rated). The two-tower model scores them from content, "
        "year and TMDB figures alone; 'cold movies scored' is the share of finite scores.",
        rows,
        {"held-out ratings": len(held_out), "two-tower trained s": round(model.fit_seconds, 1)},
    )
    section.seconds = time.perf_counter() - started
    return section
