"""Property-based fuzz of the two request readers: any text, however odd, gives a well-formed
reading and never an exception (Hypothesis; examples mix free text with the words, titles,
years and markers the readers look for)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.chat.turn import understand
from core.data.catalog import Catalog
from core.search.request import parse_request

#: Pieces the readers act on, so generated requests reach their rules, not only the fallback.
PIECES = [
    "like", "not", "but", "no", "without", "more", "less", "older", "newer", "#2", "the last one",
    "seen it", "80s", "1990s", "from 1985", "before 2000", "after 1970", "between 1990 and 1980",
    "2099", "0", "-1", "99999999999999999999", "comedy", "horror", "sci-fi", "drama", "romance",
    "for kids", "popular", "hidden gem", "Toy Story", "It", "Her", "Heat", "I loved", "hated",
    '"', "'", ",", "(", ")", "[", "]", "*", "_", "`", "<b>", "&amp;", "\x00", "\u202e", "\n",
    "\t", "🎬", "é", "ß", "İ", ":material/home:", "  ",
]  # fmt: skip
REQUESTS = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=14).map(
    " ".join
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every run, CI included
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


@FUZZ
@given(text=REQUESTS)
def test_parse_request_reads_anything_into_a_well_formed_request(
    catalog: Catalog, text: str
) -> None:
    request = parse_request(text, catalog)
    genres = set(catalog.genre_names)
    assert set(request.include_genres) <= genres and set(request.exclude_genres) <= genres
    assert not set(request.include_genres) & set(request.exclude_genres)
    if request.year_min is not None and request.year_max is not None:
        assert request.year_min <= request.year_max
    if request.reference_id is not None:
        assert request.reference_id in set(catalog.movies["movieId"])
    assert not CONTROL.search(request.text)
    assert len(request.raw) <= len(text)


@FUZZ
@given(
    first=REQUESTS,
    second=REQUESTS,
    shown=st.lists(st.integers(min_value=-5, max_value=40), max_size=10),
)
def test_a_follow_up_of_anything_is_read_too(
    catalog: Catalog, first: str, second: str, shown: list[int]
) -> None:
    state = parse_request(first, catalog).next_state(shown)
    later = parse_request(second, catalog, state)
    if later.year_min is not None and later.year_max is not None:
        assert later.year_min <= later.year_max
    if later.reference_id is not None:
        assert later.reference_id in set(catalog.movies["movieId"])
    assert not set(later.include_genres) & set(later.exclude_genres)


@FUZZ
@given(text=REQUESTS, shown=st.lists(st.integers(min_value=-5, max_value=40), max_size=10))
def test_understand_reads_anything_into_a_well_formed_turn(
    catalog: Catalog, text: str, shown: list[int]
) -> None:
    turn = understand(text, catalog, shown)
    ids = set(catalog.movies["movieId"])
    assert set(turn.liked) <= ids and set(turn.disliked) <= ids
    genres = set(catalog.genre_names)
    assert set(turn.genres) <= genres and set(turn.exclude_genres) <= genres
    if turn.year_min is not None and turn.year_max is not None:
        assert turn.year_min <= turn.year_max
    assert not CONTROL.search(turn.moods)
