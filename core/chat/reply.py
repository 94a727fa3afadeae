"""The words of an answer: what was understood, clarifying questions and suggestions.

Templates only (no generative model): one or two sentences that say what the answer is based
on, so a person can see at once when a title or a wish was misread, plus clickable follow-up
strings for the Ask page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.chat.state import ChatState
from core.chat.turn import Turn
from core.data.catalog import Catalog

#: Follow-ups offered under a vague turn (clickable).
VAGUE_SUGGESTIONS: tuple[str, ...] = (
    "Something funny for tonight",
    "A great thriller from the 90s",
    "Movies like The Dark Knight (2008)",
    "A family movie for the kids",
)
#: Follow-ups offered under an answer.
ANSWER_SUGGESTIONS: tuple[str, ...] = ("More like #1", "Something lighter", "Older", "Seen it")


def _titles(catalog: Catalog, movie_ids: list[int], limit: int = 3) -> str:
    names = [catalog.title_of(m) for m in movie_ids[:limit]]
    more = len(movie_ids) - limit
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return text + (f" (+{more} more)" if more > 0 else "") if names else ""


def understood(state: ChatState, turn: Turn, catalog: Catalog) -> list[str]:
    """Plain phrases of what the answer uses: ``["like: Alien (1979)", "genre: Horror"]``."""
    out: list[str] = []
    if state.liked:
        out.append("like: " + _titles(catalog, state.liked, 4))
    if state.disliked:
        out.append("not like: " + _titles(catalog, state.disliked, 3))
    if state.people:
        out.append("with: " + ", ".join(state.people))
    if state.genres:
        out.append("genre: " + " or ".join(state.genres))
    if state.moods:
        out.append("about: " + state.moods)
    if state.audience:
        out.append("for: " + state.audience)
    if state.exclude_genres:
        out.append("no " + ", ".join(g.lower() for g in state.exclude_genres))
    if state.prefer_genres and not state.audience:
        out.append("leaning: " + ", ".join(state.prefer_genres))
    if state.year_min is not None or state.year_max is not None:
        lo, hi = state.year_min, state.year_max
        out.append(f"years {lo}–{hi}" if lo and hi else f"from {lo}" if lo else f"up to {hi}")
    if state.quality:
        out.append("well loved")
    if state.popularity:
        out.append("popular picks" if state.popularity == "popular" else "hidden gems")
    hidden = [m for m in state.seen + state.rejected if m not in state.liked]
    if hidden:
        out.append(f"skipping {len(hidden)} you have seen or passed on")
    return out


def opener(kind: str, state: ChatState, turn: Turn, catalog: Catalog) -> str:
    """One or two sentences starting the answer."""
    said = understood(state, turn, catalog)
    if kind == "smalltalk":
        return ("Hi! Tell me a movie you loved or the kind of movie you feel like, and I'll "
                "suggest some. Meanwhile, a few crowd-pleasers:")  # fmt: skip
    if kind == "vague" and state.has_subject:
        kind = "recommend"  # "anything else?" later on: answer from what is known
    if kind == "vague":
        return ("Happy to help! What are you in the mood for — a movie you loved, a genre, "
                "or who it's for? Meanwhile, a few crowd-pleasers:")  # fmt: skip
    if kind == "refine":
        what = ", ".join(_refine_words(turn)) or "your follow-up"
        base = "Got it (" + what + ")."
        return base + (" Now going by " + "; ".join(said) + "." if said else "")
    if not said:
        return "Here are well-loved picks."
    return "Going by " + "; ".join(said) + ", you might enjoy these."


def _refine_words(turn: Turn) -> list[str]:
    words = {"seen": "you've seen it", "reject": "not that one", "lighter": "lighter",
             "darker": "darker", "older": "older", "newer": "newer", "more": "more",
             "more_like": f"more like #{turn.ordinal}"}  # fmt: skip
    out = [words[r] for r in turn.refine if r in words]
    out += [f"no {g.lower()}" for g in turn.exclude_genres]
    return out


def suggestions(kind: str, state: ChatState) -> list[str]:
    """Clickable follow-ups for this answer."""
    if kind in ("vague", "smalltalk") and not state.has_subject:
        return list(VAGUE_SUGGESTIONS)
    if kind in ("recommend", "refine", "vague"):
        return list(ANSWER_SUGGESTIONS)
    return []


def answer_question(field: str, movie_id: int, catalog: Catalog) -> str:
    """A one-sentence answer about one movie from the catalogue's columns."""
    item = catalog.item_of.get(int(movie_id))
    if item is None:
        return "I don't know that movie."
    row: Any = catalog.movies.iloc[item]
    title = catalog.title_of(int(movie_id))

    def column(name: str) -> str:
        value = row[name] if name in row.index else None
        return "" if value is None or pd.isna(value) else str(value)

    if field == "director":
        people = column("directors").replace("|", ", ")
        return (
            f"{title} was directed by {people}."
            if people
            else f"I don't know who directed {title}."
        )
    if field == "cast":
        people = ", ".join(column("cast").split("|")[:4])
        return f"{title} stars {people}." if people else f"I don't have the cast of {title}."
    if field == "year":
        year = column("year")
        return (
            f"{title.rsplit(' (', 1)[0]} came out in {year}."
            if year
            else f"I don't know when {title} came out."
        )
    if field == "runtime":
        runtime = column("runtime")
        return (
            f"{title} runs {float(runtime):.0f} minutes."
            if runtime
            else f"I don't know how long {title} is."
        )
    if field == "genre":
        return f"{title} is listed as {column('genres').replace('|', ', ') or 'no genre'}."
    if field == "rating":
        stats = catalog.rating_stats.iloc[item]
        n = int(stats["n_ratings"])
        if not n:
            return f"Nobody has rated {title} here yet."
        return f"{title} averages {float(stats['mean_rating']):.1f}★ from {n} ratings."
    overview = column("overview") or column("plot")
    return f"{title}: {overview[:300]}" if overview else f"I have no summary of {title}."
