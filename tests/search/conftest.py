"""Fixtures of the request-parsing tests (test_years, test_genres, test_references, ...)."""

from __future__ import annotations

import pandas as pd
import pytest

from core.data.catalog import MOVIE_COLUMNS, Catalog, display_title
from tests.fixtures import make_movies, make_ratings, make_tags


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The tiny catalogue plus titles that are also ordinary words ("It", "Her")."""
    from tests.fixtures import make_tiny_catalog

    base = make_tiny_catalog()
    extra = []
    for mid, title, year, genres in (
        (21, "It", 2017, "Horror"),
        (22, "Her", 2013, "Drama|Romance|Sci-Fi"),
        (23, "Haunted House, A", 2013, "Comedy|Horror"),
        (24, "Snow White and the Huntsman", 2012, "Action|Adventure|Drama"),
    ):
        row = make_movies().iloc[0].to_dict()
        row.update(
            movieId=mid,
            title=title,
            display_title=display_title(title),
            year=year,
            genres=genres,
            tags="",
            overview="",
            keywords="",
            plot="",
        )
        extra.append(row)
    movies = pd.concat([base.movies, pd.DataFrame(extra)], ignore_index=True)
    movies = movies.astype(MOVIE_COLUMNS)[list(MOVIE_COLUMNS)]
    return Catalog("tiny+", movies, make_ratings(), make_tags(), base.report)
