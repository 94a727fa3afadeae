"""Genre wishes of requests: synonyms, negations, hedges, plot keywords."""

from __future__ import annotations

import pytest

from core.data.catalog import Catalog
from tests.search.parsing import parse


@pytest.mark.parametrize(
    ("text", "genres"),
    [
        ("scifi", ("Sci-Fi",)),
        ("sci-fi", ("Sci-Fi",)),
        ("sci fi", ("Sci-Fi",)),
        ("science fiction", ("Sci-Fi",)),
        ("animated movies", ("Animation",)),
        ("a cartoon", ("Animation",)),
        ("romcom", ("Comedy", "Romance")),
        ("rom-coms", ("Comedy", "Romance")),
        ("romantic comedy", ("Comedy", "Romance")),
        ("something scary", ("Horror",)),
        ("funny", ("Comedy",)),
        ("for kids", ("Children",)),
        ("family movie night", ("Children",)),
        ("a crime thriller", ("Crime", "Thriller")),
        ("whodunit", ("Mystery",)),
    ],
)
def test_genre_synonyms(catalog: Catalog, text: str, genres: tuple[str, ...]) -> None:
    request = parse(text, catalog)
    assert request.include_genres == genres
    assert "genre: " + " + ".join(genres) in request.understood()


@pytest.mark.parametrize(
    ("text", "excluded"),
    [
        ("space movies, no horror", ("Horror",)),
        ("not animated", ("Animation",)),
        ("a love story without romance", ("Romance",)),
        ("nothing scary please", ("Horror",)),
        ("something funny but no more horror", ("Horror",)),
        ("non-horror space movie", ("Horror",)),
        ("anything but comedy", ("Comedy",)),
    ],
)
def test_negations(catalog: Catalog, text: str, excluded: tuple[str, ...]) -> None:
    request = parse(text, catalog)
    assert request.exclude_genres == excluded
    assert not set(excluded) & set(request.include_genres)
    assert "excluding: " + ", ".join(excluded) in request.understood()


def test_hedges_are_not_negations(catalog: Catalog) -> None:
    request = parse("not sure if it was horror, a family in a house", catalog)
    assert request.exclude_genres == ()


def test_negated_words_leave_the_text(catalog: Catalog) -> None:
    request = parse("space movies, no horror", catalog)
    assert "horror" not in request.text.lower() and "space" in request.text


def test_plot_keyword_genre_words_stay_in_the_text(catalog: Catalog) -> None:
    request = parse("a heist movie with a twist", catalog)
    assert request.include_genres == ("Crime",)
    assert "heist" in request.text and "twist" in request.text
    assert "gangster" in parse("gangster movies", catalog).text
    negated = parse("space movies, no heists", catalog)
    assert negated.exclude_genres == ("Crime",) and "heist" not in negated.text
    assert "comed" not in parse("90s comedies about space", catalog).text


def test_war_inside_star_wars_is_not_a_genre(catalog: Catalog) -> None:
    request = parse("something like star wars", catalog)
    assert "War" not in request.include_genres
    assert request.reference_id == 3
