"""Read-only catalogue views for the app (core.serving.explore) on the tiny catalogue."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.serving import explore


def test_plain_records_turns_missing_and_numpy_values_into_python() -> None:
    frame = pd.DataFrame({"a": [3, 4], "b": [np.nan, 1.5], "c": ["x", None]})
    rows = explore.plain_records(frame)
    assert rows == [{"a": 3, "b": None, "c": "x"}, {"a": 4, "b": 1.5, "c": None}]
    assert type(rows[0]["a"]) is int and type(rows[1]["b"]) is float
    assert explore.plain_records(frame.iloc[0:0]) == []


def test_catalogue_facts(tiny_catalog) -> None:
    facts = explore.catalogue_facts(tiny_catalog)
    assert facts["genres"] == list(tiny_catalog.genre_names)
    assert facts["year_min"] <= facts["year_max"]
    assert facts["max_ratings"] == int(tiny_catalog.rating_stats["n_ratings"].max())


def test_rating_distribution_counts_every_rating(tiny_catalog) -> None:
    dist = explore.rating_distribution(tiny_catalog)
    assert list(dist.columns) == ["rating", "count", "share"]
    assert dist["count"].sum() == len(tiny_catalog.ratings)
    assert abs(dist["share"].sum() - 1.0) < 1e-9
    assert dist["rating"].is_monotonic_increasing


def test_activity_long_tail_is_sorted_by_rank(tiny_catalog) -> None:
    tails = explore.activity_long_tail(tiny_catalog)
    assert set(tails) == {"user", "movie"}
    users = tails["user"]
    assert len(users) == tiny_catalog.ratings["userId"].nunique()
    assert users["rank"].tolist() == list(range(1, len(users) + 1))
    assert (np.diff(users["ratings"].to_numpy()) <= 0).all()
    assert tails["movie"]["ratings"].sum() == len(tiny_catalog.ratings)


def test_genre_stats_skip_no_genre_and_average_by_rating(tiny_catalog) -> None:
    stats = explore.genre_stats(tiny_catalog)
    assert set(stats["genre"]) <= set(tiny_catalog.genre_names)
    assert not stats["genre"].str.startswith("(").any()
    assert (np.diff(stats["ratings"].to_numpy()) <= 0).all()
    scifi = stats.set_index("genre").loc["Sci-Fi"]
    movies = tiny_catalog.movies["genres"].str.contains("Sci-Fi")
    ids = set(tiny_catalog.movies.loc[movies, "movieId"])
    rated = tiny_catalog.ratings[tiny_catalog.ratings["movieId"].isin(ids)]
    assert scifi["ratings"] == len(rated)
    assert abs(scifi["mean_rating"] - rated["rating"].astype(float).mean()) < 1e-6


def test_ratings_over_time_ignores_placeholder_stamps(tiny_catalog) -> None:
    # The fixture's timestamps are in 1970: no usable period.
    assert explore.ratings_over_time(tiny_catalog).empty
    ratings = tiny_catalog.ratings.assign(timestamp=1_500_000_000 + 86_400 * np.arange(80).repeat(
        len(tiny_catalog.ratings) // 80 + 1)[: len(tiny_catalog.ratings)])  # fmt: skip
    fake = type("C", (), {"ratings": ratings})()
    over_time = explore.ratings_over_time(fake)  # type: ignore[arg-type]
    assert list(over_time.columns) == ["period", "ratings", "mean_rating"]
    assert over_time["ratings"].sum() == len(ratings)


def test_well_known_movies_are_most_rated_first(tiny_catalog) -> None:
    known = explore.well_known_movies(tiny_catalog, limit=5)
    assert len(known) == 5
    assert (np.diff(known["n_ratings"].to_numpy()) <= 0).all()
    assert known["n_ratings"].iloc[0] == tiny_catalog.rating_stats["n_ratings"].max()


def test_movie_row_and_movies_by_id(tiny_catalog) -> None:
    row = explore.movie_row(tiny_catalog, 1)
    assert row["display_title"] == "Alien" and row["n_ratings"] >= 1
    assert isinstance(row["mean_rating"], float)
    assert explore.movie_row(tiny_catalog, 20)["mean_rating"] is None  # never rated
    frame = explore.movies_by_id(tiny_catalog, [4, 999, 1])
    assert frame["title"].tolist() == ["Blade Runner", "Alien"]


def test_user_views(tiny_catalog) -> None:
    users = explore.user_directory(tiny_catalog)
    assert users["userId"].tolist() == sorted(tiny_catalog.ratings["userId"].unique())
    assert users["n_ratings"].sum() == len(tiny_catalog.ratings)
    favourites = explore.user_favourites(tiny_catalog, 1, limit=3)
    assert len(favourites) == 3 and (np.diff(favourites["rating"].to_numpy()) <= 0).all()
    assert explore.user_favourites(tiny_catalog, 9999).empty
    profile = explore.user_genre_profile(tiny_catalog, 1)
    assert "Sci-Fi" in profile["genre"].tolist()[:3]  # user 1 is a sci-fi fan
    assert list(explore.user_genre_profile(tiny_catalog, 9999).columns) == ["genre", "n", "mean"]
    rated = explore.rated_movies(tiny_catalog, {9: 2.0, 1: 5.0, 999: 3.0})
    assert rated["title"].tolist() == ["Alien", tiny_catalog.movies["display_title"].iloc[8]]


def test_main_genres_prefers_the_rarest_genre() -> None:
    genres = pd.Series(
        ["Action|Western", "Action", "Action", "Action|Comedy", "(no genres listed)"]
    )
    assert explore.main_genres(genres).tolist() == [
        "Western",
        "Action",
        "Action",
        "Comedy",
        "(none)",
    ]
    assert explore.main_genres(genres, keep=1).tolist() == [
        "Other",
        "Action",
        "Action",
        "Other",
        "Other",
    ]


def test_similarity_matrix_blanks_the_diagonal(tiny_engine) -> None:
    matrix = explore.similarity_matrix(tiny_engine, (1, 2, 9), "genre_tag")
    assert matrix.shape == (3, 3) and list(matrix.index) == [1, 2, 9]
    assert np.isnan(np.diag(matrix.to_numpy())).all()
    assert matrix.loc[1, 2] > matrix.loc[1, 9]  # two sci-fi movies beat sci-fi vs romance


def test_embedding_map_projects_the_most_rated_movies(tiny_engine) -> None:
    embeddings = tiny_engine.scorers["semantic"].embeddings
    points = explore.embedding_map(tiny_engine.catalog, embeddings, "PCA", size=10)
    assert len(points) == 10
    assert {"x", "y", "movieId", "title", "year", "genre", "genres", "n_ratings"} <= set(points)
    assert (np.diff(points["n_ratings"].to_numpy()) <= 0).all()
    tsne = explore.embedding_map(tiny_engine.catalog, embeddings, "t-SNE", size=10)
    assert len(tsne) == 10 and np.isfinite(tsne[["x", "y"]].to_numpy()).all()
    assert explore.embedding_map(tiny_engine.catalog, embeddings[:, :1], "PCA").empty


def test_people_matches_use_the_crew_signal(tiny_catalog) -> None:
    from core.signals.crew import CrewScorer

    rows = explore.people_matches(tiny_catalog, CrewScorer().fit(tiny_catalog), 1)
    found = {(role, person): frame for role, person, frame in rows}
    assert ("directors", "Ridley Scott") in found
    assert 4 in found[("directors", "Ridley Scott")]["movieId"].tolist()
    assert all(1 not in frame["movieId"].tolist() for frame in found.values())
