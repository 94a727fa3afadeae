"""The ranking part: top-N figures of the blend, its signals and the baselines, two protocols.

Stratified 75/25 and temporal leave-one-out; recency and blend weights are tuned on validation
carved from the training part (:mod:`core.evaluation.tuning`), never on the test items.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.baselines import baseline_matrices
from core.evaluation.metrics import K, ranking_metrics
from core.evaluation.results import Section, quick_protocol
from core.evaluation.signals import (
    FittedSignals,
    blend_top,
    candidate_mask,
    fit_signals,
    held_out_truth,
    ranked_lists,
    signal_matrices,
    top_k,
)
from core.evaluation.splits import sample_users, stratified_split, temporal_leave_one_out
from core.evaluation.tuning import Tuned, collab_grid, collab_matrix, tune_on_validation
from core.progress import Progress, no_progress
from core.serving.blend import SIGNALS, Weights
from core.signals.base import Scorer

#: Users scored (for tuning and test) by ``evaluate --quick``: a seeded sample; the models are
#: still fitted on every user's training ratings.
QUICK_USERS = 200


def _users(test: pd.DataFrame, quick: bool, seed: int) -> tuple[np.ndarray, int]:
    """The users scored (all with a test item, or the quick sample) and how many there were."""
    users = np.unique(test["userId"].to_numpy())
    return sample_users(users, QUICK_USERS if quick else None, seed), len(users)


def _marked(protocol: str, quick: bool, users: np.ndarray, total: int, seed: int) -> str:
    if not quick:
        return protocol
    reduced = f"{len(users)} of the {total} users scored (random sample, seed {seed})"
    return quick_protocol(protocol, reduced)


def _plain_ranker(part: Catalog, settings: Settings) -> Scorer:
    """The public baseline: the same ranker without time windows or recency."""
    from core.signals.ranking import make_ranker

    plain = dataclasses.replace(
        settings.ranker, ease_window_weight=0.0, recency_decay=0.0, dislike_weight=0.5
    )
    return make_ranker(part, settings.replace(ranker=plain)).fit(part)


def _ranking_rows(
    fitted: FittedSignals,
    users: np.ndarray,
    train: pd.DataFrame,
    test: pd.DataFrame,
    tuned: Tuned,
    metrics: Iterable[str],
    defaults: Settings,
    baselines: Mapping[str, np.ndarray] | None = None,
    built: Mapping[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Test metrics of the baselines, the collaborative signal and the product's blend.

    ``fitted`` uses the recency chosen on validation; "product defaults" rows score with the
    ranker's default recency (``defaults``) and :class:`Weights` defaults. ``baselines``
    (from :func:`baseline_matrices`, fitted on the same training part) add a row each after
    the SVD row; ``built`` (from :func:`build_tuned_top`) adds the product as ``build`` makes
    it from the training part alone."""
    signals = signal_matrices(fitted, users, Weights().genre_weight)
    mask = candidate_mask(fitted.catalog, users, train)
    truth = held_out_truth(fitted.catalog, users, test)
    counts = fitted.scorers["popularity"].n_ratings.astype(np.float32)  # type: ignore[attr-defined]
    kind = fitted.scorers["collab"].__class__.__name__.removesuffix("Ranker")
    plain = FittedSignals(fitted.catalog, {"collab": _plain_ranker(fitted.catalog, defaults)})
    product = {name: getattr(defaults.ranker, name) for name in collab_grid()[0]}
    default_signals = {**signals, "collab": collab_matrix(fitted, users, product)}
    models = {
        "most popular": top_k(np.broadcast_to(counts, mask.shape), mask),
        "SVD ranked by predicted rating": top_k(signals["svd"], mask),
        **{name: top_k(scores, mask) for name, scores in (baselines or {}).items()},
        f"{kind}, plain (no time windows, no recency)": top_k(
            signal_matrices(plain, users, 0.5, ("collab",))["collab"], mask
        ),
        f"collaborative signal ({kind} + time windows, recency tuned)": top_k(
            signals["collab"], mask
        ),
        "blend, product defaults": blend_top(default_signals, Weights().as_dict(), mask),
        "blend, tuned on validation for this protocol": blend_top(signals, tuned.weights, mask),
        **(built or {}),
    }
    rows = []
    for model, top in models.items():
        scores = ranking_metrics(ranked_lists(users, top), truth, K)
        rows.append({"model": model, **{m: scores[m] for m in metrics}})
    return rows


#: Row label of the product as ``build`` makes it (tuned for both kinds of request at once).
BUILT_ROW = "product: build-time tuning on the training part (default recommend)"


