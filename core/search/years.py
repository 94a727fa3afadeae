"""Year windows of a request: ranges, decades, "after 1990", "recent", dated and bare years.

Each finder adds (first, last) windows; :func:`find_years` unites them into one window. Only
years: genres, titles and follow-ups are parsed elsewhere.
"""

from __future__ import annotations

import re

from core.search.cleaning import Spans
from core.search.vocabulary import (
    AFTER_RE,
    AROUND_RE,
    BARE_YEAR_RE,
    BEFORE_RE,
    DATED_YEAR_RE,
    DECADE_RE,
    DECADE_WORDS,
    LAST_YEARS_RE,
    OLD_RE,
    PART_YEAR_RE,
    RANGE_RE,
    RECENT_RE,
)

#: (first, last) year, inclusive; ``None`` is an open end.
Window = tuple[int | None, int | None]


def find_years(
    cleaned: str,
    narrative: bool,
    spans: Spans,
    min_year: int,
    max_year: int,
    notes: list[str],
) -> Window:
    """The request's year window (``(None, None)`` without one); consumed words go to ``spans``.

    ``min_year`` / ``max_year`` are the catalogue's: a year outside them is ignored with a note.
    The finders run in a fixed order: an earlier one's span shadows later, shorter readings.
    """
    windows: list[Window] = []
    _ranges(cleaned, spans, windows)
    _open_bounds(cleaned, spans, windows)
    _decades(cleaned, spans, windows)
    _dated_years(cleaned, narrative, spans, min_year, max_year, notes, windows)
    if not narrative:
        # In a short request a bare year is a constraint ("2010 thrillers"); in a story it is
        # usually when the person watched it ("I saw it in 2004"), so it is ignored there.
        _bare_years(cleaned, spans, min_year, max_year, notes, windows)
    _relative_years(cleaned, spans, max_year, windows)
    return _combine_windows(windows)


