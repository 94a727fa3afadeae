"""What a request was understood as (:class:`ParsedRequest`) and a conversation's memory.

Plain data with display and state helpers; :func:`core.search.request.parse_request` fills them.
It must not parse text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

#: A popularity wish: well-known movies, or lesser-known "hidden gems".
Popularity = Literal["popular", "hidden"]


@dataclass
class SearchState:
    """What a conversation has asked for so far; JSON-serialisable for the app's session state.

    Attributes:
        query: the last raw request text.
        text: the free text retrieval used last (constraint words removed).
        year_min / year_max: active year window (inclusive; ``None`` = open).
        include_genres: genres every result must have.
        prefer_genres: genres that lift a result without being required.
        exclude_genres: genres no result may have.
        reference_id: movieId results should resemble.
        popularity: ``"popular"``, ``"hidden"`` or ``None``.
        result_ids: movieIds of the last answer, best first ("more like the second one").
    """

    query: str = ""
    text: str = ""
    year_min: int | None = None
    year_max: int | None = None
    include_genres: list[str] = field(default_factory=list)
    prefer_genres: list[str] = field(default_factory=list)
    exclude_genres: list[str] = field(default_factory=list)
    reference_id: int | None = None
    popularity: Popularity | None = None
    result_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SearchState:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, bad values reset."""
        if not data:
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        state = cls(**known)
        state.include_genres = [str(g) for g in state.include_genres or []]
        state.prefer_genres = [str(g) for g in state.prefer_genres or []]
        state.exclude_genres = [str(g) for g in state.exclude_genres or []]
        state.result_ids = [int(m) for m in state.result_ids or []]
        state.year_min = None if state.year_min is None else int(state.year_min)
        state.year_max = None if state.year_max is None else int(state.year_max)
        state.reference_id = None if state.reference_id is None else int(state.reference_id)
        if state.popularity not in ("popular", "hidden"):
            state.popularity = None
        return state


@dataclass
class ParsedRequest:
    """One understood request: constraints, a reference movie and the text left for retrieval.

    ``text`` is what retrieval should match (constraint words removed); ``cleaned`` is the
    request with only noise removed (tags, URLs, "thanks in advance"). Constraints of a
    ``narrative`` request (a long plot description) are hints, not hard filters.
    """

    raw: str
    text: str = ""
    cleaned: str = ""
    year_min: int | None = None
    year_max: int | None = None
    include_genres: tuple[str, ...] = ()
    prefer_genres: tuple[str, ...] = ()
    exclude_genres: tuple[str, ...] = ()
    reference_id: int | None = None
    reference_item: int | None = None
    reference_title: str | None = None
    popularity: Popularity | None = None
    follow_up: bool = False
    narrative: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def has_years(self) -> bool:
        """Whether a year window is set."""
        return self.year_min is not None or self.year_max is not None

    def is_empty(self) -> bool:
        """True when there is nothing to search with (no text, reference, genre, exclusion,
        year or popularity wish)."""
        return not (
            self.text.strip()
            or self.reference_id is not None
            or self.include_genres
            or self.prefer_genres
            or self.exclude_genres
            or self.has_years
            or self.popularity
        )

    def understood(self) -> list[str]:
        """Plain phrases for the user: ``["years 1990–1999", "genre: Comedy", ...]``."""
        out: list[str] = []
        if self.year_min is not None and self.year_max is not None:
            if self.year_min == self.year_max:
                out.append(f"year {self.year_min}")
            else:
                out.append(f"years {self.year_min}–{self.year_max}")
        elif self.year_min is not None:
            out.append(f"from {self.year_min} on")
        elif self.year_max is not None:
            out.append(f"up to {self.year_max}")
        if self.include_genres:
            out.append("genre: " + " + ".join(self.include_genres))
        if self.prefer_genres:
            out.append("leaning: " + ", ".join(self.prefer_genres))
        if self.exclude_genres:
            out.append("excluding: " + ", ".join(self.exclude_genres))
        if self.reference_title:
            out.append(f"like: {self.reference_title}")
        if self.popularity == "popular":
            out.append("popular picks")
        elif self.popularity == "hidden":
            out.append("hidden gems")
        if self.text.strip() and (out or self.follow_up):
            words = self.text.split()
            shown = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
            out.append(f"about: {shown}")
        return out

    def next_state(self, result_ids: list[int] | np.ndarray | None = None) -> SearchState:
        """The state to keep for the next turn, with the movieIds this answer showed."""
        ids = [int(m) for m in (result_ids if result_ids is not None else [])]
        return SearchState(
            query=self.raw[:2000],
            text=self.text[:2000],
            year_min=self.year_min,
            year_max=self.year_max,
            include_genres=list(self.include_genres),
            prefer_genres=list(self.prefer_genres),
            exclude_genres=list(self.exclude_genres),
            reference_id=self.reference_id,
            popularity=self.popularity,
            result_ids=ids,
        )

    # The name the brief and the app use.
    to_state = next_state
