"""The short plain reason shown with each search hit ('matches "wormhole"; similar to Alien').

Reads the parts a search produced; it must not change scores or the order of hits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.search.text import surface_forms

if TYPE_CHECKING:
    from core.search.index import SearchIndex
    from core.search.parsed import ParsedRequest


def reasons_for(
    index: SearchIndex,
    request: ParsedRequest,
    items: np.ndarray,
    matched: list[str],
    parts: dict[str, np.ndarray],
) -> list[str]:
    """'matches "wormhole", "astronaut"; similar to Alien (1979)' per hit."""
    surface = surface_forms(request.text, index.stemmer)
    contributions = index.term_contributions(matched, items)
    reasons = []
    for row, _item in enumerate(items):
        bits: list[str] = []
        terms = contributions[row]
        if terms:
            shown = ", ".join(f'"{surface.get(t, t)}"' for t in terms[:3])
            bits.append(f"matches {shown}")
        dense = parts.get("dense")
        if dense is not None and (not terms) and dense[row] > 0:
            bits.append("close in meaning to your description")
        reference = parts.get("reference")
        if reference is not None and request.reference_title and reference[row] > 0.3:
            bits.append(f"similar to {request.reference_title}")
        genre = parts.get("genre")
        if genre is not None and genre[row] > 0:
            bits.append("leans " + "/".join(request.prefer_genres or request.include_genres))
        popularity = parts.get("popularity")
        if request.popularity == "hidden" and popularity is not None and popularity[row] > 0:
            bits.append("a lesser-known pick")
        user = parts.get("user")
        if user is not None and user[row] > 0.6 * index.config.w_user:
            bits.append("fits your taste")
        reasons.append("; ".join(bits) or describe(index, int(items[row])))
    return reasons


def describe(index: SearchIndex, item: int) -> str:
    """'Comedy, Romance, 1993': the reason of a hit chosen by constraints alone."""
    genres = [g for g, has in zip(index.genre_names, index.genres[item], strict=True) if has]
    year = index.years[item]
    bits = [", ".join(genres[:3])] if genres else []
    if np.isfinite(year):
        bits.append(str(int(year)))
    return ", ".join(bits) or "fits your constraints"