def build_tuned_top(
    fitted: FittedSignals, users: np.ndarray, train: pd.DataFrame, settings: Settings,
    embeddings: np.ndarray, *, seed: int = 42, progress: Progress = no_progress,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:  # fmt: skip
    """Top-k of the default ``recommend`` of artifacts built from the training part: the
    build's own tuning (:func:`core.tuning.tune`, validation carved from ``train`` only) picks
    the collaborative settings and the weights. Returns ``{BUILT_ROW: top}`` and its record."""
    from core.signals.ranking import make_ranker
    from core.tuning import tune

    tuning = tune(fitted.catalog, settings, embeddings, seed=seed, progress=progress)
    ranker = make_ranker(fitted.catalog, tuning.apply(settings)).fit(fitted.catalog)
    content = signal_matrices(fitted, users, Weights().genre_weight,
                              [n for n in SIGNALS if n != "collab"])  # fmt: skip
    view = FittedSignals(fitted.catalog, {"collab": ranker})
    signals = {**content, **signal_matrices(view, users, Weights().genre_weight, ("collab",))}
    weights = Weights(**tuning.weights).as_dict() if tuning.tuned else Weights().as_dict()
    top = blend_top(signals, weights, candidate_mask(fitted.catalog, users, train))
    return {BUILT_ROW: top}, tuning.record()


def evaluate_ranking_stratified(
    catalog: Catalog, settings: Settings, embeddings: np.ndarray, *, seed: int = 42,
    quick: bool = False, progress: Progress = no_progress,
) -> Section:  # fmt: skip
    """Per-user stratified 75/25 split; weights tuned on a 75/25 split of the training part.
    ``quick`` scores a seeded sample of :data:`QUICK_USERS` users."""
    started = time.perf_counter()
    train, test = stratified_split(catalog.ratings, 0.25, seed)
    users, total = _users(test, quick, seed)
    progress("ranking (stratified): tuning recency and blend weights on validation", 0.1)
    inner_train, valid = stratified_split(train, 0.25, seed + 1)
    tuned = tune_on_validation(
        fit_signals(catalog, inner_train, settings, embeddings), users, valid, inner_train,
        f"nDCG@{K}",
    )  # fmt: skip
    progress("ranking (stratified): fitting on the training part", 0.6)
    fitted = fit_signals(catalog, train, tuned.settings(settings), embeddings)
    progress("ranking (stratified): public baselines", 0.75)
    baselines, baseline_settings = baseline_matrices(fitted.catalog, users, settings, seed=seed)
    progress("ranking (stratified): the product's build-time tuning", 0.85)
    built, build_choice = build_tuned_top(fitted, users, train, settings, embeddings, seed=seed)
    metrics = (f"nDCG@{K}", f"Recall@{K}", f"Precision@{K}", f"MAP@{K}")
    protocol = (
        f"Per-user stratified random split, 75% train / 25% test (seed {seed}); relevance = "
        f"any held-out movie; candidates exclude the user's training movies; {len(users)} users. "
        "Collaborative recency, then blend weights, chosen by nDCG@10 on a 75/25 split of the "
        "training part only. Public baselines (SVD, item-kNN, BPR, ALS) are fitted on the "
        "same training part with fixed settings and seeds."
    )
    section = Section(
        "ranking_stratified",
        _marked(protocol, quick, users, total, seed),
        _ranking_rows(fitted, users, train, test, tuned, metrics, settings, baselines, built),
        {
            **tuned.chosen(f"nDCG@{K}"),
            "baselines": baseline_settings,
            "build-time tuning": build_choice,
        },
    )
    section.seconds = time.perf_counter() - started
    return section


def evaluate_ranking_loo(
    catalog: Catalog,
    settings: Settings,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    quick: bool = False,
    progress: Progress = no_progress,
) -> Section:
    """Temporal leave-one-out: latest rating test, second latest validation, rest train.
    ``quick`` scores a seeded sample of :data:`QUICK_USERS` users."""
    started = time.perf_counter()
    train, valid, test = temporal_leave_one_out(catalog.ratings)
    users, total = _users(test, quick, seed)
    progress("ranking (leave-one-out): tuning recency and blend weights on validation", 0.1)
    tuned = tune_on_validation(
        fit_signals(catalog, train, settings, embeddings), users, valid, train, f"HitRate@{K}"
    )
    progress("ranking (leave-one-out): fitting on train + validation", 0.6)
    full_train = pd.concat([train, valid])
    fitted = fit_signals(catalog, full_train, tuned.settings(settings), embeddings)
    progress("ranking (leave-one-out): public baselines", 0.75)
    baselines, baseline_settings = baseline_matrices(fitted.catalog, users, settings)
    progress("ranking (leave-one-out): the product's build-time tuning", 0.85)
    built, build_choice = build_tuned_top(fitted, users, full_train, settings, embeddings,
                                          seed=seed)  # fmt: skip
    protocol = (
        "Temporal leave-one-out: each user's latest rating is the test item, the second latest "
        "the validation item, the rest train; candidates exclude the user's earlier movies; "
        f"{len(users)} users. Collaborative recency, then blend weights, chosen by HitRate@10 "
        "on the validation items with models fitted on train; test scored with models refitted "
        "on train + validation. Public baselines (SVD, item-kNN, BPR, ALS) are fitted on "
        "train + validation with fixed settings and seeds."
    )
    section = Section(
        "ranking_loo",
        _marked(protocol, quick, users, total, seed),
        _ranking_rows(
            fitted, users, full_train, test, tuned, (f"HitRate@{K}", f"nDCG@{K}"), settings,
            baselines, built,
        ),
        {**tuned.chosen(f"HitRate@{K}"), "baselines": baseline_settings,
         "build-time tuning": build_choice},
    )  # fmt: skip
    section.seconds = time.perf_counter() - started
    return section
