"""Evaluation of the models beside the main blend (``python -m core evaluate --parts models``).

Two-tower retrieval under both ranking protocols (Recall@10/50/100, nDCG@10) next to EASE and
the blend, its ablations, movies held out of training entirely (cold start), the two-tower
rating regression against SVD (MAE, MAPE) on the temporal split, the vector index's recall
against exact search, the director & cast and TMDB-metadata signals inside the blend, and the
genre-cluster two-stage search against plain search. Splits, fitted signals, candidate masks
and metrics are :mod:`core.evaluation.runner`'s and :mod:`core.evaluation.metrics`' own; every weight or setting
chosen here is chosen on validation data carved out of the training part, never on test.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.serving.blend import Weights, normalise
from core.data.catalog import Catalog
from core.config import Settings
from core.signals.metadata import METADATA_WEIGHT
from core.evaluation.runner import (
    Section,
    _candidates,
    _fit_signals,
    _lists,
    _signal_matrices,
    _top_k,
    _truth,
    subset_catalog,
    weight_grid,
)
from core.evaluation.metrics import (
    ranking_metrics,
    rmse_mae,
    search_metrics,
    stratified_split,
    temporal_leave_one_out,
)
from core.signals.twotower import TwoTowerConfig, TwoTowerRating, TwoTowerRetrieval

Progress = Callable[[str, float], None]
KS = (10, 50, 100)
#: Weights tried for each extra signal on top of the tuned four-signal blend (collab = 1).
EXTRA_GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)
EXTRAS = ("crew", "metadata", "twotower")
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
#: Weights tried for director & cast / TMDB metadata on top of the default blend weights
#: (which sum to 1): the candidates for their own default weight.
DEFAULT_GRID = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)
#: Metadata shares (vs text similarity) of the TMDB-metadata signal tried on validation.
METADATA_SHARES = (0.0, 0.1, 0.3, 0.5, 0.7, 1.0)
#: Share of the rated movies held out entirely in the cold-start protocol.
COLD_SHARE = 0.1
LABELS = {"crew": "director & cast", "metadata": "TMDB metadata", "twotower": "two-tower"}


def _noop(message: str, fraction: float) -> None:
    return None


@dataclass
class _Split:
    """One ranking protocol: a validation stage and a test stage."""

    key: str
    fit_valid: pd.DataFrame
    valid: pd.DataFrame
    fit_test: pd.DataFrame
    test: pd.DataFrame
    metric: str  # what weights are tuned for
    protocol: str


def _splits(catalog: Catalog, seed: int) -> list[_Split]:
    train, test = stratified_split(catalog.ratings, 0.25, seed)
    inner, valid = stratified_split(train, 0.25, seed + 1)
    loo_train, loo_valid, loo_test = temporal_leave_one_out(catalog.ratings)
    return [
        _Split(
            "stratified", inner, valid, train, test, "nDCG@10",
            f"Per-user stratified 75/25 split (seed {seed}); relevance = any held-out movie; "
            "candidates exclude the user's training movies. Weights and settings chosen by "
            "nDCG@10 on a 75/25 split of the training part; test scored with models refitted "
            "on the whole training part.",
        ),
        _Split(
            "loo", loo_train, loo_valid, pd.concat([loo_train, loo_valid]), loo_test,
            "HitRate@10",
            "Temporal leave-one-out: each user's latest rating is the test item, the second "
            "latest validation. Weights chosen by HitRate@10 on the validation items with "
            "models fitted on the rest; test scored with models refitted on train + validation.",
        ),
    ]  # fmt: skip


def _metrics(users: np.ndarray, top: np.ndarray, truth: Mapping[int, set[int]]) -> dict[str, float]:
    """Recall@10/50/100, nDCG@10 and HitRate@10 from top-100 lists."""
    out: dict[str, float] = {}
    for k in KS:
        scores = ranking_metrics(_lists(users, top[:, :k]), truth, k)
        out[f"Recall@{k}"] = scores[f"Recall@{k}"]
        if k == 10:
            out["nDCG@10"] = scores["nDCG@10"]
            out["HitRate@10"] = scores["HitRate@10"]
    return out


def _top(scores: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """:func:`core.evaluation.runner._top_k` for any ``k`` (small catalogues have fewer movies)."""
    return _top_k(scores, mask, max(1, min(k, scores.shape[-1])))


def _normalised(signals: Mapping[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """Each signal z-normalised over the candidates, exactly as the blend does (NaN -> 0)."""
    return {
        name: np.nan_to_num(normalise(values, mask), nan=0.0) for name, values in signals.items()
    }


def _blend_top(
    norm: Mapping[str, np.ndarray], weights: Mapping[str, float], mask: np.ndarray, k: int
) -> np.ndarray:
    """Top ``k`` of the weighted sum of pre-normalised signals: the same ranking as
    :func:`core.serving.blend.blend_scores` (which only rescales the weights to sum 1)."""
    total = np.zeros(mask.shape, dtype=np.float32)
    for name, weight in weights.items():
        if weight > 0 and name in norm:
            total += np.float32(weight) * norm[name]
    return _top(total, mask, k)


def _twotower_matrix(model: TwoTowerRetrieval, users: np.ndarray) -> np.ndarray:
    inputs, rows = model.training_users(users)
    return (model.user_vectors(inputs, rows) @ model.item_matrix.T).astype(np.float32)


def _train_twotower(
    part: Catalog, embeddings: np.ndarray, config: TwoTowerConfig, progress: Progress, label: str
) -> TwoTowerRetrieval:
    return TwoTowerRetrieval(config).fit(
        part, embeddings, progress=lambda message, f: progress(f"{label}: {message}", f)
    )


# -- ranking: two-tower beside the blend, crew and metadata inside it ---------------------------
@dataclass
class _Stage:
    """Fitted signals of one stage (validation or test) as normalised users x items matrices."""

    users: np.ndarray
    mask: np.ndarray
    truth: dict[int, set[int]]
    raw: dict[str, np.ndarray]
    norm: dict[str, np.ndarray]
    counts: np.ndarray
    twotower: TwoTowerRetrieval
    quality: np.ndarray  # TMDB quality per movie (the metadata signal's metadata part)
    kind: str  # the collaborative ranker ("EASE" or "ALS")


def _stage(
    catalog: Catalog,
    fit: pd.DataFrame,
    held_out: pd.DataFrame,
    users: np.ndarray,
    settings: Settings,
    embeddings: np.ndarray,
    config: TwoTowerConfig,
    progress: Progress,
    label: str,
) -> _Stage:
    fitted = _fit_signals(catalog, fit, settings, embeddings)
    raw = _signal_matrices(fitted, users, Weights().genre_weight)
    model = _train_twotower(fitted.catalog, embeddings, config, progress, label)
    raw["twotower"] = _twotower_matrix(model, users)
    mask = _candidates(fitted.catalog, users, fit)
    counts = fitted.scorers["popularity"].n_ratings.astype(np.float32)  # type: ignore[attr-defined]
    quality = np.nan_to_num(fitted.scorers["metadata"].quality)  # type: ignore[attr-defined]
    kind = fitted.scorers["collab"].__class__.__name__.removesuffix("Ranker")
    return _Stage(users, mask, _truth(fitted.catalog, users, held_out), raw,
                  _normalised(raw, mask), counts, model, quality, kind)  # fmt: skip


def _value(stage: _Stage, weights: Mapping[str, float], metric: str) -> float:
    top = _blend_top(stage.norm, weights, stage.mask, 10)
    return ranking_metrics(_lists(stage.users, top), stage.truth, 10)[metric]


def _tune(stage: _Stage, metric: str) -> dict[str, Any]:
    """Base blend weights (the ranking part's grid), then each extra signal's weight on top."""
    best_base, best = weight_grid()[0], -1.0
    for weights in weight_grid():
        value = _value(stage, weights, metric)
        if value > best + 1e-9:
            best_base, best = weights, value
    chosen: dict[str, Any] = {"base": best_base, "base_value": best}
    for extra in EXTRAS:
        top_w, top_v = 0.0, best
        for w in EXTRA_GRID[1:]:
            value = _value(stage, {**best_base, extra: w}, metric)
            if value > top_v + 1e-9:
                top_w, top_v = w, value
        chosen[extra] = (top_w, top_v)
    crew_meta = (0.0, 0.0, best)
    for c, m in itertools.product(EXTRA_GRID, EXTRA_GRID):
        value = _value(stage, {**best_base, "crew": c, "metadata": m}, metric)
        if value > crew_meta[2] + 1e-9:
            crew_meta = (c, m, value)
    chosen["crew+metadata"] = crew_meta
    chosen["on defaults"] = {
        extra: {w: _value(stage, {**_defaults(), extra: w}, metric) for w in DEFAULT_GRID}
        for extra in ("crew", "metadata")
    }
    # The metadata signal's own share of TMDB reception vs text similarity: ranked alone.
    z_text = np.nan_to_num(normalise(stage.raw["semantic"], np.ones_like(stage.mask)), nan=0.0)
    shares = {}
    for share in METADATA_SHARES:
        matrix = (1 - share) * z_text + share * stage.quality[None, :]
        top = _top(matrix, stage.mask, 10)
        shares[share] = round(ranking_metrics(_lists(stage.users, top), stage.truth, 10)[metric], 4)
    chosen["metadata shares"] = shares
    return chosen


def _defaults() -> dict[str, float]:
    """The product's default blend weights without the two extra signals."""
    return {**Weights().as_dict(), "crew": 0.0, "metadata": 0.0}


def _default_weight(valid: Mapping[str, Mapping[float, float]]) -> tuple[float, dict[str, float]]:
    """The extra signal's weight on the default blend with the best worst-protocol relative
    validation gain (0 unless it helps somewhere and hurts nowhere), and those gains."""
    gains = {
        w: min(values[w] / max(values[0.0], 1e-12) - 1.0 for values in valid.values())
        for w in DEFAULT_GRID
    }
    best = max(DEFAULT_GRID, key=lambda w: (round(gains[w], 6), -w))
    return (best if gains[best] > 1e-6 else 0.0), {str(w): round(g, 4) for w, g in gains.items()}


def _share(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values()) or 1.0
    return {name: round(w / total, 4) for name, w in weights.items() if w > 0}


def evaluate_ranking_models(
    catalog: Catalog,
    settings: Settings,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    config: TwoTowerConfig | None = None,
    progress: Progress = _noop,
) -> list[Section]:
    """Two-tower retrieval beside EASE and the blend, and the extra signals in the blend,
    under both ranking protocols (sections ``twotower_ranking_*`` and ``crew_metadata``)."""
    config = config or TwoTowerConfig()
    all_started = time.perf_counter()
    sections: list[Section] = []
    crew_rows: list[dict[str, Any]] = []
    verdicts: dict[str, str] = {}
    crew_chosen: dict[str, Any] = {}
    on_defaults: dict[str, dict[str, Any]] = {"crew": {}, "metadata": {}}
    for number, split in enumerate(_splits(catalog, seed)):
        started = time.perf_counter()
        users = np.unique(split.test["userId"].to_numpy())
        base = number / 2
        progress(f"models ({split.key}): validation fits", base + 0.05)
        valid = _stage(
            catalog, split.fit_valid, split.valid, users, settings, embeddings, config,
            lambda m, f, b=base: progress(m, b + 0.1 + 0.1 * f), "validation",
        )  # fmt: skip
        chosen = _tune(valid, split.metric)
        del valid
        progress(f"models ({split.key}): test fits", base + 0.3)
        test = _stage(
            catalog, split.fit_test, split.test, users, settings, embeddings, config,
            lambda m, f, b=base: progress(m, b + 0.3 + 0.15 * f), "test",
        )  # fmt: skip

        def row(model: str, top: np.ndarray, t: _Stage = test, **extra: Any) -> dict[str, Any]:
            return {"model": model, **extra, **_metrics(t.users, top, t.truth)}

        k = max(KS)
        base_w = chosen["base"]
        tt_w, tt_valid = chosen["twotower"]
        popular = np.broadcast_to(test.counts, test.mask.shape)
        rows = [
            row("most popular", _top(popular, test.mask, k)),
            row(f"collaborative signal ({test.kind} + time windows, default recency)",
                _top(test.raw["collab"], test.mask, k)),
            row("blend, default weights", _blend_top(test.norm, Weights().as_dict(), test.mask, k)),
            row("blend, weights tuned on validation (default recency)",
                _blend_top(test.norm, base_w, test.mask, k)),
            row("two-tower alone", _top(test.raw["twotower"], test.mask, k)),
            row(f"blend (default recency) + two-tower (weight {tt_w} tuned on validation)",
                _blend_top(test.norm, {**base_w, "twotower": tt_w}, test.mask, k)),
        ]  # fmt: skip
        keep = ["model", "Recall@10", "Recall@50", "Recall@100", "nDCG@10"]
        if split.key == "loo":
            keep.append("HitRate@10")
        section = Section(
            f"twotower_ranking_{split.key}",
            split.protocol + f" {len(users)} users. Two-tower: {_config_text(config)}; trained "
            f"in {test.twotower.fit_seconds:.0f} s on the test stage's training part. The "
            "collaborative signal keeps the product's default recency here (the ranking part "
            "tunes it), so these rows differ from ranking_stratified / ranking_loo.",
            [{c: r[c] for c in keep} for r in rows],
            {"blend weights": _share(base_w), "two-tower weight in the blend": tt_w,
             f"validation {split.metric}": {"blend": round(chosen["base_value"], 4),
                                             "blend + two-tower": round(tt_valid, 4)},
             "two-tower loss per epoch": [round(v, 3) for v in test.twotower.losses]},
        )  # fmt: skip
        section.seconds = time.perf_counter() - started
        sections.append(section)

        # Director & cast and metadata: alone, and added to the tuned blend.
        metric = split.metric
        tuned_test = _metrics(users, _blend_top(test.norm, base_w, test.mask, 10), test.truth)
        crew_rows.append({"protocol": split.key, "model": "blend, tuned (4 signals)",
                          "weight": 0.0, f"validation {metric}": chosen["base_value"],
                          **_pick(tuned_test, metric)})  # fmt: skip
        for extra in ("crew", "metadata"):
            w, v = chosen[extra]
            top = _blend_top(test.norm, {**base_w, extra: w}, test.mask, 10)
            crew_rows.append({"protocol": split.key, "model": f"blend + {LABELS[extra]}",
                              "weight": w, f"validation {metric}": v,
                              **_pick(_metrics(users, top, test.truth), metric)})  # fmt: skip
        c, m, v = chosen["crew+metadata"]
        top = _blend_top(test.norm, {**base_w, "crew": c, "metadata": m}, test.mask, 10)
        crew_rows.append({"protocol": split.key, "model": f"blend + both (crew {c}, metadata {m})",
                          "weight": c + m, f"validation {metric}": v,
                          **_pick(_metrics(users, top, test.truth), metric)})  # fmt: skip
        for extra in ("crew", "metadata"):
            top = _top(test.raw[extra], test.mask, 10)
            crew_rows.append({"protocol": split.key, "model": f"{LABELS[extra]} alone",
                              **_pick(_metrics(users, top, test.truth), metric)})  # fmt: skip
        for extra in ("crew", "metadata"):
            w, v = chosen[extra]
            gain = v - chosen["base_value"]
            verdicts[f"{extra} ({split.key})"] = (
                f"helps: weight {w} adds {gain:+.4f} validation {metric}" if w > 0
                else f"does not help: no weight beat the blend without it on validation {metric}"
            )  # fmt: skip
        for extra in ("crew", "metadata"):
            tests = {}
            for w in DEFAULT_GRID:
                top = _blend_top(test.norm, {**_defaults(), extra: w}, test.mask, 10)
                tests[w] = _pick(_metrics(users, top, test.truth), metric)
            on_defaults[extra][split.key] = (metric, chosen["on defaults"][extra], tests)
        crew_chosen[split.key] = {
            "base weights": _share(base_w),
            f"metadata signal alone, validation {metric} by metadata share": chosen[
                "metadata shares"
            ],
        }
        del test
    recommended: dict[str, Any] = {}
    for number, (extra, per_split) in enumerate(on_defaults.items()):
        weight, gains = _default_weight({key: v[1] for key, v in per_split.items()})
        recommended[extra] = {
            "weight": weight,
            "worst-protocol validation gain by weight": gains,
            **{f"validation {v[0]} ({key})": {str(w): round(x, 4) for w, x in v[1].items()}
               for key, v in per_split.items()},
        }  # fmt: skip
        for key, (metric, valid_values, tests) in per_split.items():
            # The plain default blend once per protocol, then each signal at its chosen weight.
            for w in dict.fromkeys((0.0, weight) if number == 0 else (weight,)):
                if w == 0 and number > 0:
                    continue
                label = "blend, default weights" + (f" + {LABELS[extra]} {w}" if w else "")
                crew_rows.append({"protocol": key, "model": label, "weight": w,
                                  f"validation {metric}": valid_values[w], **tests[w]})  # fmt: skip
    crew = Section(
        "crew_metadata",
        "Each extra signal added to the four-signal blend tuned on validation (collaborative "
        f"weight 1, extra weight from {list(EXTRA_GRID)} chosen on validation), and alone; "
        "the same two protocols as the ranking part. Director & cast = overlap of directors and "
        "the top-4 billed actors with the liked movies; TMDB metadata = z-scored popularity, "
        "damped vote average and vote count blended with text similarity (metadata share "
        f"{METADATA_WEIGHT}). The 'default weights' rows add each signal to the product's "
        f"default blend with the weight from {list(DEFAULT_GRID)} whose worst relative "
        "validation gain over both protocols is best (0 when it hurts either). Columns are test "
        "figures except the validation ones. The collaborative signal keeps the product's "
        "default recency. Its time is that of both protocols' fits and tuning, which it shares "
        "with the two-tower ranking sections.",
        crew_rows,
        {
            "verdict": verdicts,
            "default weight (validation, both protocols)": recommended,
            **crew_chosen,
        },
    )
    crew.seconds = time.perf_counter() - all_started
    sections.append(crew)
    return sections


def _pick(metrics: Mapping[str, float], metric: str) -> dict[str, float]:
    names = ["nDCG@10", "Recall@10"] if metric == "nDCG@10" else ["HitRate@10", "nDCG@10"]
    return {name: metrics[name] for name in names}


def _config_text(config: TwoTowerConfig) -> str:
    return (
        f"{config.similarity}, logQ {'on' if config.logq else 'off'}, {config.dim}-d output, "
        f"{config.hidden} hidden, {config.epochs} epochs, batch {config.batch_size}, "
        f"seed {config.seed}"
    )


# -- two-tower ablations on validation ----------------------------------------------------------
def evaluate_twotower_variants(
    catalog: Catalog,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    config: TwoTowerConfig | None = None,
    progress: Progress = _noop,
) -> Section:
    """Each variant trained on the stratified protocol's inner training part and scored on
    its validation part (never on test): how the product's configuration was chosen."""
    started = time.perf_counter()
    config = config or TwoTowerConfig()
    split = _splits(catalog, seed)[0]
    part = subset_catalog(catalog, split.fit_valid)
    users = np.unique(split.valid["userId"].to_numpy())
    mask = _candidates(part, users, split.fit_valid)
    truth = _truth(part, users, split.valid)
    rows = []
    for number, (label, changes) in enumerate(VARIANTS.items()):
        progress(f"two-tower variant: {label}", number / len(VARIANTS))
        variant = dataclasses.replace(config, **changes)
        model = TwoTowerRetrieval(variant).fit(part, embeddings)
        top = _top(_twotower_matrix(model, users), mask, max(KS))
        metrics = _metrics(users, top, truth)
        rows.append({"model": label, **{k: metrics[k] for k in
                     ("Recall@10", "Recall@50", "Recall@100", "nDCG@10")},
                     "train_s": model.fit_seconds, "final loss": model.losses[-1]})  # fmt: skip
    section = Section(
        "twotower_variants",
        "Two-tower ablations on validation data only: trained on a 75/25 split of the "
        f"stratified protocol's training part (seed {seed + 1}), scored on the held-out 25%; "
        f"{len(users)} users. Product settings: {_config_text(config)}.",
        rows,
    )
    section.seconds = time.perf_counter() - started
    return section


# -- cold start ---------------------------------------------------------------------------------
def evaluate_cold_start(
    catalog: Catalog,
    settings: Settings,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    config: TwoTowerConfig | None = None,
    progress: Progress = _noop,
) -> Section:
    """Rank movies that have no rating at all in training (held out entirely)."""
    from core.signals.genre_tag import GenreTagScorer
    from core.signals.crew import CrewScorer
    from core.signals.metadata import MetadataScorer
    from core.signals.semantic import SemanticScorer
    from core.signals.popularity import PopularityPrior
    from core.signals.base import Query

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
    truth = _truth(part, users, held_out)
    progress("cold start: training the two-tower model without the held-out movies", 0.1)
    model = _train_twotower(part, embeddings, config, progress, "cold start")
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
    matrices["two-tower (movie tower sees content)"] = _twotower_matrix(model, users)
    rows = []
    for label, matrix in matrices.items():
        finite = float(np.isfinite(matrix[:, cold_items]).mean())
        top = _top(matrix, mask, max(KS))
        metrics = _metrics(users, top, truth)
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


# -- rating regression --------------------------------------------------------------------------
def _rating_errors(est: np.ndarray, truth: np.ndarray, scale: tuple[float, float]) -> dict:
    est = np.clip(np.asarray(est, dtype=np.float64), *scale)
    rmse, mae = rmse_mae(est, truth)
    return {"MAE": mae, "MAPE %": float(np.mean(np.abs(est - truth) / truth) * 100), "RMSE": rmse}


def evaluate_rating_models(
    catalog: Catalog,
    settings: Settings,
    embeddings: np.ndarray,
    *,
    progress: Progress = _noop,
) -> Section:
    """Two-tower rating regression against SVD and the product's stacked rating model on the
    temporal leave-one-out split."""
    from core.signals.rating import SVDRating
    from core.signals.rating import RatingModel

    started = time.perf_counter()
    train, valid, test = temporal_leave_one_out(catalog.ratings)
    part = subset_catalog(catalog, train)
    scale = catalog.report.rating_scale
    truth = test["rating"].to_numpy(dtype=np.float64)
    users, movies = test["userId"].to_numpy(), test["movieId"].to_numpy()
    rows = [{"model": "global mean", **_rating_errors(np.full(len(test), train["rating"].mean()),
                                                      truth, scale), "fit_s": 0.0}]  # fmt: skip
    progress("two-tower rating: SVD baseline", 0.05)
    t0 = time.perf_counter()
    svd = SVDRating(settings).fit(part)
    rows.append({"model": "SVD (Surprise, tuned settings)",
                 **_rating_errors(svd.estimate(users, movies), truth, scale),
                 "fit_s": time.perf_counter() - t0})  # fmt: skip
    progress("two-tower rating: the product's stacked rating model", 0.08)
    t0 = time.perf_counter()
    stacked = RatingModel(settings).fit(part)
    rows.append({"model": "product rating model (SVD + item/user kNN, stacked)",
                 **_rating_errors(stacked.estimate(users, movies), truth, scale),
                 "fit_s": time.perf_counter() - t0})  # fmt: skip
    chosen: dict[str, Any] = {}
    for number, (label, model) in enumerate(
        (
            ("two-tower rating (product: id embeddings, dot + dense)", TwoTowerRating()),
            ("two-tower rating, features only (no id embedding)",
             TwoTowerRating(dataclasses.replace(TwoTowerRating().config, user_id_dim=0))),
        )
    ):  # fmt: skip
        model.fit(part, embeddings, valid=valid,
                  progress=lambda m, f, n=number: progress(m, 0.1 + 0.45 * (n + f)))  # fmt: skip
        rows.append({"model": label, **_rating_errors(model.estimate(users, movies), truth, scale),
                     "fit_s": model.fit_seconds})  # fmt: skip
        chosen[label] = {
            "epoch kept (lowest validation MAE)": model.best_epoch,
            "validation MAE": round(min(model.valid_losses) * scale[1], 4),
        }
    section = Section(
        "twotower_rating",
        "Temporal leave-one-out: each user's latest rating is the test item, the second latest "
        "the validation item (used only to stop the two-tower training at its best epoch), the "
        f"rest train; {len(test)} test ratings. The two-tower model predicts rating / "
        f"{scale[1]:g} in [{scale[0] / scale[1]:.1f}, 1] through a dense output on the towers' "
        "dot product, trained with mean absolute error. MAPE = mean |error| / true rating.",
        rows,
        chosen,
    )
    section.seconds = time.perf_counter() - started
    return section


# -- vector index -------------------------------------------------------------------------------
def evaluate_ann(
    catalog: Catalog,
    model: TwoTowerRetrieval,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    progress: Progress = _noop,
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


# -- genre clusters -----------------------------------------------------------------------------
def evaluate_cluster_search(
    engine: Any, queries: list[dict[str, Any]], *, progress: Progress = _noop
) -> Section:
    """Two-stage search (nearest genre clusters, then movies inside) against plain search."""
    from core.serving.blend import Filters
    from core.search.clusters import GenreClusters
    from core.search.request import parse_request

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


# -- driver -------------------------------------------------------------------------------------
def evaluate_models(
    engine: Any,
    settings: Settings,
    *,
    queries: list[dict[str, Any]] | None = None,
    progress: Progress = _noop,
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
