"""Offline evaluation: rating prediction, top-N ranking (two protocols) and search.

``python -m core evaluate`` runs it; results go to ``artifacts/<dataset>/evaluation/*.json``
(read by the app's Evaluation page) and a table on stdout. Every hyper-parameter or blend
weight chosen here is chosen on validation data carved from the training part, never on test.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.blend import SIGNALS, Weights, blend_scores
from core.catalog import Catalog
from core.config import Settings
from core.metrics import (
    ranking_metrics,
    rmse_mae,
    search_metrics,
    stratified_split,
    temporal_leave_one_out,
)
from core.scoring import Query, Scorer

Progress = Callable[[str, float], None]
K = 10


def _noop(message: str, fraction: float) -> None:
    return None


@dataclass
class Section:
    """One evaluation table: rows of metrics per model, with the protocol stated."""

    name: str
    protocol: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    chosen: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the Evaluation page."""
        return {
            "name": self.name,
            "protocol": self.protocol,
            "rows": self.rows,
            "chosen": self.chosen,
            "seconds": round(self.seconds, 1),
        }


def subset_catalog(catalog: Catalog, ratings: pd.DataFrame) -> Catalog:
    """The same movies and tags with only some ratings (a training part)."""
    return Catalog(catalog.name, catalog.movies, ratings.reset_index(drop=True), catalog.tags,
                   catalog.report)  # fmt: skip


# -- rating prediction --------------------------------------------------------------------------
def evaluate_rating(
    catalog: Catalog,
    settings: Settings,
    *,
    folds: int = 5,
    seed: int = 42,
    progress: Progress = _noop,
) -> Section:
    """K-fold cross-validation of the rating predictor against Surprise baselines."""
    from sklearn.model_selection import KFold
    from surprise import SVD, BaselineOnly, Dataset, Reader

    from core.rating import RatingModel, component_estimates

    started = time.perf_counter()
    ratings = catalog.ratings.reset_index(drop=True)
    weights: list[list[float]] = []
    scale = catalog.report.rating_scale
    results: dict[str, list[tuple[float, float, float]]] = {}

    def add(model: str, est: np.ndarray, truth: np.ndarray, seconds: float) -> None:
        rmse, mae = rmse_mae(np.clip(est, *scale), truth)
        results.setdefault(model, []).append((rmse, mae, seconds))

    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train_idx, test_idx) in enumerate(splitter.split(ratings)):
        progress(f"rating fold {fold + 1}/{folds}", fold / folds)
        train, test = ratings.iloc[train_idx], ratings.iloc[test_idx]
        truth = test["rating"].to_numpy(dtype=np.float64)
        add("global mean", np.full(len(test), train["rating"].mean()), truth, 0.0)

        data = Dataset.load_from_df(
            train[["userId", "movieId", "rating"]], Reader(rating_scale=scale)
        ).build_full_trainset()
        pairs = list(zip(test["userId"], test["movieId"], truth, strict=True))
        for label, algo in (
            ("damped user+item biases (Surprise BaselineOnly)", BaselineOnly(verbose=False)),
            ("Surprise SVD, defaults", SVD(random_state=seed)),
        ):
            t0 = time.perf_counter()
            algo.fit(data)
            seconds = time.perf_counter() - t0
            add(label, np.array([p.est for p in algo.test(pairs)]), truth, seconds)

        # The product fits its components twice (on 85% to learn the blend weights on the
        # rest, then on everything); the component rows use those final fits.
        t0 = time.perf_counter()
        model = RatingModel(settings).fit(subset_catalog(catalog, train))
        seconds = time.perf_counter() - t0
        users, movies = test["userId"].to_numpy(), test["movieId"].to_numpy()
        svd_est = model.svd.estimate(users, movies)
        add("SVD, tuned (component)", svd_est, truth, model.svd.fit_seconds)
        if model.knn is not None:
            _, knn_est, possible = component_estimates(model.svd, model.knn, users, movies)
            knn_est = np.where(possible, knn_est, svd_est)  # SVD's fallbacks elsewhere
            add("item kNN with baselines (component)", knn_est, truth, model.knn.fit_seconds)
        est = model.estimate(users, movies)
        add("SVD + item kNN, stacked (product)", est, truth, seconds)
        weights.append([round(float(w), 4) for w in model.weights])

    section = Section(
        "rating",
        f"{folds}-fold cross-validation over all ratings (shuffled, seed {seed}); RMSE and MAE "
        "of predictions clipped to the rating scale; fit seconds per fold.",
    )
    for model, values in results.items():
        arr = np.array(values)
        section.rows.append(
            {
                "model": model,
                "RMSE": float(arr[:, 0].mean()),
                "MAE": float(arr[:, 1].mean()),
                "fit_s": float(arr[:, 2].mean()),
            }
        )
    section.chosen = {
        "svd": settings.svd.__dict__,
        "rating": settings.rating.__dict__,
        "blend weights per fold (intercept, SVD, kNN)": weights,
    }
    section.seconds = time.perf_counter() - started
    return section


