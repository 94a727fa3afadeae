"""Typo-tolerant title lookup."""

from __future__ import annotations

import pytest

from core.data.catalog import display_title, normalise_title
from core.data.titles import TitleMatcher


@pytest.fixture(scope="module")
def matcher(tiny_catalog) -> TitleMatcher:
    return TitleMatcher(tiny_catalog)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("usual suspects", "The Usual Suspects (1995)"),
        ("the matrix", "The Matrix (1999)"),
        ("matrix", "The Matrix (1999)"),
        ("termnator", "The Terminator (1984)"),
        ("alien", "Alien (1979)"),
        ("aliens 1986", "Aliens (1986)"),
        ("NOTTING HILL", "Notting Hill (1999)"),
        ("star wars", "Star Wars: Episode IV - A New Hope (1977)"),
    ],
)
def test_best_match(matcher: TitleMatcher, typed: str, expected: str) -> None:
    best = matcher.best(typed)
    assert best is not None and best.title == expected


@pytest.mark.parametrize("typed", ["", "   ", "qqqqzzzz xxyy", "!!!"])
def test_nonsense_matches_nothing(matcher: TitleMatcher, typed: str) -> None:
    assert matcher.best(typed) is None


def test_display_and_normalised_titles() -> None:
    assert display_title("Matrix, The") == "The Matrix"
    assert display_title("Shawshank Redemption, The (1994)") == "The Shawshank Redemption (1994)"
    assert display_title("Amelie (Fabuleux destin d'Amélie Poulain, Le)").startswith("Amelie")
    assert normalise_title("Matrix, The") == normalise_title("The Matrix") == "matrix"
    assert display_title(None) == ""
