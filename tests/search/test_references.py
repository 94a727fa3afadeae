"""Reference titles in requests ("like Alien"): exact, typos, ordinary words."""

from __future__ import annotations

import pytest

from core.data.catalog import Catalog
from tests.search.parsing import parse


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