# -- top-N ranking ------------------------------------------------------------------------------
@dataclass
class _Fitted:
    """Scorers fitted on one training part, and the users' training items."""

    catalog: Catalog
    scorers: dict[str, Scorer]


def _fit_signals(
    catalog: Catalog, train: pd.DataFrame, settings: Settings, embeddings: np.ndarray
) -> _Fitted:
    from core.collab import SVDRating, make_ranker
    from core.content import GenreTagScorer
    from core.embeddings import SemanticScorer
    from core.prior import PopularityPrior

    part = subset_catalog(catalog, train)
    scorers: dict[str, Scorer] = {
        "collab": make_ranker(part, settings).fit(part),
        "genre_tag": GenreTagScorer(settings).fit(part),
        "semantic": SemanticScorer(settings).fit_embeddings(part, embeddings),
        "popularity": PopularityPrior(settings).fit(part),
        "svd": SVDRating(settings).fit(part),
    }
    return _Fitted(part, scorers)


def _signal_matrices(
    fitted: _Fitted, users: np.ndarray, genre_weight: float
) -> dict[str, np.ndarray]:
    """Raw scores of every signal for every user (users x items, float32)."""
    out = {name: np.empty((len(users), fitted.catalog.n_items), np.float32)
           for name in (*SIGNALS, "svd")}  # fmt: skip
    for row, user in enumerate(users.tolist()):
        query = Query(user_id=int(user))
        for name in out:
            scorer = fitted.scorers[name]
            if name == "genre_tag":
                values = scorer.score(query, genre_weight=genre_weight).values  # type: ignore[call-arg]
            else:
                values = scorer.score(query).values
            out[name][row] = values
    return out


def _candidates(catalog: Catalog, users: np.ndarray, train: pd.DataFrame) -> np.ndarray:
    """users x items mask: True where the movie is not in the user's training ratings."""
    mask = np.ones((len(users), catalog.n_items), dtype=bool)
    row_of = {int(u): r for r, u in enumerate(users.tolist())}
    rows = train["userId"].map(row_of)
    keep = rows.notna().to_numpy()
    cols = catalog.items_for(train["movieId"].to_numpy()[keep])
    mask[rows.to_numpy()[keep].astype(np.int64), cols] = False
    return mask


