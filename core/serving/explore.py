"""Read-only views of a served catalogue for the app's pages: rating statistics, user profiles,
similarity matrices, the embedding map, same-people rows. Pure functions over a ``Catalog`` (or
engine pieces) returning frames; they must not format for display, cache or import Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.data.catalog import Catalog
from core.serving.blend import Weights
from core.signals.base import Query

if TYPE_CHECKING:  # only for annotations: the engine imports nothing from here
    from core.serving.engine import Engine
    from core.signals.crew import CrewScorer


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-friendly rows (``NA``/``NaN`` -> ``None``, NumPy scalars -> Python)."""
    if frame.empty:
        return []
    clean = frame.astype(object).where(frame.notna(), None)
    rows = clean.to_dict(orient="records")
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in rows]


def _listed_genres(genres: pd.Series) -> pd.Series:
    """Each movie's genres as a list (MovieLens separates them with ``|``)."""
    return genres.fillna("").astype(str).str.split("|")


def _real_genre(genre: pd.Series) -> pd.Series:
    """Mask of exploded genre cells that name a genre ("(no genres listed)" and "" do not)."""
    return genre.astype(bool) & ~genre.str.startswith("(")


# -- the whole catalogue -----------------------------------------------------------------------
def catalogue_facts(catalog: Catalog) -> dict[str, Any]:
    """Genres, year bounds and rating-count bounds (the ranges of the filter widgets)."""
    years = catalog.movies["year"].dropna()
    counts = catalog.rating_stats["n_ratings"]
    return {
        "genres": list(catalog.genre_names),
        "year_min": int(years.min()) if len(years) else 1900,
        "year_max": int(years.max()) if len(years) else 2030,
        "max_ratings": int(counts.max()) if len(counts) else 0,
    }


def rating_distribution(catalog: Catalog) -> pd.DataFrame:
    """How often each rating value was given: ``rating``, ``count``, ``share``."""
    counts = catalog.ratings["rating"].value_counts().sort_index()
    frame = counts.rename_axis("rating").reset_index(name="count")
    frame["share"] = frame["count"] / max(int(frame["count"].sum()), 1)
    return frame


def activity_long_tail(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """Ratings per user and per movie, sorted (rank vs count) for log-log long-tail plots."""
    ratings = catalog.ratings
    out = {}
    for column, label in (("userId", "user"), ("movieId", "movie")):
        counts = np.sort(ratings[column].value_counts().to_numpy())[::-1]
        out[label] = pd.DataFrame({"rank": np.arange(1, len(counts) + 1), "ratings": counts})
    return out


def genre_stats(catalog: Catalog) -> pd.DataFrame:
    """Per genre: ``movies``, ``ratings`` and ``mean_rating``, most-rated genre first."""
    stats = catalog.rating_stats
    frame = pd.DataFrame(
        {
            "genre": _listed_genres(catalog.movies["genres"]).to_numpy(),
            "n": stats["n_ratings"].to_numpy(),
            "sum": (stats["mean_rating"].fillna(0) * stats["n_ratings"]).to_numpy(),
        }
    ).explode("genre")
    frame = frame[_real_genre(frame["genre"])]
    out = frame.groupby("genre").agg(
        movies=("n", "size"), ratings=("n", "sum"), total=("sum", "sum")
    )
    out["mean_rating"] = out["total"] / out["ratings"].clip(lower=1)
    return out.drop(columns="total").reset_index().sort_values("ratings", ascending=False)


def ratings_over_time(catalog: Catalog) -> pd.DataFrame:
    """Ratings per month (per quarter for spans over 12 years) with the mean rating."""
    ratings = catalog.ratings
    stamps = pd.to_datetime(ratings["timestamp"], unit="s", errors="coerce")
    # MovieLens began in 1995; earlier stamps are placeholders (0 = 1970).
    valid = stamps.notna() & (stamps.dt.year > 1990)
    if not valid.any():
        return pd.DataFrame(columns=["period", "ratings", "mean_rating"])
    span_years = (stamps[valid].max() - stamps[valid].min()).days / 365.25
    freq = "MS" if span_years <= 12 else "QS"
    frame = pd.DataFrame({"when": stamps[valid], "rating": ratings["rating"][valid]})
    grouped = frame.groupby(pd.Grouper(key="when", freq=freq))["rating"].agg(["size", "mean"])
    grouped.columns = ["ratings", "mean_rating"]
    return grouped.rename_axis("period").reset_index()


def well_known_movies(catalog: Catalog, limit: int = 96) -> pd.DataFrame:
    """The ``limit`` most-rated movies (the ones a newcomer has most likely seen)."""
    stats = catalog.rating_stats
    order = np.argsort(-stats["n_ratings"].to_numpy(), kind="stable")[:limit]
    movies = catalog.movies.iloc[order]
    return pd.DataFrame(
        {
            "movieId": movies["movieId"].to_numpy(),
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].to_numpy(),
            "genres": movies["genres"].astype(str).to_numpy(),
            "n_ratings": stats["n_ratings"].to_numpy()[order],
        }
    )