def _ranges(cleaned: str, spans: Spans, windows: list[Window]) -> None:
    """Ranges: "1990 to 1995", "between 2001 and 2005", "1995-99"."""
    for match in RANGE_RE.finditer(cleaned):
        a = int(match.group("a"))
        b_text = match.group("b").lstrip("'")
        b = int(b_text) if len(b_text) == 4 else (a // 100) * 100 + int(b_text)
        if b < a and len(b_text) == 2:
            b += 100
        if a <= b <= a + 60:
            windows.append((a, b))
            spans.add(*match.span())


def _open_bounds(cleaned: str, spans: Spans, windows: list[Window]) -> None:
    """Open bounds: "after 1990", "before the 80s", "not before 2005"."""
    for regex, is_after in ((AFTER_RE, True), (BEFORE_RE, False)):
        for match in regex.finditer(cleaned):
            if spans.taken(*match.span()):
                continue
            if match.group("y"):
                year = int(match.group("y"))
                op = match.group("op").lower()
                if is_after:
                    windows.append(
                        (year + 1 if op in ("after", "post", "later than") else year, None)
                    )
                else:
                    windows.append((None, year - 1 if op != "up to" else year))
            else:
                window = decade_window(match)
                if window is None:
                    continue
                windows.append((window[1] + 1, None) if is_after else (None, window[0] - 1))
            spans.add(*match.span())


def _decades(cleaned: str, spans: Spans, windows: list[Window]) -> None:
    """Decades: "early 2000", "late 90s", "the nineties" (not ages: "in her 20s")."""
    for match in PART_YEAR_RE.finditer(cleaned):
        if spans.taken(*match.span()):
            continue
        window = decade_window(match)
        if window:
            windows.append(window)
            spans.add(*match.span())
    for match in DECADE_RE.finditer(cleaned):
        if spans.taken(*match.span()) or _is_age(cleaned, match.start()):
            continue
        window = decade_window(match)
        if window is None:
            continue
        short = match.group("short")
        if short and int(short.lstrip("'")) in (10, 20) and not match.group("part"):
            continue  # "10s"/"20s" are mostly ages or 2010s/2020s slang: too ambiguous
        windows.append(window)
        spans.add(*match.span())


def _dated_years(
    cleaned: str,
    narrative: bool,
    spans: Spans,
    min_year: int,
    max_year: int,
    notes: list[str],
    windows: list[Window],
) -> None:
    """Dated years: "around 1995" (two years either side), "released in 2005", "(2005)"."""
    for match in AROUND_RE.finditer(cleaned):
        if not spans.taken(*match.span()):
            year = int(match.group("y"))
            windows.append((year - 2, year + 2))
            spans.add(*match.span())
    for match in DATED_YEAR_RE.finditer(cleaned):
        if not spans.taken(*match.span("y")):
            year = int(match.group("y"))
            if not min_year <= year <= max_year:
                if not narrative:  # in a story "a girl from 2077" is plot, kept
                    _note_ignored_year(notes, year)
                    spans.add(*match.span())
                continue
            # In a long description a dated year is still a memory: allow a little slack.
            windows.append((year - 1, year + 1) if narrative else (year, year))
            spans.add(*match.span("y"))


def _bare_years(
    cleaned: str,
    spans: Spans,
    min_year: int,
    max_year: int,
    notes: list[str],
    windows: list[Window],
) -> None:
    """A bare year of a short request ("2010 thrillers") is that one year."""
    for match in BARE_YEAR_RE.finditer(cleaned):
        if not spans.taken(*match.span()):
            year = int(match.group("y"))
            if min_year <= year <= max_year:
                windows.append((year, year))
            else:
                _note_ignored_year(notes, year)
            spans.add(*match.span())


def _relative_years(cleaned: str, spans: Spans, max_year: int, windows: list[Window]) -> None:
    """Relative wishes: "the last 5 years", "recent", "classic", "oldish" (newest movie based)."""
    for match in LAST_YEARS_RE.finditer(cleaned):
        if spans.taken(*match.span()):
            continue
        amount = (match.group("n") or "10").lower()
        words = {"few": 4, "couple": 2, "couple of": 2, "two": 2, "three": 3, "five": 5, "ten": 10}
        n = int(amount) if amount.isdigit() else words.get(amount, 4)
        windows.append((max_year - n + 1, None))
        spans.add(*match.span())
    for match in RECENT_RE.finditer(cleaned):
        if not spans.taken(*match.span()):
            windows.append((max_year - 5, None))
            spans.add(*match.span())
    for match in OLD_RE.finditer(cleaned):
        if spans.taken(*match.span()):
            continue
        word = match.group("w").lower()
        soft = (
            "ish" in word
            or "older" in word
            or any(w in word for w in ("fairly", "pretty", "somewhat", "kind of", "kinda"))
        )
        windows.append((None, max_year - 20 if soft else 1979))
        spans.add(*match.span())


def _note_ignored_year(notes: list[str], year: int) -> None:
    """Note a release year the catalogue has no movies from (it is ignored)."""
    note = f"no movies from {year} in this catalogue: ignored the year"
    if note not in notes:
        notes.append(note)


def decade_window(match: re.Match[str]) -> tuple[int, int] | None:
    """(first, last) year of a decade mention, narrowed by early/mid/late."""
    groups = match.groupdict()
    start: int | None = None
    if groups.get("full"):
        start = int(groups["full"])
    elif groups.get("short"):
        digits = int(groups["short"].lstrip("'"))
        start = 2000 + digits if digits <= 20 else 1900 + digits
    elif groups.get("word"):
        start = DECADE_WORDS[groups["word"].lower()]
    if start is None:
        return None
    spans = {"early": (0, 4), "mid": (3, 7), "late": (6, 9), "": (0, 9)}
    first = spans.get((groups.get("part") or "").lower(), (0, 9))
    second = (groups.get("part2") or "").lower()
    last = spans.get(second, first) if second else first  # "mid to late 90s"
    return start + first[0], start + last[1]


def _is_age(text: str, start: int) -> bool:
    """'in her 20s', 'a man in his late 40s': a decade that is an age, not a date."""
    before = text[max(0, start - 30) : start].lower()
    return bool(re.search(r"\b(?:in|into)\s+(?:his|her|their|my|our|your|the)\s*$", before)) or (
        bool(re.search(r"\b(?:his|her|their|my|our|your)\s+(?:early|mid|late)[\s-]*$", before))
    )


def _combine_windows(
    windows: list[Window],
) -> Window:
    """Closed windows unite into their hull ("late 90s or early 2000s"); open bounds
    ("after 1990", "before 2000") then narrow it."""
    if not windows:
        return None, None
    closed = [(a, b) for a, b in windows if a is not None and b is not None]
    lo: int | None = min(a for a, _ in closed) if closed else None
    hi: int | None = max(b for _, b in closed) if closed else None
    for a, b in windows:
        if a is not None and b is None:
            lo = a if lo is None else max(lo, a)
        if b is not None and a is None:
            hi = b if hi is None else min(hi, b)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return lo, hi