def _top_k(scores: np.ndarray, mask: np.ndarray, k: int = K) -> np.ndarray:
    """Top ``k`` item indices per row among candidates, best first."""
    values = np.where(mask & np.isfinite(scores), scores, -np.inf)
    part = np.argpartition(-values, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(values, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    finite = np.isfinite(np.take_along_axis(values, top, axis=1))
    return np.where(finite, top, -1)


def _truth(catalog: Catalog, users: np.ndarray, held_out: pd.DataFrame) -> dict[int, set[int]]:
    items = catalog.items_for(held_out["movieId"].to_numpy())
    truth: dict[int, set[int]] = {int(u): set() for u in users.tolist()}
    for user, item in zip(held_out["userId"].tolist(), items.tolist(), strict=True):
        if user in truth:
            truth[user].add(item)
    return truth


def _lists(users: np.ndarray, top: np.ndarray) -> dict[int, list[int]]:
    return {int(u): [int(i) for i in row if i >= 0] for u, row in zip(users, top, strict=True)}


def _blend_top(
    signals: Mapping[str, np.ndarray], weights: Mapping[str, float], mask: np.ndarray
) -> np.ndarray:
    blended = blend_scores({n: signals[n] for n in SIGNALS}, dict(weights), mask).final
    return _top_k(blended, mask)


def weight_grid() -> list[dict[str, float]]:
    """Blend weights tried on validation data (collaborative always present)."""
    grid = []
    for genre_tag, semantic, popularity in itertools.product(
        (0.0, 0.02, 0.05, 0.1, 0.2), (0.0, 0.02, 0.05, 0.1, 0.2), (0.0, 0.02, 0.05, 0.1, 0.2)
    ):
        grid.append(
            {"collab": 1.0, "genre_tag": genre_tag, "semantic": semantic, "popularity": popularity}
        )
    return grid


def tune_weights(
    fitted: _Fitted, users: np.ndarray, valid: pd.DataFrame, train: pd.DataFrame, metric: str
) -> tuple[dict[str, float], float]:
    """Blend weights maximising ``metric`` on the validation part (models fitted on train)."""
    signals = _signal_matrices(fitted, users, Weights().genre_weight)
    mask = _candidates(fitted.catalog, users, train)
    truth = _truth(fitted.catalog, users, valid)
    best, best_value = weight_grid()[0], -1.0
    for weights in weight_grid():
        value = ranking_metrics(_lists(users, _blend_top(signals, weights, mask)), truth, K)[metric]
        if value > best_value + 1e-9:
            best, best_value = weights, value
    total = sum(best.values())
    return {name: round(w / total, 4) for name, w in best.items()}, best_value


def _ranking_rows(
    fitted: _Fitted,
    users: np.ndarray,
    train: pd.DataFrame,
    test: pd.DataFrame,
    tuned: Mapping[str, float],
    metrics: Iterable[str],
) -> list[dict[str, Any]]:
    signals = _signal_matrices(fitted, users, Weights().genre_weight)
    mask = _candidates(fitted.catalog, users, train)
    truth = _truth(fitted.catalog, users, test)
    counts = fitted.scorers["popularity"].n_ratings.astype(np.float32)  # type: ignore[attr-defined]
    models = {
        "most popular": _top_k(np.broadcast_to(counts, mask.shape), mask),
        "SVD ranked by predicted rating": _top_k(signals["svd"], mask),
        f"{fitted.scorers['collab'].__class__.__name__} (best single collaborative)": _top_k(
            signals["collab"], mask
        ),
        "blend, default weights": _blend_top(signals, Weights().as_dict(), mask),
        "blend, weights tuned on validation": _blend_top(signals, tuned, mask),
    }
    rows = []
    for model, top in models.items():
        scores = ranking_metrics(_lists(users, top), truth, K)
        rows.append({"model": model, **{m: scores[m] for m in metrics}})
    return rows


def evaluate_ranking_stratified(
    catalog: Catalog, settings: Settings, embeddings: np.ndarray, *, seed: int = 42,
    progress: Progress = _noop,
) -> Section:  # fmt: skip
    """Per-user stratified 75/25 split; weights tuned on a 75/25 split of the training part."""
    started = time.perf_counter()
    train, test = stratified_split(catalog.ratings, 0.25, seed)
    users = np.unique(test["userId"].to_numpy())
    progress("ranking (stratified): tuning blend weights on validation", 0.1)
    inner_train, valid = stratified_split(train, 0.25, seed + 1)
    tuned, valid_score = tune_weights(
        _fit_signals(catalog, inner_train, settings, embeddings), users, valid, inner_train,
        f"nDCG@{K}",
    )  # fmt: skip
    progress("ranking (stratified): fitting on the training part", 0.6)
    fitted = _fit_signals(catalog, train, settings, embeddings)
    metrics = (f"nDCG@{K}", f"Recall@{K}", f"Precision@{K}", f"MAP@{K}")
    section = Section(
        "ranking_stratified",
        f"Per-user stratified random split, 75% train / 25% test (seed {seed}); relevance = "
        f"any held-out movie; candidates exclude the user's training movies; {len(users)} users. "
        "Blend weights chosen by nDCG@10 on a 75/25 split of the training part only.",
        _ranking_rows(fitted, users, train, test, tuned, metrics),
        {"weights": tuned, f"validation nDCG@{K}": valid_score},
    )
    section.seconds = time.perf_counter() - started
    return section


def evaluate_ranking_loo(
    catalog: Catalog, settings: Settings, embeddings: np.ndarray, *, progress: Progress = _noop
) -> Section:
    """Temporal leave-one-out: latest rating test, second latest validation, rest train."""
    started = time.perf_counter()
    train, valid, test = temporal_leave_one_out(catalog.ratings)
    users = np.unique(test["userId"].to_numpy())
    progress("ranking (leave-one-out): tuning blend weights on validation", 0.1)
    tuned, valid_score = tune_weights(
        _fit_signals(catalog, train, settings, embeddings), users, valid, train, f"HitRate@{K}"
    )
    progress("ranking (leave-one-out): fitting on train + validation", 0.6)
    full_train = pd.concat([train, valid])
    fitted = _fit_signals(catalog, full_train, settings, embeddings)
    section = Section(
        "ranking_loo",
        "Temporal leave-one-out: each user's latest rating is the test item, the second latest "
        "the validation item, the rest train; candidates exclude the user's earlier movies; "
        f"{len(users)} users. Blend weights chosen by HitRate@10 on the validation items with "
        "models fitted on train; test scored with models refitted on train + validation.",
        _ranking_rows(fitted, users, full_train, test, tuned, (f"HitRate@{K}", f"nDCG@{K}")),
        {"weights": tuned, f"validation HitRate@{K}": valid_score},
    )
    section.seconds = time.perf_counter() - started
    return section


# -- search -------------------------------------------------------------------------------------
def read_queries(path: Path) -> list[dict[str, Any]]:
    """Lines of ``{"query": ..., "movieId": ...}``; lines without both are skipped."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            if "query" in record and "movieId" in record:
                out.append(record)
    return out


def evaluate_search(engine: Any, queries: list[dict[str, Any]], *, progress: Progress = _noop,
                    top: int = 100) -> Section:  # fmt: skip
    """Recall@1/10/100 and MRR@10 of BM25 alone, embeddings alone and the full search."""
    from dataclasses import replace

    from core.query import parse_request

    started = time.perf_counter()
    index = engine.search_index
    base = index.config
    variants = {
        "BM25 alone": replace(base, w_dense=0.0),
        "embeddings alone": replace(base, w_bm25=0.0),
        "full search (product)": base,
    }
    known = [q for q in queries if int(q["movieId"]) in engine.catalog.item_of]
    answers = [engine.catalog.item_of[int(q["movieId"])] for q in known]
    ranked: dict[str, list[list[int]]] = {name: [] for name in variants}
    encoder = engine.encoder
    for number, record in enumerate(known):
        if number % 100 == 0:
            progress(f"search {number}/{len(known)}", number / max(len(known), 1))
        request = parse_request(str(record["query"])[:4000], engine.catalog, matcher=engine.titles)
        vector = encoder.encode_query(request.text) if request.text.strip() else None
        for name, config in variants.items():
            hits = index.search(request, encoder=encoder, top=top, config=config,
                                prior=engine.scorers["popularity"], query_vector=vector)  # fmt: skip
            ranked[name].append([int(i) for i in hits.items])
    section = Section(
        "search",
        f"{len(known)} natural-language requests with one known answer each "
        f"({len(queries) - len(known)} skipped: answer not in this catalogue); the same parsing, "
        "constraints and re-ranking for every variant; only the retrievers differ.",
    )
    for name in variants:
        section.rows.append({"model": name, **search_metrics(ranked[name], answers)})
    section.seconds = time.perf_counter() - started
    return section


# -- driver -------------------------------------------------------------------------------------
PARTS = ("rating", "ranking", "search")


def run(
    data: str | Path | None,
    settings: Settings | None = None,
    *,
    parts: Iterable[str] = PARTS,
    queries: Path | None = None,
    progress: Progress = _noop,
) -> dict[str, Section]:
    """Run the chosen parts on a data set and write each section's JSON next to its artifacts."""
    from core.engine import Engine

    settings = settings or Settings()
    engine = Engine.open(data, settings, progress=progress)
    catalog = engine.catalog
    embeddings = np.asarray(engine.scorers["semantic"].embeddings)  # type: ignore[attr-defined]
    sections: dict[str, Section] = {}
    parts = list(parts)
    if "rating" in parts:
        sections["rating"] = evaluate_rating(catalog, settings, progress=progress)
    if "ranking" in parts:
        sections["ranking_stratified"] = evaluate_ranking_stratified(
            catalog, settings, embeddings, progress=progress
        )
        sections["ranking_loo"] = evaluate_ranking_loo(
            catalog, settings, embeddings, progress=progress
        )
    if "search" in parts and queries is not None:
        sections["search"] = evaluate_search(engine, read_queries(queries), progress=progress)
    if engine.folder is not None:
        out = engine.folder / "evaluation"
        out.mkdir(exist_ok=True)
        for name, section in sections.items():
            payload = {**section.to_dict(), "dataset": engine.manifest.dataset if engine.manifest
                       else catalog.name, "written_at": time.time()}  # fmt: skip
            tmp = out / f".{name}.json.part"
            tmp.write_text(json.dumps(payload, indent=2, default=float))
            tmp.replace(out / f"{name}.json")
    return sections


def format_section(section: Section) -> str:
    """Plain-text table of one section."""
    frame = pd.DataFrame(section.rows)
    lines = [f"== {section.name} ({section.seconds:.0f} s)", section.protocol]
    lines.append(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if section.chosen:
        lines.append(f"chosen: {json.dumps(section.chosen, default=str)}")
    return "\n".join(lines)
