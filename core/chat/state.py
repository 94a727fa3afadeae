"""Dialogue state: what the conversation has established so far.

Plain lists and numbers only, so the Streamlit session can keep it as a dict
(:meth:`ChatState.to_dict` / :meth:`ChatState.from_dict`) and a later turn can build on it:
liked titles stay seeds, seen/disliked/rejected titles are never shown again, constraints
persist until a new kind of movie replaces them.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Any

from core.chat.turn import Turn


def _add(target: list[Any], values: list[Any]) -> None:
    for value in values:
        if value not in target:
            target.append(value)


@dataclass
class ChatState:
    """Memory across turns (JSON-serialisable)."""

    liked: list[int] = field(default_factory=list)  # movieIds used as seeds
    disliked: list[int] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)  # never recommended again
    rejected: list[int] = field(default_factory=list)  # "not that one"
    people: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    exclude_genres: list[str] = field(default_factory=list)
    prefer_genres: list[str] = field(default_factory=list)
    avoid_genres: list[str] = field(default_factory=list)
    moods: str = ""
    year_min: int | None = None
    year_max: int | None = None
    audience: str | None = None
    quality: bool = False
    popularity: str | None = None
    shown: list[int] = field(default_factory=list)  # last answer, best first
    shown_before: list[int] = field(default_factory=list)  # everything shown (for "more")
    turns: int = 0

    @property
    def excluded_ids(self) -> list[int]:
        """Movies never to recommend: named, seen, disliked or rejected."""
        out: list[int] = []
        _add(out, self.liked + self.disliked + self.seen + self.rejected)
        return out

    @property
    def has_subject(self) -> bool:
        """Whether there is anything to recommend by."""
        return bool(self.liked or self.people or self.genres or self.moods or self.audience
                    or self.prefer_genres or self.year_min or self.year_max)  # fmt: skip

    def absorb(self, turn: Turn) -> None:
        """Fold a recommend/refine turn in: titles accumulate; a new kind of movie (genres or
        moods) replaces the previous one, other constraints accumulate."""
        _add(self.liked, [m for m in turn.liked if m not in turn.disliked])
        _add(self.disliked, turn.disliked)
        _add(self.seen, turn.seen)
        self.liked = [m for m in self.liked if m not in self.disliked]
        _add(self.people, turn.people)
        if turn.genres or turn.moods:
            self.genres = list(turn.genres)
            self.moods = turn.moods
        _add(self.exclude_genres, turn.exclude_genres)
        self.genres = [g for g in self.genres if g not in self.exclude_genres]
        _add(self.prefer_genres, turn.prefer_genres)
        self.prefer_genres = [
            g for g in self.prefer_genres if g not in turn.avoid_genres + self.exclude_genres
        ]
        _add(self.avoid_genres, turn.avoid_genres)
        self.avoid_genres = [g for g in self.avoid_genres if g not in turn.prefer_genres]
        if turn.year_min is not None or turn.year_max is not None:
            self.year_min, self.year_max = turn.year_min, turn.year_max
        self.audience = turn.audience or self.audience
        self.quality = self.quality or turn.quality
        self.popularity = turn.popularity or self.popularity

    def remember_shown(self, movie_ids: list[int]) -> None:
        """Record an answer (for "#2", "seen it" and "more")."""
        self.shown = [int(m) for m in movie_ids]
        _add(self.shown_before, self.shown)
        self.turns += 1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ChatState:
        """Inverse of :meth:`to_dict`; unknown keys ignored, wrong types reset to defaults."""
        state = cls()
        if not isinstance(data, dict):
            return state
        for name in ("liked", "disliked", "seen", "rejected", "shown", "shown_before"):
            value = data.get(name) or []
            with contextlib.suppress(TypeError, ValueError):
                if isinstance(value, list):
                    setattr(state, name, [int(v) for v in value])
        for name in ("people", "genres", "exclude_genres", "prefer_genres", "avoid_genres"):
            value = data.get(name) or []
            if isinstance(value, list):
                setattr(state, name, [str(v) for v in value])
        for name in ("year_min", "year_max", "turns"):
            value = data.get(name)
            with contextlib.suppress(TypeError, ValueError):
                setattr(state, name, None if value is None else int(value))
        state.turns = state.turns or 0
        state.moods = str(data.get("moods") or "")
        state.audience = data.get("audience") if isinstance(data.get("audience"), str) else None
        state.quality = bool(data.get("quality"))
        pop = data.get("popularity")
        state.popularity = pop if pop in ("popular", "hidden") else None
        return state
