"""parse_request as a whole: popularity wishes, Reddit noise, odd input, understood phrases."""

from __future__ import annotations

import pytest

from core.data.catalog import Catalog
from core.search.request import (
    clean_request,
)
from tests.search.parsing import parse


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
