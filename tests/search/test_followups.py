"""Follow-up turns: shifted windows, ordinals, exclusions, state, empty follow-ups."""

from __future__ import annotations

import json

import pytest

from core.data.catalog import Catalog
from core.search.request import (
    NO_EARLIER_ANSWER,
    SearchState,
    parse_request,
)
from tests.search.parsing import parse


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
