"""Typo-tolerant title lookup: "usual suspects" finds "Usual Suspects, The (1995)".

Uses rapidfuzz over article-normalised titles; a year in the text ("alien 1979") narrows the
match, and popularity breaks near-ties so "alien" prefers the well-known film.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process, utils

from core.data.catalog import Catalog, display_title

# Words too common in titles to narrow a search ("the" prefixes thousands of titles).
_COMMON_WORDS = frozenset({"the", "and", "les", "der", "die", "das", "for", "with", "from"})
_YEAR = re.compile(r"\(?\b(18[89]\d|19\d\d|20\d\d)\b\)?")


@dataclass(frozen=True)
class TitleMatch:
    """One candidate movie for a typed title."""

    item: int
    movie_id: int
    title: str  # "The Usual Suspects (1995)"
    score: float  # 0..100


class TitleMatcher:
    """Fuzzy matcher over a catalogue's titles (build once, query many times)."""

    def __init__(self, catalog: Catalog) -> None:
        movies = catalog.movies
        self._catalog = catalog
        self._years = movies["year"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        shown = movies["display_title"].fillna("").astype(str)
        # Three spellings per movie, all searchable: "The Matrix (Alt title)", "Matrix, The
        # (Alt title)" and the main title alone ("Amelie" for "Amelie (Fabuleux destin...)").
        spellings = [
            shown.tolist(),
            movies["title"].fillna("").astype(str).tolist(),
            shown.str.split(" (", n=1, regex=False).str[0].tolist(),
        ]
        self._n = len(shown)
        self._choices = [utils.default_process(t) for group in spellings for t in group]
        self._prefix_index: dict[str, list[int]] = {}
        for pos, choice in enumerate(self._choices[: 2 * self._n]):
            for word in set(choice.split()):
                if len(word) >= 3 and word not in _COMMON_WORDS:
                    self._prefix_index.setdefault(word[:3], []).append(pos)
        counts = catalog.rating_stats["n_ratings"].to_numpy(dtype=np.float64)
        # Up to +4 points for the most rated movies: enough to break ties, not to beat typos.
        self._bonus = 4.0 * np.log1p(counts) / max(np.log1p(counts.max(initial=1.0)), 1.0)

    def search(self, text: str, limit: int = 5, min_score: float = 60.0) -> list[TitleMatch]:
        """Best matches for ``text``, best first; empty when nothing scores ``min_score``."""
        year_match = _YEAR.search(text or "")
        year = int(year_match.group(1)) if year_match else None
        query = _YEAR.sub(" ", text or "") if year else (text or "")
        query = utils.default_process(display_title(query.strip()))
        if not query:
            return []
        found: dict[int, float] = {}
        for pos in self._pool(query, max(limit * 8, 60)):
            choice = self._choices[pos]
            # WRatio handles partial and word-order matches; the plain ratio makes "alien"
            # prefer "Alien" over "Alien Nation" and "Aliens".
            combined = 0.7 * fuzz.WRatio(query, choice) + 0.3 * fuzz.ratio(query, choice)
            if combined >= min_score - 5:
                idx = pos % self._n
                found[idx] = max(found.get(idx, 0.0), combined)
        ranked: list[tuple[float, int]] = []
        for idx, score in found.items():
            adjusted = score + self._bonus[idx]
            if year is not None:
                adjusted += 6.0 if self._years[idx] == year else -6.0
            ranked.append((adjusted, idx))
        ranked.sort(key=lambda pair: (-pair[0], pair[1]))
        out = []
        for adjusted, idx in ranked[:limit]:
            if adjusted < min_score:
                continue
            out.append(
                TitleMatch(
                    item=idx,
                    movie_id=int(self._catalog.movie_ids[idx]),
                    title=self._catalog.title_of(int(self._catalog.movie_ids[idx])),
                    score=min(adjusted, 100.0),
                )
            )
        return out

    def _pool(self, query: str, size: int) -> set[int]:
        """Candidate spellings, cheaply: whole-string similarity plus shared word prefixes.

        WRatio over every title is too slow for a keystroke (docs/experiments/data.md, "Title
        lookup"); this pool stays cheap while still catching typos (QRatio) and partial titles
        ("shawshank").
        """
        pool = {
            pos
            for _, _, pos in process.extract(query, self._choices, scorer=fuzz.QRatio, limit=size)
        }
        for word in query.split():
            if len(word) >= 3 and word not in _COMMON_WORDS:
                pool.update(self._prefix_index.get(word[:3], ()))
        return pool

    def best(self, text: str, min_score: float = 75.0) -> TitleMatch | None:
        """The single best match if it is good enough, else ``None``."""
        matches = self.search(text, limit=1, min_score=min_score)
        return matches[0] if matches else None
