"""Follow-up turns: "older", "more like the second one", "no horror" after an earlier answer.

Finds follow-up markers, decides whether a request refines the previous turn, and merges it
with the previous :class:`~core.search.parsed.SearchState`. It must not parse genres or years.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd

from core.data.catalog import Catalog
from core.search.cleaning import Spans
from core.search.parsed import ParsedRequest, SearchState
from core.search.vocabulary import OLD_RE, RECENT_RE

#: The note of a follow-up ("more like the second one", "older") sent before any answer.
NO_EARLIER_ANSWER = "there's no earlier answer to refer to yet — describe a movie first"

ORDINALS = {
    # Ordinal words of "more like the second one" (shared with the chat's turn reading).
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
    "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1,
}  # fmt: skip
ORDINAL_RE = re.compile(
    r"\b(?:(?:more\s+)?(?:like|than|similar to)\s+)?(?:the\s+)?"
    rf"(?:(?P<word>{'|'.join(ORDINALS)})(?:\s+(?:one|movie|film|result|pick|suggestion))?"
    r"|(?:#|number\s*|no\.\s*|num\s*)(?P<num>\d{1,2})(?:\s+(?:one|movie|film))?)\b",
    re.I,
)
OLDER_RE = re.compile(
    r"\b(?:something\s+|anything\s+|a\s+bit\s+|bit\s+|even\s+|much\s+)?"
    r"(?:older|earlier|less recent|more dated|older ones?)\b",
    re.I,
)
NEWER_RE = re.compile(
    r"\b(?:something\s+|anything\s+|a\s+bit\s+|bit\s+|even\s+|much\s+)?"
    r"(?:newer|more recent|more modern|later ones?|newer ones?)\b",
    re.I,
)
_FOLLOW_UP_START = re.compile(
    r"^\s*(?:and|but|also|what about|how about|now|ok(?:ay)?|same but|same|only|just|instead|"
    r"actually|rather|maybe|what if|then|too|any|less|more|without|no|not|exclude|remove|drop|"
    r"except|skip)\b",
    re.I,
)
# A message that points into an earlier answer: "more like the second one", "the 3rd one
# please", "like #2". Anchored at the start so "like Alien, the first one" stays a title request.
_ORDINAL_FOLLOW_UP = re.compile(
    r"^(?:(?:ok(?:ay)?|and|now|so|but|then|hmm+)[,\s]+)?"
    r"(?:(?:something|anything|movies?|films?|more|even|just|a\s+bit)\s+)*"
    r"(?:(?:like|than|similar\s+to)\s+(?:the\s+)?#\s*\d{1,2}\b"
    rf"|(?:(?:like|than|similar\s+to)\s+)?the\s+(?:{'|'.join(ORDINALS)})\s+ones?\b)",
    re.I,
)
# Words allowed around a bare "older"/"newer" that is only a refinement of an earlier answer.
_BARE_SHIFT_WORDS = frozenset(
    """something anything please pls plz one ones ok okay and but now then maybe a bit little
    even much slightly go""".split()  # noqa: SIM905
)


def follow_up_markers(
    cleaned: str, previous: SearchState | None, spans: Spans
) -> tuple[int | None, int]:
    """The movieId an ordinal points at ("more like the second one") and the year shift asked
    for (-1 "older", +1 "newer", 0 none); consumed words go to ``spans``."""
    follow_ref: int | None = None
    shift: int = 0
    if previous is not None:
        if previous.result_ids:
            for match in ORDINAL_RE.finditer(cleaned):
                whole = match.group(0).lower()
                # "the first one" alone is ambiguous in a new request; require "like"/"one"/"#".
                if not re.search(
                    r"like|than|similar|one|movie|film|result|pick|#|number|no\.", whole
                ):
                    continue
                if match.group("word"):
                    pos = ORDINALS[match.group("word").lower()]
                else:
                    pos = int(match.group("num"))
                index = len(previous.result_ids) - 1 if pos == -1 else pos - 1
                if 0 <= index < len(previous.result_ids):
                    follow_ref = int(previous.result_ids[index])
                    spans.add(*match.span())
                    break
        for match in OLDER_RE.finditer(cleaned):
            shift = -1
            spans.add(*match.span())
        for match in NEWER_RE.finditer(cleaned):
            shift = 1
            spans.add(*match.span())
    return follow_ref, shift


def needs_earlier_answer(cleaned: str, previous: SearchState | None) -> bool:
    """A follow-up that only makes sense after an answer ("more like the second one", a bare
    "older"), sent when there is none. Conservative: only a message that starts with the
    ordinal reference, or "older"/"newer" with nothing but filler words around it."""
    if previous is not None and previous.result_ids:
        return False
    if _ORDINAL_FOLLOW_UP.match(cleaned):
        return True
    if previous is not None and previous.query.strip():
        return False  # "older" still shifts the previous request's window
    if not (OLDER_RE.search(cleaned) or NEWER_RE.search(cleaned)):
        return False
    if OLD_RE.search(cleaned) or RECENT_RE.search(cleaned):
        return False  # "older movies", "more recent": a request of their own
    rest = NEWER_RE.sub(" ", OLDER_RE.sub(" ", cleaned)).lower()
    return all(word in _BARE_SHIFT_WORDS for word in re.findall(r"[\w']+", rest))


def is_follow_up(
    request: ParsedRequest,
    previous: SearchState,
    follow_ref: int | None,
    shift: int,
    cleaned: str,
) -> bool:
    """A refinement of the previous turn rather than a new, unrelated request."""
    if follow_ref is not None or shift != 0:
        return True
    if request.narrative:
        return False
    n_words = len(cleaned.split())
    if _FOLLOW_UP_START.match(cleaned) and n_words <= 12:
        return True
    if request.prefer_genres and not request.include_genres and n_words <= 6:
        return True  # "funnier", "make it scarier"
    # Only exclusions/popularity/years and no new subject: "no horror", "hidden gems please".
    no_subject = not request.text and request.reference_id is None and not request.include_genres
    return (
        no_subject
        and n_words <= 8
        and bool(request.exclude_genres or request.popularity or request.has_years)
    )


def carry_over(request: ParsedRequest, previous: SearchState) -> ParsedRequest:
    """An empty follow-up keeps the previous constraints (so the answer does not change)."""
    return replace(
        request,
        text=previous.text,
        year_min=previous.year_min,
        year_max=previous.year_max,
        include_genres=tuple(previous.include_genres),
        prefer_genres=tuple(previous.prefer_genres),
        exclude_genres=tuple(previous.exclude_genres),
        reference_id=previous.reference_id,
        popularity=previous.popularity,
        follow_up=True,
    )


def merge(
    request: ParsedRequest,
    previous: SearchState,
    catalog: Catalog,
    shift: int,
    max_year: int,
) -> ParsedRequest:
    """Combine a follow-up with the previous turn's constraints."""
    year_min, year_max = previous.year_min, previous.year_max
    if request.has_years:
        year_min, year_max = request.year_min, request.year_max
    elif shift:
        year_min, year_max = shift_window(previous, catalog, shift, max_year)
    exclude = list(dict.fromkeys([*previous.exclude_genres, *request.exclude_genres]))
    include = [
        g
        for g in dict.fromkeys([*previous.include_genres, *request.include_genres])
        if g not in exclude
    ]
    prefer = [
        g
        for g in dict.fromkeys([*previous.prefer_genres, *request.prefer_genres])
        if g not in exclude and g not in include
    ]
    text = " ".join(t for t in (previous.text, request.text) if t).strip()
    reference_id = (
        request.reference_id if request.reference_id is not None else (previous.reference_id)
    )
    merged = replace(
        request,
        text=text,
        year_min=year_min,
        year_max=year_max,
        include_genres=tuple(include),
        prefer_genres=tuple(prefer),
        exclude_genres=tuple(exclude),
        reference_id=reference_id,
        popularity=request.popularity or previous.popularity,
        follow_up=True,
    )
    if merged.reference_id is not None:
        item = catalog.item_of.get(int(merged.reference_id))
        if item is None:
            merged.reference_id = None
            merged.reference_item = None
            merged.reference_title = None
        else:
            merged.reference_item = item
            merged.reference_title = catalog.title_of(int(merged.reference_id))
    return merged


def shift_window(
    previous: SearchState, catalog: Catalog, direction: int, max_year: int
) -> tuple[int | None, int | None]:
    """The window just before (``direction=-1``) or after (``+1``) the previous one.

    Without a previous window, the previous answer's median year is the pivot.
    """
    lo, hi = previous.year_min, previous.year_max
    if lo is not None and hi is not None:
        width = max(hi - lo + 1, 10)
        return (lo - width, lo - 1) if direction < 0 else (hi + 1, min(hi + width, max_year))
    if direction < 0 and lo is not None:
        return None, lo - 1
    if direction > 0 and hi is not None:
        return hi + 1, None
    pivot: int | None = None
    items = [catalog.item_of[m] for m in previous.result_ids if m in catalog.item_of]
    if items:
        years = pd.to_numeric(catalog.movies["year"].iloc[items], errors="coerce").dropna()
        if len(years):
            pivot = int(years.median())
    if pivot is None:
        pivot = max_year - 15
    return (None, pivot - 1) if direction < 0 else (pivot + 1, None)
