"""Finding movies and people named in chat text.

Chat writes a title with its year ("I loved The Lost Boys (1987)"), so the year is a strong
clue: the words just before it are compared with the titles of that year only (a few hundred),
typo-tolerantly, and the year is then spent -- it never becomes a year filter. Plain titles
count only after a cue ("like", "loved", "seen", "my favorite is") and must pass the strict
lookup of :mod:`core.search.references`, so "I like action movies" does not find a movie
called "Action".
People come from the catalogue's ``directors`` and ``cast`` columns.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from core.data.catalog import Catalog, normalise_title
from core.search.references import TITLE_END, TITLE_KEYS, plausible_title

#: "(1987)": a title's year in ReDial-style chat.
YEAR_MENTION_RE = re.compile(r"\(\s*(?P<y>18[89]\d|19\d\d|20[0-4]\d)\s*\)")
#: Cues after which a plain title may follow.
TITLE_CUE_RE = re.compile(
    r"\b(?:(?:movies?|films?|something|anything|stuff|ones?)\s+)?(?:like|similar\s+to|such\s+as|"
    r"(?:i\s+)?(?:really\s+)?(?:liked|loved|enjoyed|adored)|fans?\s+of|"
    r"(?:i\s+(?:have|'ve)\s+|i'?ve\s+|already\s+|just\s+)?(?:seen|watched|saw)|"
    r"(?:hated|disliked|didn'?t\s+like|did\s+not\s+like|can'?t\s+stand)|"
    r"favou?rite\s+(?:movie|film)?\s*(?:is|was|of\s+all\s+time\s+is)|other\s+than|"
    r"in\s+the\s+(?:vein|style)\s+of)\s+",
    re.I,
)
NEGATIVE_BEFORE_RE = re.compile(
    r"(?:hated?|disliked?|didn'?t\s+(?:like|enjoy|love)|did\s+not\s+(?:like|enjoy)|"
    r"not\s+(?:a\s+)?(?:big\s+)?fan\s+of|can'?t\s+stand|couldn'?t\s+stand|boring|"
    r"wasn'?t\s+(?:a\s+)?fan\s+of|not\s+into)\W+(?:\w+\W+){0,3}$",
    re.I,
)
NEGATIVE_AFTER_RE = re.compile(
    r"^\W*(?:(?:was|is|were)\s+(?:so\s+|really\s+|too\s+)?(?:boring|awful|terrible|bad|"
    r"horrible|overrated|stupid|dumb)|sucked|sucks)\b",
    re.I,
)
SEEN_BEFORE_RE = re.compile(
    r"(?:seen|watched|saw|other\s+than|besides|apart\s+from)\W+(?:\w+\W+){0,2}$", re.I
)
#: Words a plain title mention may not be made of alone (genres, moods, chat words).
_NOT_TITLES = frozenset(
    """action comedy comedies horror drama dramas thriller thrillers romance romantic crime war
    western westerns musical musicals animation animated documentary documentaries fantasy
    mystery sci fi scifi adventure adventures family kids children superhero superheroes scary
    funny movies movie films film them those these that this it something anything all
    everything that one""".split()  # noqa: SIM905
)
MIN_PLAIN_RATINGS = 5  # a plain (year-less) mention must name a movie people rate


@dataclass(frozen=True)
class Mention:
    """One movie named in the text, where, and how the person feels about it."""

    movie_id: int
    title: str
    start: int
    end: int
    sentiment: str  # "liked", "disliked" or "seen"


class TitleFinder:
    """Title mentions in chat text for one catalogue (build once, reuse for every turn)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.keys = TITLE_KEYS.get(catalog)
        self.n_ratings = catalog.rating_stats["n_ratings"].to_numpy(dtype=np.int64)
        years = catalog.years
        shown = catalog.movies["display_title"].fillna("").astype(str).tolist()
        self.by_year: dict[int, tuple[list[str], list[int]]] = {}
        for item, title in enumerate(shown):
            if not np.isfinite(years[item]):
                continue
            main, _, alt = title.partition(" (")
            variants = {main, alt.rstrip(")"), re.split(r" - ", main, maxsplit=1)[0],
                        re.split(r":", main, maxsplit=1)[0]}  # fmt: skip
            keys, items = self.by_year.setdefault(int(years[item]), ([], []))
            for variant in variants:
                key = normalise_title(variant)
                if len(key) >= 2:
                    keys.append(key)
                    items.append(item)

    def find(self, text: str) -> list[Mention]:
        """Every title mention, in text order, without overlaps."""
        found = self._dated(text)
        taken = [(m.start, m.end) for m in found]
        found += self._plain(text, taken)
        return sorted(found, key=lambda m: m.start)

    # -- "Title (year)" ----------------------------------------------------------------------
    def _dated(self, text: str) -> list[Mention]:
        out: list[Mention] = []
        boundary = 0
        for match in YEAR_MENTION_RE.finditer(text):
            year = int(match.group("y"))
            best = self._match_before(text, boundary, match.start(), year)
            if best is not None:
                item, start = best
                out.append(self._mention(text, item, start, match.end()))
            boundary = match.end()
        return out

    def _match_before(self, text: str, lo: int, hi: int, year: int) -> tuple[int, int] | None:
        """(item, start) of the title that ends right before ``hi``, among movies of ``year``
        (one year off allowed, at a small cost)."""
        words = list(re.finditer(r"\S+", text[lo:hi]))[-10:]
        if not words:
            return None
        best: tuple[float, int, int] | None = None  # score, item, start
        for n in range(1, len(words) + 1):
            start = lo + words[-n].start()
            key = normalise_title(text[start:hi])
            if len(key) < 2:
                continue
            for offset, penalty in ((0, 0.0), (-1, 4.0), (1, 4.0)):
                keys, items = self.by_year.get(year + offset, ([], []))
                if not keys:
                    continue
                hit = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=78)
                if hit is None:
                    continue
                score = float(hit[1]) - penalty + 0.01 * n  # ties: the longer span
                if best is None or score > best[0]:
                    best = (score, items[hit[2]], start)
        if best is None:
            return None
        return best[1], best[2]

    # -- plain titles after a cue ----------------------------------------------------------------
    def _plain(self, text: str, taken: list[tuple[int, int]]) -> list[Mention]:
        out: list[Mention] = []
        # A list goes on after a mention: "Frozen (2013) or The Princess and the Frog".
        chained = [
            m.end()
            for e in list(taken)
            if (m := re.compile(r"\s*(?:,|and|or|&)\s+(?=[A-Z0-9])").match(text, e[1]))
        ]
        starts = sorted([cue.end() for cue in TITLE_CUE_RE.finditer(text)] + chained)
        for start in starts:
            if any(s <= start < e for s, e in taken):
                continue
            tail = text[start : start + 100]
            stop = TITLE_END.search(tail)
            span = tail[: stop.start()] if stop else tail
            words = span.split()[:7]
            for n in range(len(words), 0, -1):
                name = " ".join(words[:n])
                item = self._plain_item(name, text, start)
                if item is None:
                    continue
                end = start + len(span) - len(span.lstrip()) + len(name)
                if any(s < end and start < e for s, e in taken):
                    break
                out.append(self._mention(text, item, start, end))
                taken.append((start, end))
                break
        return out

    def _plain_item(self, name: str, text: str, position: int) -> int | None:
        lowered = name.lower().strip(" '\"")
        if all(w in _NOT_TITLES for w in re.findall(r"[\w']+", lowered)):
            return None
        if not plausible_title(name, False, text, position):
            return None
        if not name[:1].isupper() and len(lowered.split()) < 2:
            return None  # a lower-case single word after "like" is a description
        item = self.keys.best(name)
        if item is None or self.n_ratings[item] < MIN_PLAIN_RATINGS:
            return None
        return item

    def _mention(self, text: str, item: int, start: int, end: int) -> Mention:
        before = text[max(0, start - 50) : start]
        after = text[end : end + 40]
        if NEGATIVE_BEFORE_RE.search(before) or NEGATIVE_AFTER_RE.search(after):
            sentiment = "disliked"
        elif SEEN_BEFORE_RE.search(before):
            sentiment = "seen"
        else:
            sentiment = "liked"
        movie_id = int(self.catalog.movie_ids[item])
        return Mention(movie_id, self.catalog.title_of(movie_id), start, end, sentiment)


