"""Year windows of requests: ranges, decades, open bounds, ages, dated and bare years."""

from __future__ import annotations

import pytest

from core.data.catalog import Catalog
from tests.search.parsing import parse


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("90s comedies", (1990, 1999)),
        ("a 90's thriller", (1990, 1999)),
        ("sci-fi from the 1990s", (1990, 1999)),
        ("something from the eighties", (1980, 1989)),
        ("early 2000s horror", (2000, 2004)),
        ("late 90s romance", (1996, 1999)),
        ("mid-80s action", (1983, 1987)),
        ("late 90s-early 2000 dark fairy tale", (1996, 2004)),
        ("after 2005", (2006, None)),
        ("since 2005", (2005, None)),
        ("before 1980", (None, 1979)),
        ("pre-1980 westerns", (None, 1979)),
        ("between 1990 and 2000", (1990, 2000)),
        ("1990-2000 heist movies", (1990, 2000)),
        ("movies from 1990 to 1995", (1990, 1995)),
        ("2010 thrillers", (2010, 2010)),
        ("around 2005", (2003, 2007)),
        ("old classics", (None, 1979)),
        ("comedies after the 80s", (1990, None)),
    ],
)
def test_years(catalog: Catalog, text: str, window: tuple[int | None, int | None]) -> None:
    request = parse(text, catalog)
    assert (request.year_min, request.year_max) == window, request


def test_years_outside_the_catalogue_are_ignored_with_a_note(catalog: Catalog) -> None:
    request = parse("horror movies from 2050", catalog)
    assert not request.has_years and request.include_genres == ("Horror",)
    assert "2050" not in request.text
    assert request.notes == ["no movies from 2050 in this catalogue: ignored the year"]
    assert parse("2045 thrillers", catalog).notes[0].startswith("no movies from 2045")
    assert parse("sci-fi from 1999", catalog).notes == []


def test_recent_is_relative_to_the_catalogue(catalog: Catalog) -> None:
    newest = int(catalog.movies["year"].max())
    request = parse("recent sci-fi", catalog)
    assert request.year_min == newest - 5 and request.year_max is None
    assert request.include_genres == ("Sci-Fi",)


@pytest.mark.parametrize(
    "text", ["a woman in her 20s falls in love", "a man in his late 40s", "my 10 year old kid"]
)
def test_ages_are_not_decades(catalog: Catalog, text: str) -> None:
    assert not parse(text, catalog).has_years


def test_years_in_a_long_story_are_not_taken_literally(catalog: Catalog) -> None:
    story = (
        "I watched this in 2004 in science class. Aliens send blueprints for a spaceship and "
        "the whole world builds it together; a woman scientist leads the project and in the "
        "end she travels through a wormhole and meets her dead father on a beach."
    )
    request = parse(story, catalog)
    assert request.narrative and not request.has_years
    dated = parse(story + " I think it was released in 1997.", catalog)
    assert (dated.year_min, dated.year_max) == (1996, 1998)


@pytest.mark.parametrize(
    ("text", "window"),
    [("a mid to late 2000s horror", (2003, 2009)), ("early to mid 90s", (1990, 1997))],
)
def test_decade_part_ranges(catalog: Catalog, text: str, window: tuple[int, int]) -> None:
    request = parse(text, catalog)
    assert (request.year_min, request.year_max) == window
    assert "mid" not in request.text and "'s" not in request.text
