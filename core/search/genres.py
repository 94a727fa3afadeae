"""Genre wishes of a request: genre words and synonyms, negations ("no horror"), comparatives.

Turns words into included, excluded and preferred MovieLens genres (only those the catalogue has);
the phrase tables live in :mod:`core.search.vocabulary`. No years, titles or follow-ups here.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from core.search.cleaning import Spans
from core.search.vocabulary import (
    COMPARATIVE_LOOKUP,
    COMPARATIVE_RE,
    GENRE_LOOKUP,
    GENRE_RE,
    NEGATION_BEFORE,
    ONLY_RE,
    PLOT_GENRE_WORDS,
    VAGUE_IN_STORIES,
)


class GenreWishes(NamedTuple):
    """Genres every result must have, none may have, and that only lift a result."""

    include: list[str]
    exclude: list[str]
    prefer: list[str]


def find_genres(cleaned: str, narrative: bool, genres: set[str], spans: Spans) -> GenreWishes:
    """The genre wishes of ``cleaned``; consumed words go to ``spans``.

    In a narrative request genres are preferences unless it says "only"; a short request's
    genres are required. A negation right before a genre word excludes it.
    """
    include: list[str] = []
    exclude: list[str] = []
    prefer: list[str] = []
    only = bool(ONLY_RE.search(cleaned))
    _comparatives(cleaned, genres, spans, exclude, prefer)
    target = prefer if narrative and not only else include
    _genre_words(cleaned, narrative, genres, spans, target, exclude)
    if only:
        for match in ONLY_RE.finditer(cleaned):
            spans.add(*match.span())
    include = [g for g in include if g not in exclude]
    prefer = [g for g in prefer if g not in exclude and g not in include]
    return GenreWishes(include, exclude, prefer)


def _comparatives(
    cleaned: str, genres: set[str], spans: Spans, exclude: list[str], prefer: list[str]
) -> None:
    """Comparatives: "funnier", "more romantic" prefer a genre; "no more horror" excludes it."""
    for match in COMPARATIVE_RE.finditer(cleaned):
        before = cleaned[max(0, match.start() - 40) : match.start()]
        negation = NEGATION_BEFORE.search(before)
        target = exclude if negation else prefer  # "no more horror" excludes
        for genre in genres_of(match.group(0), COMPARATIVE_LOOKUP):
            if genre in genres and genre not in target:
                target.append(genre)
        start = match.start() - (len(before) - negation.start()) if negation else match.start()
        spans.add(start, match.end())


def _genre_words(
    cleaned: str,
    narrative: bool,
    genres: set[str],
    spans: Spans,
    target: list[str],
    exclude: list[str],
) -> None:
    """Genre words and synonyms: negated ones go to ``exclude``, the others to ``target``."""
    lower = cleaned.lower()
    for match in GENRE_RE.finditer(cleaned):
        if spans.taken(*match.span()):
            continue
        found = [g for g in genres_of(match.group(0), GENRE_LOOKUP) if g in genres]
        if not found:
            continue
        term = match.group(0).lower()
        if narrative and term in VAGUE_IN_STORIES:
            continue
        if (
            not narrative
            and term in {"sf", "docs", "kid"}
            and not re.search(rf"\b{term}\s+(?:movies?|films?)\b", lower)
        ):
            continue  # "sf", "docs", "kid" count only as "sf movies", "kid movies"
        negation = NEGATION_BEFORE.search(cleaned[max(0, match.start() - 40) : match.start()])
        if negation:
            start = match.start() - (
                len(cleaned[max(0, match.start() - 40) : match.start()]) - negation.start()
            )
            for genre in found:
                if genre not in exclude:
                    exclude.append(genre)
            spans.add(start, match.end())
            continue
        for genre in found:
            if genre not in target:
                target.append(genre)
        if not PLOT_GENRE_WORDS.match(term):
            spans.add(*match.span())


def genres_of(term: str, lookup: list[tuple[re.Pattern[str], tuple[str, ...]]]) -> tuple[str, ...]:
    """The genres of the first ``lookup`` pattern matching the whole ``term``."""
    for pattern, genres in lookup:
        if pattern.match(term.strip()):
            return genres
    return ()
