"""Title mentions in a request: which movie "like Alien but funnier" refers to.

A strict exact-or-typo lookup of normalised titles per catalogue (:class:`TitleKeys`, cached)
and the rules for when words after "like" may be a title. It must not search plots or genres.
"""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from core.data.catalog import Catalog, normalise_title
from core.search.cleaning import Spans
from core.search.vocabulary import YEAR

REFERENCE_TRIGGER = re.compile(
    r"(?:\b(?P<head>movies?|films?|something|anything|stuff|ones?|shows?)\s+)?"
    r"\b(?:(?:just|kind of|sort of|a bit|a little|more)\s+)?"
    r"(?P<trigger>like|similar to|such as|reminiscent of|in the (?:vein|style|spirit) of|"
    r"along the lines of|(?:the )?same (?:vibe|feel|feeling|style) as|comparable to|akin to|"
    r"resembling|in the same (?:vein|league) as|fans? of|if (?:i|you) (?:liked|loved|enjoyed)|"
    r"i (?:liked|loved|enjoyed|really liked|really loved)|vibes? of)\s+",
    re.I,
)
# Where a title mention ends: punctuation or words that start a new clause.
TITLE_END = re.compile(
    r"[,.;:!?()\[\]\"\n]|\s(?:but|except|only|though|although|however|without|just|"
    r"please|plz|pls|and also|or something|set in|from the|in the (?:\d0s|19|20)|that|which|"
    r"who|where|because|since|so|if|except|maybe|instead)\b",
    re.I,
)

# Common words that happen to be titles ("It", "Her", "Up", "Us", "Them!"): only a capitalised
# mention in the middle of a sentence may refer to the movie.
COMMON_TITLE_WORDS = frozenset(
    """it her him up us them this that these those something anything everything nothing one ones
    you me we they he she home love life time war run go big now then here there more most other
    others another same such what who why how when where which thing things stuff movie movies
    film films show shows series story stories old new""".split()  # noqa: SIM905
)


class TitleKeys:
    """Exact and fuzzy lookup of reference titles by normalised key (strict, unlike search)."""

    def __init__(self, catalog: Catalog) -> None:
        movies = catalog.movies
        self.movie_ids = catalog.movie_ids
        self.years = movies["year"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        self.n_ratings = catalog.rating_stats["n_ratings"].to_numpy(dtype=np.int64)
        years = self.years[np.isfinite(self.years)]
        self.max_year = int(years.max()) if len(years) else 2020
        self.min_year = int(years.min()) if len(years) else 1880
        self.exact: dict[str, list[int]] = {}
        shown = movies["display_title"].fillna("").astype(str).tolist()
        for item, title in enumerate(shown):
            main, _, alt = title.partition(" (")
            # "Star Wars" names "Star Wars: Episode IV - A New Hope" (the most rated episode
            # wins the tie below).
            series = re.split(r":| - ", main, maxsplit=1)[0]
            for variant in {main, title, alt.rstrip(")"), series}:
                key = normalise_title(variant)
                if len(key) >= 2:
                    self.exact.setdefault(key, []).append(item)
        self.keys = list(self.exact)

    def best(self, text: str, year: int | None = None) -> int | None:
        """Item index of the title ``text`` names, or ``None``; exact keys first, then typos."""
        key = normalise_title(text)
        if len(key) < 2:
            return None
        items = self.exact.get(key)
        if items is None and len(key) >= 6:
            # Typos, transpositions included ("matirx"), by edit distance over whole keys: no
            # partial matching, which would let "alien but funnier" hit "Alien".
            limit = 1 if len(key) < 10 else 2 if len(key) < 16 else 3
            found = process.extractOne(key, self.keys, scorer=OSA.distance, score_cutoff=limit)
            if found is not None:
                items = self.exact[found[0]]
        if not items:
            return None
        ranked = sorted(
            items,
            key=lambda i: (
                0 if year is not None and self.years[i] == year else 1,
                -int(self.n_ratings[i]),
                i,
            ),
        )
        return int(ranked[0])


class KeysCache:
    """Bounded cache of :class:`TitleKeys` per live catalogue (a few catalogues at most)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[weakref.ref[Catalog], TitleKeys]] = OrderedDict()

    def get(self, catalog: Catalog) -> TitleKeys:
        """The catalogue's lookup, made on first use."""
        entry = self._entries.get(id(catalog))
        if entry is not None and entry[0]() is catalog:
            self._entries.move_to_end(id(catalog))
            return entry[1]
        keys = TitleKeys(catalog)
        self._entries[id(catalog)] = (weakref.ref(catalog), keys)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return keys


#: The title lookups of the catalogues parsed lately (one per live catalogue).
TITLE_KEYS = KeysCache()


def find_reference(cleaned: str, catalog: Catalog, narrative: bool, spans: Spans) -> int | None:
    """The movieId a "like <title>" style mention names (first good one wins), or None."""
    keys = TITLE_KEYS.get(catalog)
    for trigger in REFERENCE_TRIGGER.finditer(cleaned):
        kind = trigger.group("trigger").lower()
        if narrative and kind == "like" and not trigger.group("head"):
            # In a plot description "like" is mostly a comparison ("looks like Eddie
            # Murphy", "like 10 years ago"); only "a movie like X" names a reference there.
            continue
        start = trigger.end()
        tail = cleaned[start : start + 120]
        end_match = TITLE_END.search(tail)
        span_text = tail[: end_match.start()] if end_match else tail
        words = span_text.split()[:8]
        if not words:
            continue
        # Longest prefix first, so "the usual suspects" beats "the usual".
        for n in range(len(words), 0, -1):
            candidate = " ".join(words[:n])
            year_match = re.search(rf"\(?\b({YEAR})\b\)?\s*$", candidate)
            year = int(year_match.group(1)) if year_match else None
            name = candidate[: year_match.start()].strip() if year_match else candidate
            if not plausible_title(name, narrative, cleaned, start):
                continue
            item = keys.best(name, year)
            if item is None:
                continue
            end = (
                start
                + len(" ".join(span_text.split()[:n]))
                + (len(span_text) - len(span_text.lstrip()))
            )
            spans.add(trigger.start(), end)
            return int(keys.movie_ids[item])
    return None


def plausible_title(name: str, narrative: bool, text: str, position: int) -> bool:
    """Whether ``name`` may be a title mention rather than ordinary words."""
    stripped = name.strip(" '\"")
    if len(normalise_title(stripped)) < 2:
        return False
    words = stripped.split()
    lowered = stripped.lower()
    if re.match(r"^\d+\s+(?:years?|months?|weeks?|days?|hours?|minutes?|times?)\b", lowered):
        return False  # "like 10 years ago"
    capitalised = stripped[:1].isupper() or stripped[:1].isdigit()
    if lowered.split()[0] in {"a", "an"} and not capitalised:
        return False  # "like a haunted house" is a description, not "A Haunted House"
    if len(words) == 1 and lowered in COMMON_TITLE_WORDS:
        # "movies like it": only a capitalised "It" that is not the sentence's first word.
        at_start = position == 0 or text[:position].rstrip().endswith((".", "!", "?", "\n"))
        return capitalised and not at_start and stripped.upper() != stripped.lower()
    if all(w.lower() in COMMON_TITLE_WORDS | {"the", "a", "an", "of", "and"} for w in words):
        return capitalised and not narrative
    # Plot descriptions say "like" constantly ("looked like a giant"); trust only titles
    # written as titles there.
    return capitalised or not narrative
