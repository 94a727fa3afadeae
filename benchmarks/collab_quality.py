"""Quality of the collaborative (and baseline) scorers on MovieLens; prints plain-text tables.

Top-N protocol: per-user stratified random split of the ratings, 75 % train / 25 % test
(``sklearn.model_selection.train_test_split(stratify=userId, random_state=42)``); every test
user's held-out movies are relevant (whatever the rating); candidates are all movies except the
user's training movies; nDCG@10 with binary gains and Recall@10 = hits / min(10, #held-out).
Every model is queried through its public ``score(Query(user_id=u))``, as the app does.

Rating protocol: 5-fold cross-validated RMSE of :class:`core.signals.rating.SVDRating`
(``KFold(5, shuffle=True, random_state=42)`` over rating rows).

Fold-in check: 60 users are held out of SVD training entirely; their vectors are folded in from
5 (or all but 10 of) their ratings and RMSE is measured on the rest, per ridge penalty.

Usage::

    python benchmarks/collab_quality.py [DATA_DIR] [--sections topn,rmse,foldin] [--quick]

``DATA_DIR`` defaults to ``../shared/data/ml-latest-small`` (relative to the repository).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.config import RankerSettings, Settings, SVDSettings  # noqa: E402
from core.data.catalog import (  # noqa: E402
    MOVIE_COLUMNS,
    RATING_COLUMNS,
    TAG_COLUMNS,
    Catalog,
    LoadReport,
    display_title,
)
from core.signals.base import Query, Scorer  # noqa: E402
from core.signals.genre_tag import GenreTagScorer  # noqa: E402
from core.signals.popularity import PopularityPrior  # noqa: E402
from core.signals.ranking import ALSRanker, EASERanker  # noqa: E402
from core.signals.rating import SVDRating  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-latest-small"
K = 10


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def load_movielens(path: Path) -> Catalog:
    """The catalogue of a MovieLens CSV folder: ``core.data.loaders`` when it works, else pandas."""
    try:
        from core.data.loaders import load_catalog

        return load_catalog(path, enrich=False)
    except Exception as error:  # the loader is optional here; fall back to a minimal read
        print(f"(core.data.loaders unavailable: {error}; reading the CSVs with pandas)")
    movies = pd.read_csv(path / "movies.csv")
    parts = movies["title"].str.extract(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
    movies["year"] = pd.to_numeric(parts["year"], errors="coerce")
    movies["title"] = parts["title"].fillna(movies["title"])
    movies["display_title"] = movies["title"].map(display_title)
    movies["genres"] = movies["genres"].replace("(no genres listed)", "")
    tags = pd.read_csv(path / "tags.csv") if (path / "tags.csv").exists() else pd.DataFrame()
    if len(tags):
        grouped = tags.assign(tag=tags["tag"].astype(str).str.strip().str.lower())
        counts = grouped.groupby(["movieId", "tag"]).size().rename("n").reset_index()
        counts = counts.sort_values(["movieId", "n"], ascending=[True, False])
        joined = counts.groupby("movieId")["tag"].agg("|".join)
        movies["tags"] = movies["movieId"].map(joined).fillna("")
    for column, dtype in MOVIE_COLUMNS.items():
        if column not in movies:
            movies[column] = "" if dtype == "string" else pd.NA
    movies = movies.astype(MOVIE_COLUMNS)[list(MOVIE_COLUMNS)]
    ratings = pd.read_csv(path / "ratings.csv").astype(RATING_COLUMNS)
    tags = tags.astype(TAG_COLUMNS) if len(tags) else pd.DataFrame(columns=list(TAG_COLUMNS))
    report = LoadReport(str(path), "csv", n_ratings=len(ratings), n_movies=len(movies))
    return Catalog(path.name, movies, ratings, tags, report)


def with_ratings(catalog: Catalog, ratings: pd.DataFrame, name: str) -> Catalog:
    """The same movies with another set of ratings (a training split)."""
    return Catalog(
        name, catalog.movies, ratings.reset_index(drop=True), catalog.tags, catalog.report
    )


def split(
    catalog: Catalog, test_size: float = 0.25, seed: int = 42
) -> tuple[Catalog, pd.DataFrame]:
    """Per-user stratified random split: (training catalogue, held-out ratings)."""
    from sklearn.model_selection import train_test_split

    ratings = catalog.ratings
    train, test = train_test_split(
        ratings, test_size=test_size, stratify=ratings["userId"], random_state=seed
    )
    return with_ratings(catalog, train, f"{catalog.name}-train"), test


# ---------------------------------------------------------------------------------------------
# Top-N
# ---------------------------------------------------------------------------------------------
@dataclass
class TopN:
    """Mean nDCG@K and Recall@K over test users, and the mean ``score()`` latency."""

    ndcg: float
    recall: float
    users: int
    ms_per_query: float


def evaluate_topn(
    scorer: Scorer,
    train: Catalog,
    test: pd.DataFrame,
    k: int = K,
    users: Iterable[int] | None = None,
) -> TopN:
    """Rank all non-training movies per test user with ``scorer.score`` and measure them."""
    held = test.groupby("userId")["movieId"].apply(lambda s: s.to_numpy())
    if users is not None:
        held = held.loc[[u for u in users if u in held.index]]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ndcgs, recalls, seconds = [], [], 0.0
    for user, movie_ids in held.items():
        start = time.perf_counter()
        values = scorer.score(Query(user_id=int(user))).values
        seconds += time.perf_counter() - start
        scores = np.where(np.isfinite(values), values, -np.inf).astype(np.float64)
        seen, _ = _train_items(train, int(user))
        scores[seen] = -np.inf
        top = np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        relevant = np.isin(top, train.items_for(movie_ids)) & np.isfinite(scores[top])
        n_rel = min(k, len(movie_ids))
        ndcgs.append(float((relevant * discounts).sum() / discounts[:n_rel].sum()))
        recalls.append(float(relevant.sum() / n_rel))
    n = len(ndcgs)
    return TopN(float(np.mean(ndcgs)), float(np.mean(recalls)), n, 1000 * seconds / max(n, 1))


def _train_items(train: Catalog, user: int) -> tuple[np.ndarray, np.ndarray]:
    row = train.user_of[user]
    matrix = train.user_items
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:end], matrix.data[start:end]


def topn_models(quick: bool) -> list[tuple[str, Callable[[], Scorer]]]:
    """(label, factory) of every top-N configuration measured."""
    lambdas = [250.0, 500.0] if quick else [100.0, 250.0, 500.0, 1000.0]
    models: list[tuple[str, Callable[[], Scorer]]] = []
    for lam in lambdas:
        settings = Settings(ranker=RankerSettings(ease_lambda=lam))
        models.append((f"EASE l={lam:g} min2", _factory(EASERanker, settings, min_item_ratings=2)))
    best = Settings(ranker=RankerSettings(ease_lambda=250.0))
    for minimum in [1] if quick else [1, 3, 5]:
        models.append(
            (f"EASE l=250 min{minimum}", _factory(EASERanker, best, min_item_ratings=minimum))
        )
    als = [
        (
            "ALS f=128 reg=.05 a=2 (previous default)",
            RankerSettings(als_factors=128, als_regularization=0.05, als_alpha=2.0),
        ),
        (
            "ALS f=64 reg=.05 a=2",
            RankerSettings(als_factors=64, als_regularization=0.05, als_alpha=2.0),
        ),
        ("ALS f=64 reg=10 a=5", RankerSettings(als_regularization=10.0)),
        ("ALS f=64 reg=30 a=5 (default)", RankerSettings()),
        ("ALS f=128 reg=50 a=5", RankerSettings(als_factors=128, als_regularization=50.0)),
    ]
    for label, ranker in als[-2:] if quick else als:
        models.append((label, _factory(ALSRanker, Settings(ranker=ranker))))
    surprise_defaults = Settings(svd=SVDSettings(100, 20, 0.005, 0.02))
    models.append(("SVD by rating (Surprise defaults)", _factory(SVDRating, surprise_defaults)))
    models.append(("SVD by rating (default)", _factory(SVDRating, Settings())))
    models.append(("Popularity prior", _factory(PopularityPrior, Settings())))
    models.append(("Genre & tags", _factory(GenreTagScorer, Settings())))
    return models


def _factory(cls: type, settings: Settings, **kwargs: object) -> Callable[[], Scorer]:
    return lambda: cls(settings, **kwargs)


def run_topn(catalog: Catalog, quick: bool) -> None:
    """Print the top-N table."""
    train, test = split(catalog)
    print(
        f"\nTop-N on {catalog.name}: {len(train.ratings):,} train / {len(test):,} test ratings, "
        f"{test['userId'].nunique()} users; nDCG@{K} / Recall@{K}"
    )
    print(f"{'model':34} {'nDCG@10':>8} {'Rec@10':>8} {'fit s':>7} {'ms/query':>9}")
    for label, make in topn_models(quick):
        start = time.perf_counter()
        scorer = make().fit(train)
        fit_s = time.perf_counter() - start
        result = evaluate_topn(scorer, train, test)
        print(
            f"{label:34} {result.ndcg:8.3f} {result.recall:8.3f} {fit_s:7.1f} "
            f"{result.ms_per_query:9.2f}",
            flush=True,
        )
        del scorer


# ---------------------------------------------------------------------------------------------
# Rating prediction
# ---------------------------------------------------------------------------------------------
def cv_rmse(
    catalog: Catalog, svd: SVDSettings, folds: int = 5, seed: int = 42
) -> tuple[float, float]:
    """(mean RMSE, mean fit seconds) of SVDRating over ``folds``-fold CV on rating rows."""
    from sklearn.model_selection import KFold

    ratings = catalog.ratings
    errors, fit_seconds = [], []
    for train_idx, test_idx in KFold(folds, shuffle=True, random_state=seed).split(ratings):
        train = with_ratings(catalog, ratings.iloc[train_idx], "fold")
        test = ratings.iloc[test_idx]
        model = SVDRating(Settings(svd=svd)).fit(train)
        fit_seconds.append(model.fit_seconds)
        est = model.estimate(test["userId"].to_numpy(), test["movieId"].to_numpy())
        errors.append(float(np.sqrt(np.mean((est - test["rating"].to_numpy()) ** 2))))
    return float(np.mean(errors)), float(np.mean(fit_seconds))


def svd_grid(quick: bool) -> list[tuple[str, SVDSettings]]:
    """Surprise-SVD settings compared by CV RMSE."""
    grid = [
        ("Surprise defaults f100 e20 lr.005 reg.02", SVDSettings(100, 20, 0.005, 0.02)),
        ("f100 e40 lr.007 reg.06 (previous default)", SVDSettings(100, 40, 0.007, 0.06)),
        ("f100 e50 lr.007 reg.08 (default)", SVDSettings(100, 50, 0.007, 0.08)),
        ("f100 e40 lr.01 reg.08", SVDSettings(100, 40, 0.01, 0.08)),
        ("f50 e60 lr.007 reg.1", SVDSettings(50, 60, 0.007, 0.1)),
        ("f100 e80 lr.005 reg.1", SVDSettings(100, 80, 0.005, 0.1)),
        ("f150 e60 lr.007 reg.1", SVDSettings(150, 60, 0.007, 0.1)),
    ]
    return grid[:2] if quick else grid


def run_rmse(catalog: Catalog, quick: bool) -> None:
    """Print the SVD RMSE table."""
    print(f"\nSVDRating 5-fold CV RMSE on {catalog.name} ({len(catalog.ratings):,} ratings)")
    print(f"{'setting':42} {'RMSE':>7} {'fit s':>7}")
    for label, svd in svd_grid(quick):
        rmse, fit_s = cv_rmse(catalog, svd)
        print(f"{label:42} {rmse:7.4f} {fit_s:7.1f}", flush=True)


def run_fold_in(catalog: Catalog, n_users: int = 60, seed: int = 42) -> None:
    """Print RMSE of folded-in held-out users per ridge penalty (and the fallbacks)."""
    rng = np.random.default_rng(seed)
    users = rng.choice(catalog.user_ids, size=n_users, replace=False)
    ratings = catalog.ratings
    held = ratings["userId"].isin(users)
    train = with_ratings(catalog, ratings[~held], "fold-in")
    base = SVDRating(Settings()).fit(train)
    print(f"\nSVD fold-in: {n_users} users held out of training; RMSE on their other ratings")
    print(f"{'penalty':28} {'5 ratings':>10} {'all but 10':>11}")
    rows: dict[str, list[float]] = {}
    for user in users:
        mine = ratings[ratings["userId"] == user].sample(frac=1.0, random_state=seed)
        for label, given in (("5 ratings", mine.iloc[:5]), ("all but 10", mine.iloc[:-10])):
            rest = mine.iloc[len(given) :] if label == "5 ratings" else mine.iloc[-10:]
            known = dict(zip(given["movieId"].tolist(), given["rating"].tolist(), strict=True))
            truth = rest["rating"].to_numpy()
            fallback = base.predict(None, rest["movieId"].to_numpy())["est"].to_numpy()
            rows.setdefault(f"item mean (no fold-in)|{label}", []).extend((fallback - truth) ** 2)
            for name, reg, floor in PENALTIES:
                base.fold_in_reg, base.fold_in_floor = reg, floor
                est = base.predict(None, rest["movieId"].to_numpy(), ratings=known)["est"]
                rows.setdefault(f"{name}|{label}", []).extend((est.to_numpy() - truth) ** 2)
    for name in ["item mean (no fold-in)"] + [p[0] for p in PENALTIES]:
        cells = [np.sqrt(np.mean(rows[f"{name}|{lab}"])) for lab in ("5 ratings", "all but 10")]
        print(f"{name:28} {cells[0]:10.4f} {cells[1]:11.4f}")


#: (label, fixed penalty or None, floor) of the fold-in penalties compared.
PENALTIES: list[tuple[str, float | None, float]] = [
    ("reg_all*n", None, 0.0),
    ("max(reg_all*n, 3) [default]", None, 3.0),
    ("max(reg_all*n, 10)", None, 10.0),
    ("fixed 1", 1.0, 0.0),
    ("fixed 3", 3.0, 0.0),
    ("fixed 10", 10.0, 0.0),
]


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--sections", default="topn,rmse,foldin")
    parser.add_argument("--quick", action="store_true", help="fewer settings")
    args = parser.parse_args(argv)
    path = Path(args.data)
    if not (path / "ratings.csv").exists():
        print(f"no ratings.csv in {path}", file=sys.stderr)
        return 2
    catalog = load_movielens(path)
    sections = set(args.sections.split(","))
    if "topn" in sections:
        run_topn(catalog, args.quick)
    if "rmse" in sections:
        run_rmse(catalog, args.quick)
    if "foldin" in sections:
        run_fold_in(catalog)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