class PeopleIndex:
    """Directors and leading actors of the catalogue, found by full name in chat text."""

    def __init__(self, catalog: Catalog, cast_top: int = 5) -> None:
        self.items: dict[str, list[int]] = {}
        self.names: dict[str, str] = {}
        movies = catalog.movies
        for column, top in (("directors", 3), ("cast", cast_top)):
            if column not in movies.columns:
                continue
            for item, value in enumerate(movies[column].fillna("").astype(str).tolist()):
                for name in [p.strip() for p in value.split("|") if p.strip()][:top]:
                    key = name.lower()
                    if len(key.split()) < 2:
                        continue  # single names ("Madonna") collide with ordinary words
                    self.items.setdefault(key, []).append(item)
                    self.names.setdefault(key, name)
        self._keys = list(self.items)

    def find(self, text: str) -> list[tuple[str, str]]:
        """(catalogue name, words as written) of each person mentioned: exact full names, or a
        close typo of a capitalised two-word name."""
        found: list[tuple[str, str]] = []
        words = re.findall(r"[A-Za-z][\w'.-]*", text)
        for n in (3, 2):
            for i in range(len(words) - n + 1):
                chunk = " ".join(words[i : i + n])
                key = chunk.lower()
                if key in self.items:
                    name = self.names[key]
                elif n == 2 and all(w[:1].isupper() for w in words[i : i + n]) and self._keys:
                    hit = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=88)
                    name = self.names[hit[0]] if hit else ""
                else:
                    name = ""
                if name and name not in [f[0] for f in found]:
                    found.append((name, chunk))
        return found

    def movies_of(self, name: str) -> list[int]:
        """Item indices of a person's movies."""
        return self.items.get(name.lower(), [])


_CACHE: dict[int, tuple[weakref.ref[Catalog], TitleFinder, PeopleIndex]] = {}


def finders(catalog: Catalog) -> tuple[TitleFinder, PeopleIndex]:
    """The title finder and people index of a catalogue, built once per live catalogue."""
    entry = _CACHE.get(id(catalog))
    if entry is not None and entry[0]() is catalog:
        return entry[1], entry[2]
    titles, people = TitleFinder(catalog), PeopleIndex(catalog)
    _CACHE[id(catalog)] = (weakref.ref(catalog), titles, people)
    if len(_CACHE) > 4:
        _CACHE.pop(next(iter(_CACHE)))
    return titles, people