def movie_row(catalog: Catalog, movie_id: int) -> dict[str, Any]:
    """Catalogue fields and rating stats of one movie as plain values."""
    item = catalog.item_of[int(movie_id)]
    row = plain_records(catalog.movies.iloc[[item]])[0]
    stats = catalog.rating_stats.iloc[item]
    row["n_ratings"] = int(stats["n_ratings"])
    row["mean_rating"] = None if pd.isna(stats["mean_rating"]) else float(stats["mean_rating"])
    return row


def movies_by_id(catalog: Catalog, movie_ids: Any) -> pd.DataFrame:
    """Result-shaped rows (title, year, genres, overview, stats, links) of the given movies;
    ids not in the catalogue are skipped."""
    items = [catalog.item_of[m] for m in movie_ids if m in catalog.item_of]
    movies = catalog.movies.iloc[items]
    stats = catalog.rating_stats.iloc[items]
    return pd.DataFrame(
        {
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].to_numpy(),
            "genres": movies["genres"].to_numpy(),
            "overview": movies["overview"].to_numpy(),
            "n_ratings": stats["n_ratings"].to_numpy(),
            "mean_rating": stats["mean_rating"].to_numpy(),
            "imdbId": movies["imdbId"].to_numpy(),
            "tmdbId": movies["tmdbId"].to_numpy(),
        }
    )


# -- users -------------------------------------------------------------------------------------
def user_directory(catalog: Catalog) -> pd.DataFrame:
    """Every user with ratings: ``userId``, ``n_ratings``, ``mean_rating`` (by user id)."""
    grouped = catalog.ratings.groupby("userId", sort=True)["rating"].agg(["size", "mean"])
    grouped.columns = ["n_ratings", "mean_rating"]
    return grouped.reset_index()


def user_favourites(catalog: Catalog, user_id: int, limit: int = 12) -> pd.DataFrame:
    """A user's highest-rated movies, most-rated first among ties: ``title``, ``year``,
    ``genres``, ``rating``, ``popularity`` (empty frame for an unknown user)."""
    history = catalog.user_ratings(int(user_id))
    if history.empty:
        return pd.DataFrame(columns=["title", "year", "genres", "rating", "popularity"])
    items = catalog.items_for(history["movieId"].to_numpy())
    movies = catalog.movies.iloc[items]
    frame = pd.DataFrame(
        {
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].to_numpy(),
            "genres": movies["genres"].to_numpy(),
            "rating": history["rating"].to_numpy(),
            "popularity": catalog.rating_stats["n_ratings"].to_numpy()[items],
        }
    )
    frame = frame.sort_values(["rating", "popularity"], ascending=False, kind="stable")
    return frame.head(limit).reset_index(drop=True)


def rated_movies(catalog: Catalog, ratings: Mapping[int, float]) -> pd.DataFrame:
    """A newcomer's ratings (movieId -> stars) as ``title``, ``year``, ``genres``, ``rating``,
    best first; movies not in the catalogue are skipped."""
    ids = [m for m in ratings if m in catalog.item_of]
    movies = catalog.movies.iloc[[catalog.item_of[m] for m in ids]]
    frame = pd.DataFrame(
        {
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].to_numpy(),
            "genres": movies["genres"].to_numpy(),
            "rating": [ratings[m] for m in ids],
        }
    )
    return frame.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)


def user_genre_profile(catalog: Catalog, user_id: int, top: int = 10) -> pd.DataFrame:
    """Per genre: how many of the user's ratings (``n``) and their ``mean``, top genres first."""
    history = catalog.user_ratings(int(user_id))
    if history.empty:
        return pd.DataFrame(columns=["genre", "n", "mean"])
    genres = catalog.movies["genres"].iloc[catalog.items_for(history["movieId"].to_numpy())]
    exploded = pd.DataFrame(
        {"genre": genres.fillna("").str.split("|").to_numpy(), "rating": history["rating"]}
    ).explode("genre")
    exploded = exploded[_real_genre(exploded["genre"])]
    out = exploded.groupby("genre")["rating"].agg(n="size", mean="mean").reset_index()
    return out.sort_values("n", ascending=False).head(top)


