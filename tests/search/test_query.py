"""Parsing natural-language requests: years, genres, negations, references, follow-ups, noise."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.data.catalog import MOVIE_COLUMNS, Catalog, display_title
from core.search.request import (
    NO_EARLIER_ANSWER,
    ParsedRequest,
    SearchState,
    clean_request,
    parse_request,
)
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


def parse(text: str, catalog: Catalog, previous: SearchState | None = None) -> ParsedRequest:
    return parse_request(text, catalog, previous)


# -- years -------------------------------------------------------------------------------------
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


# -- genres and negations -------------------------------------------------------------------------
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


# -- reference titles ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "movie_id"),
    [
        ("like Alien but funnier", 1),
        ("similar to the matrix", 6),
        ("movies like usual suspects", 17),
        ("movies like The Usual Suspects (1995)", 17),
        ("films like the matirx please", 6),  # typo
        ("something like usual suspekts", 17),  # typo
        ("in the vein of Blade Runner but newer", 4),
        ("I loved Amelie, what else?", 16),
        ("movies like Her", 22),
        ("a space epic like interstellar with robots", 7),
    ],
)
def test_reference_titles(catalog: Catalog, text: str, movie_id: int) -> None:
    request = parse(text, catalog)
    assert request.reference_id == movie_id, request
    assert request.reference_title == catalog.title_of(movie_id)
    assert f"like: {catalog.title_of(movie_id)}" in request.understood()


@pytest.mark.parametrize(
    "text",
    [
        "I like movies with spaceships",
        "something like it",
        "it looked like a haunted house",
        "like the ones with talking animals",
        "movies like that",
        "it felt like a dream",
        "just like her mother she leaves",
    ],
)
def test_no_reference_for_ordinary_words(catalog: Catalog, text: str) -> None:
    assert parse(text, catalog).reference_id is None


def test_reference_words_leave_the_text(catalog: Catalog) -> None:
    request = parse("like Alien but funnier", catalog)
    assert request.text == ""
    assert request.prefer_genres == ("Comedy",)
    assert parse("a space epic like interstellar with robots", catalog).text.startswith("a space")


# -- popularity --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "wish"),
    [
        ("popular action movies", "popular"),
        ("a well known comedy", "popular"),
        ("summer blockbusters", "popular"),
        ("hidden gems from the 70s", "hidden"),
        ("underrated thrillers", "hidden"),
        ("something obscure", "hidden"),
        ("not too mainstream please", "hidden"),
        ("lesser-known sci-fi", "hidden"),
        ("a heist movie", None),
    ],
)
def test_popularity(catalog: Catalog, text: str, wish: str | None) -> None:
    assert parse(text, catalog).popularity == wish


# -- follow-ups --------------------------------------------------------------------------------
@pytest.fixture()
def nineties_scifi(catalog: Catalog) -> SearchState:
    request = parse("90s sci-fi", catalog)
    return request.next_state([6, 17, 18])


def test_older_and_newer_shift_the_window(catalog: Catalog, nineties_scifi: SearchState) -> None:
    older = parse("something older", catalog, nineties_scifi)
    assert older.follow_up and (older.year_min, older.year_max) == (1980, 1989)
    assert older.include_genres == ("Sci-Fi",)
    newer = parse("newer", catalog, nineties_scifi)
    assert (newer.year_min, newer.year_max) == (2000, 2009)


def test_older_without_a_window_uses_the_last_answer(catalog: Catalog) -> None:
    state = parse("space adventure", catalog).next_state([7, 8])  # 2014, 2013
    older = parse("something older", catalog, state)
    assert older.year_max is not None and older.year_max < 2013 and older.year_min is None


def test_exclusion_adds_to_previous_constraints(
    catalog: Catalog, nineties_scifi: SearchState
) -> None:
    request = parse("no horror", catalog, nineties_scifi)
    assert request.follow_up
    assert request.exclude_genres == ("Horror",)
    assert request.include_genres == ("Sci-Fi",)
    assert (request.year_min, request.year_max) == (1990, 1999)


@pytest.mark.parametrize(
    "text", ["more like the second one", "like #2", "like number 2", "the 2nd one please"]
)
def test_ordinal_reference(catalog: Catalog, nineties_scifi: SearchState, text: str) -> None:
    request = parse(text, catalog, nineties_scifi)
    assert request.follow_up and request.reference_id == 17
    assert request.reference_title == "The Usual Suspects (1995)"


@pytest.mark.parametrize(
    "text",
    [
        "more like the second one",
        "the 2nd one please",
        "something like the last one but funnier",
        "like #2",
        "older",
        "something older",
        "newer please",
    ],
)
def test_follow_up_without_an_earlier_answer(catalog: Catalog, text: str) -> None:
    request = parse(text, catalog)
    assert request.notes == [NO_EARLIER_ANSWER], request
    assert request.reference_id is None and not request.has_years and request.is_empty()
    if "one" in text or "#" in text:  # an answer that listed nothing has no "second one" either
        assert parse(text, catalog, SearchState(query="x")).notes == [NO_EARLIER_ANSWER]


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("movies like Alien, the first one", lambda r: r.reference_id == 1),
        ("older movies", lambda r: r.year_max is not None),
        ("more recent", lambda r: r.year_min is not None),
        ("I loved the second one", lambda r: not r.notes),
    ],
)
def test_real_requests_are_not_taken_for_follow_ups(catalog: Catalog, text: str, check) -> None:
    request = parse(text, catalog)
    assert NO_EARLIER_ANSWER not in request.notes and check(request), request


def test_ordinal_out_of_range_is_ignored(catalog: Catalog, nineties_scifi: SearchState) -> None:
    request = parse("more like the tenth one", catalog, nineties_scifi)
    assert request.reference_id is None


def test_funnier_adds_a_comedy_preference(catalog: Catalog, nineties_scifi: SearchState) -> None:
    request = parse("funnier", catalog, nineties_scifi)
    assert request.follow_up
    assert request.prefer_genres == ("Comedy",)
    assert request.include_genres == ("Sci-Fi",)


def test_new_request_resets(catalog: Catalog, nineties_scifi: SearchState) -> None:
    request = parse("a romantic movie set in Paris", catalog, nineties_scifi)
    assert not request.follow_up
    assert not request.has_years
    assert request.include_genres == ("Romance",)


def test_state_is_json_serialisable(catalog: Catalog) -> None:
    request = parse("hidden gem 90s sci-fi like the matrix, no horror", catalog)
    state = request.next_state([1, 2, 3])
    data = json.loads(json.dumps(state.to_dict()))
    assert SearchState.from_dict(data) == state
    assert state.reference_id == 6 and state.popularity == "hidden"
    # A dict from the app's session works as ``previous`` too.
    follow = parse_request("no comedy", catalog, data)
    assert follow.exclude_genres == ("Horror", "Comedy")
    assert SearchState.from_dict({"bogus": 1, "popularity": "weird"}) == SearchState()


def test_empty_follow_up_keeps_the_previous_request(
    catalog: Catalog, nineties_scifi: SearchState
) -> None:
    request = parse("?!", catalog, nineties_scifi)
    assert request.include_genres == ("Sci-Fi",) and request.year_min == 1990


# -- cleaning and odd input -----------------------------------------------------------------------
def test_reddit_noise_is_removed(catalog: Catalog) -> None:
    raw = (
        "[TOMT] [Movie] [late 90s-early 2000] dark snow white-like movie?\n"
        "Tip of my tongue: a knife in a vanity, a travelling circus. "
        "Link: https://example.com/x?y=1 Thanks in advance!"
    )
    cleaned = clean_request(raw)
    for noise in ("TOMT", "[Movie]", "https", "Thanks in advance", "Tip of my tongue"):
        assert noise.lower() not in cleaned.lower()
    request = parse(raw, catalog)
    assert (request.year_min, request.year_max) == (1996, 2004)
    assert "knife" in request.text and "snow white" in request.text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "?!?!...",
        "x" * 5000,
        "horror " * 1000,
        "like like like like",
        "1990 1991 1992 " * 200,
        "no no no not without",
        "🎬🍿 película de miedo",
        "[[[[]]]]((()))",
        "like " + "the " * 500,
    ],
)
def test_odd_input_never_raises(catalog: Catalog, text: str) -> None:
    request = parse(text, catalog)
    assert isinstance(request.understood(), list)
    assert isinstance(request.next_state([]).to_dict(), dict)


def test_only_punctuation_is_empty(catalog: Catalog) -> None:
    assert parse("?!?!...", catalog).is_empty()
    assert not parse("space", catalog).is_empty()
    assert not parse("no horror", catalog).is_empty()  # an exclusion alone is a request


def test_understood_phrases(catalog: Catalog) -> None:
    request = parse("hidden gem comedies from the 1990s like Alien, no horror", catalog)
    understood = request.understood()
    assert "years 1990–1999" in understood
    assert "genre: Comedy" in understood
    assert "excluding: Horror" in understood
    assert "like: Alien (1979)" in understood
    assert "hidden gems" in understood


def test_adversarial_input_parses_fast(catalog: Catalog) -> None:
    import time

    texts = [
        "the " * 3000 + "xyz",
        "like " + "the " * 3000 + "x",
        "early to mid " * 800 + "90s",
        "no " * 4000,
        "[" * 5000 + "]" * 5000,
        " - " * 4000,
    ]
    started = time.perf_counter()
    for text in texts:
        parse(text, catalog)
    assert time.perf_counter() - started < 3.0


@pytest.mark.parametrize(
    ("text", "window"),
    [("a mid to late 2000s horror", (2003, 2009)), ("early to mid 90s", (1990, 1997))],
)
def test_decade_part_ranges(catalog: Catalog, text: str, window: tuple[int, int]) -> None:
    request = parse(text, catalog)
    assert (request.year_min, request.year_max) == window
    assert "mid" not in request.text and "'s" not in request.text
