"""Understanding a natural-language movie request: constraints, a reference title, free text.

``parse_request("90s sci-fi like Alien but funnier, no horror", catalog)`` finds the year window,
genres (with synonyms and negations), a reference movie (typo-tolerant), popularity wishes and
what is left for retrieval. With the previous turn's :class:`SearchState` it understands
follow-ups ("something older", "more like the second one", "no horror"). This module is the
short orchestrator: each step lives in a module named for it (:mod:`~core.search.years`,
:mod:`~core.search.genres`, :mod:`~core.search.references`, :mod:`~core.search.followups`).
Pure parsing with regular expressions and rapidfuzz: no model, no I/O, never raises on odd input.
"""

from __future__ import annotations

import re
from typing import Any

from core.data.catalog import Catalog
from core.data.titles import TitleMatcher
from core.search.cleaning import MAX_CHARS, Spans, clean_request, finish_text
from core.search.followups import (
    NO_EARLIER_ANSWER,
    carry_over,
    follow_up_markers,
    is_follow_up,
    merge,
    needs_earlier_answer,
)
from core.search.genres import find_genres
from core.search.parsed import ParsedRequest, Popularity, SearchState
from core.search.references import TITLE_KEYS, find_reference
from core.search.vocabulary import HIDDEN_RE, NEGATION_BEFORE, POPULAR_RE
from core.search.years import find_years

__all__ = [
    "MAX_CHARS",
    "NARRATIVE_WORDS",
    "NO_EARLIER_ANSWER",
    "ParsedRequest",
    "SearchState",
    "clean_request",
    "parse_request",
]

#: Cleaned requests with more words than this are "narrative" descriptions of a plot, where
#: constraints are hints (people misremember years and genres) rather than hard filters.
NARRATIVE_WORDS = 30


def parse_request(
    text: str,
    catalog: Catalog,
    previous: SearchState | dict[str, Any] | None = None,
    *,
    matcher: TitleMatcher | None = None,
) -> ParsedRequest:
    """Understand one request, optionally as a follow-up of ``previous``.

    Never raises for odd input (empty, only punctuation, 5,000 characters): such requests come
    back with empty ``text`` and no constraints. ``matcher`` is accepted for callers that
    already hold a :class:`~core.data.titles.TitleMatcher`; the strict reference lookup here keeps
    its own normalised-title index (cached per catalogue).
    """
    del matcher  # the strict exact/typo lookup below is what a *reference* needs
    if isinstance(previous, dict):
        previous = SearchState.from_dict(previous)
    raw = str(text or "")[:MAX_CHARS]
    cleaned = clean_request(raw)
    request = ParsedRequest(raw=raw, cleaned=cleaned)
    if not re.search(r"\w", cleaned):
        return carry_over(request, previous) if previous is not None else request
    request.narrative = len(cleaned.split()) > NARRATIVE_WORDS
    keys = TITLE_KEYS.get(catalog)
    if not request.narrative and needs_earlier_answer(cleaned, previous):
        # "more like the second one" or a bare "older" with nothing before it: say so, rather
        # than search for "Seconds (1966)" or the word "older".
        request.notes.append(NO_EARLIER_ANSWER)
        return request

    spans = Spans()
    # Follow-up markers first: they decide how the rest combines with the previous turn.
    follow_ref, shift = follow_up_markers(cleaned, previous, spans)
    request.year_min, request.year_max = find_years(
        cleaned, request.narrative, spans, keys.min_year, keys.max_year, request.notes
    )
    wishes = find_genres(cleaned, request.narrative, set(catalog.genre_names), spans)
    request.popularity = _find_popularity(cleaned, spans)
    # A reference title ("like Alien but funnier"); a follow-up's "#2" wins.
    if follow_ref is None:
        follow_or_title = find_reference(cleaned, catalog, request.narrative, spans)
    else:
        follow_or_title = follow_ref
    _set_reference(request, catalog, follow_or_title)
    request.include_genres = tuple(wishes.include)
    request.exclude_genres = tuple(wishes.exclude)
    request.prefer_genres = tuple(wishes.prefer)
    request.text = finish_text(spans.remove_from(cleaned))

    if previous is not None and is_follow_up(request, previous, follow_ref, shift, cleaned):
        request = merge(request, previous, catalog, shift, keys.max_year)
    return request


def _find_popularity(cleaned: str, spans: Spans) -> Popularity | None:
    """ "hidden gems" / "underrated" beat "popular" / "blockbusters" (not after a negation)."""
    popularity: Popularity | None = None
    for match in HIDDEN_RE.finditer(cleaned):
        if not spans.taken(*match.span()):
            popularity = "hidden"
            spans.add(*match.span())
    if popularity is None:
        for match in POPULAR_RE.finditer(cleaned):
            if not spans.taken(*match.span()) and not NEGATION_BEFORE.search(
                cleaned[max(0, match.start() - 20) : match.start()]
            ):
                popularity = "popular"
                spans.add(*match.span())
    return popularity


def _set_reference(request: ParsedRequest, catalog: Catalog, movie_id: int | None) -> None:
    """Point the request at ``movie_id`` (item and title), or note that the catalogue lacks it."""
    request.reference_id = movie_id
    if request.reference_id is not None:
        request.reference_item = catalog.item_of.get(int(request.reference_id))
        if request.reference_item is None:
            request.notes.append(f"unknown movie {request.reference_id}")
            request.reference_id = None
        else:
            request.reference_title = catalog.title_of(int(request.reference_id))