# -- how the signals see the movies ------------------------------------------------------------
def similarity_matrix(engine: Engine, movie_ids: tuple[int, ...], signal: str) -> pd.DataFrame:
    """Raw score of movie j (column) when movie i (row) is the seed, under one signal; index
    and columns are the movieIds.

    The diagonal is blank: a movie's similarity to itself would dominate a colour scale.
    """
    items = [engine.catalog.item_of[m] for m in movie_ids]
    matrix = np.full((len(items), len(items)), np.nan)
    for i, movie_id in enumerate(movie_ids):
        scores, _ = engine.signal_scores(Query(seeds=(movie_id,)), Weights(), signals=(signal,))
        matrix[i] = scores[signal][items]
        matrix[i, i] = np.nan
    return pd.DataFrame(matrix, index=list(movie_ids), columns=list(movie_ids))


def main_genres(genres: pd.Series, keep: int = 10) -> pd.Series:
    """Each movie's most specific genre (its rarest listed one); all but ``keep`` -> "Other".

    MovieLens lists genres alphabetically, so the first one says little ("Action" for half
    the catalogue); the rarest one ("Western", "Animation") is what sets a movie apart.
    """
    lists = genres.str.split("|").map(
        lambda gs: [g for g in gs if g and not g.startswith("(") and g != "IMAX"]
    )
    frequency = pd.Series([g for gs in lists for g in gs]).value_counts()
    main = lists.map(lambda gs: min(gs, key=lambda g: frequency[g]) if gs else "(none)")
    common = main.value_counts().index[:keep]
    return main.where(main.isin(common), "Other")


def _project(vectors: np.ndarray, method: str) -> np.ndarray:
    """2-D coordinates of ``vectors`` by t-SNE or (any other ``method``) PCA, seeded."""
    if method == "t-SNE":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, len(vectors) // 4)))
        return TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=42, max_iter=750
        ).fit_transform(vectors)
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=42).fit_transform(vectors)


def embedding_map(
    catalog: Catalog, embeddings: Any, method: str = "PCA", size: int = 3000
) -> pd.DataFrame:
    """2-D projection of the movie embeddings of the ``size`` most-rated movies: ``x``, ``y``,
    ``movieId``, ``title``, ``year``, ``genre`` (the main one), ``genres``, ``n_ratings``."""
    vectors_all = np.asarray(embeddings, dtype=np.float32)
    counts = catalog.rating_stats["n_ratings"].to_numpy()
    rated = np.flatnonzero(counts > 0) if (counts > 0).sum() >= 3 else np.arange(catalog.n_items)
    items = rated[np.argsort(-counts[rated], kind="stable")][:size]
    vectors = vectors_all[items]
    if len(items) < 3 or vectors.ndim != 2 or vectors.shape[1] < 2:
        return pd.DataFrame(columns=["x", "y", "movieId", "title", "genre", "genres", "year"])
    coords = _project(vectors, method)
    movies = catalog.movies.iloc[items]
    genres = movies["genres"].fillna("").astype(str)
    return pd.DataFrame(
        {
            "x": coords[:, 0],
            "y": coords[:, 1],
            "movieId": movies["movieId"].to_numpy(),
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].to_numpy(),
            "genre": main_genres(genres).to_numpy(),
            "genres": genres.to_numpy(),
            "n_ratings": counts[items],
        }
    )


def people_matches(
    catalog: Catalog, crew: CrewScorer, movie_id: int, limit: int = 8
) -> list[tuple[str, str, pd.DataFrame]]:
    """``(role, person, movies)``: other movies by the same director(s) (role ``"directors"``)
    and with the same lead actors (``"cast"``), most-rated first.

    The director & cast signal already indexes who made what, so this asks it
    (:meth:`CrewScorer.same_people`) instead of searching the catalogue's text columns.
    """
    counts = catalog.rating_stats["n_ratings"].to_numpy()
    rows = []
    for role, person, items in crew.same_people(catalog.item_of[int(movie_id)], limit=limit):
        movies = catalog.movies.iloc[items]
        frame = pd.DataFrame(
            {
                "movieId": movies["movieId"].to_numpy(),
                "title": movies["display_title"].astype(str).to_numpy(),
                "year": movies["year"].to_numpy(),
                "genres": movies["genres"].astype(str).to_numpy(),
                "n_ratings": counts[items],
            }
        )
        rows.append((role, person, frame))
    return rows
