"""The Ask page's conversation: asking the engine with the previous turn's constraints, the
stored messages and how they are replayed. The search itself is the core's
(:meth:`Engine.search`); nothing here parses a request.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.serving.engine import Engine
from core.serving.results import SearchAnswer
from ui import state
from ui.app import TOP_N
from ui.format import escape_md, genres_text, plain_records, shorten, stars, year_text
from ui.movies import markdown_links, show_movie_table

#: Genre clusters a two-stage chat search looks in (when the Ask page's switch is on).
TWO_STAGE_CLUSTERS = 5
#: Shown to a first-time visitor of the chat; each must work on the built-in data.
EXAMPLE_PROMPTS: tuple[str, ...] = (
    "90s space adventure, no horror",
    "a feel-good romantic comedy set in London",
    "something like The Usual Suspects but older",
    "animated movie the whole family will love",
)
#: Longest chat message read; the core cuts longer text anyway, the UI says so.
MAX_PROMPT_CHARS = 1000

#: Result columns kept in a stored answer (the session holds plain values, not frames).
RESULT_COLUMNS = (
    "movieId",
    "title",
    "year",
    "genres",
    "overview",
    "reason",
    "predicted_rating",
    "mean_rating",
    "n_ratings",
    "directors",
    "imdbId",
    "tmdbId",
)

chat_history = state.chat_history


def clear_chat() -> None:
    """Forget the conversation and the constraints carried between turns."""
    st.session_state[state.CHAT_KEY] = []
    st.session_state.pop(state.CHAT_STATE_KEY, None)


def queue_prompt(prompt: str) -> None:
    """Button callback: ask ``prompt`` on the next run (example prompts)."""
    st.session_state[state.PENDING_PROMPT_KEY] = prompt


def take_queued_prompt() -> str | None:
    """The prompt an example button queued, once."""
    return st.session_state.pop(state.PENDING_PROMPT_KEY, None)


def user_message(prompt: str) -> dict[str, Any]:
    """The user's chat message as stored (very long pastes are shown shortened)."""
    text = prompt.strip()
    if len(text) > MAX_PROMPT_CHARS:
        text = text[:MAX_PROMPT_CHARS].rstrip() + " …"
    return {"role": "user", "content": text}


def answer_prompt(
    engine: Engine, prompt: str, user_id: int | None, clusters: int = 0
) -> dict[str, Any]:
    """Ask the engine, carrying the previous turn's constraints; returns the assistant message.

    ``clusters > 0`` searches only the genre clusters nearest the request (two stages).
    Never raises for bad input: the core's message becomes the assistant's reply.
    """
    from core.search.request import SearchState

    text = prompt.strip()
    clipped = len(text) > MAX_PROMPT_CHARS
    text = text[:MAX_PROMPT_CHARS]
    previous = st.session_state.get(state.CHAT_STATE_KEY)
    search_state = SearchState.from_dict(previous) if previous else None
    started = time.perf_counter()
    try:
        answer: SearchAnswer = engine.search(
            text, state=search_state, user_id=user_id, top=TOP_N, clusters=clusters
        )
    except WorkbenchError as err:
        return {"role": "assistant", "content": str(err), "results": [], "understood": []}
    seconds = time.perf_counter() - started
    if hasattr(answer.state, "to_dict"):
        st.session_state[state.CHAT_STATE_KEY] = answer.state.to_dict()
    notes = list(answer.notes)
    if clipped:
        notes.insert(0, f"I read only the first {MAX_PROMPT_CHARS:,} characters of that.")
    results = plain_records(answer.items[[c for c in RESULT_COLUMNS if c in answer.items]])
    return {
        "role": "assistant",
        "content": _reply_text(answer, results, notes),
        "results": results,
        "understood": list(answer.understood),
        "notes": notes,
        "user": user_id,
        "seconds": round(seconds, 3),
    }


def _reply_text(answer: SearchAnswer, results: list[dict[str, Any]], notes: list[str]) -> str:
    """The assistant's sentence; may move the search's own note out of ``notes`` into it."""
    if results:
        return answer.reply()
    if not answer.understood and answer.notes:
        # Nothing understood ("more like the second one" before any answer): the search's
        # own note is the reply.
        first = str(answer.notes[0])
        notes.remove(first)
        return first[:1].upper() + first[1:]
    return answer.reply() + " I found nothing that fits all of it."


def render_chat_message(message: Mapping[str, Any]) -> None:
    """Replay one chat message: the text, then (for answers) the movies found."""
    role = message.get("role", "assistant")
    avatar = ":material/person:" if role == "user" else ":material/movie:"
    with st.chat_message(role, avatar=avatar):
        if role == "user":
            st.markdown(escape_md(message.get("content", "")))
            return
        st.markdown(escape_md(message.get("content", "")))
        understood = message.get("understood") or []
        if understood:
            st.markdown(" ".join(f":orange-badge[{escape_md(u)}]" for u in understood))
        for note in message.get("notes") or []:
            st.caption(escape_md(note))
        results = message.get("results") or []
        for rank, row in enumerate(results, 1):
            _movie_entry(rank, row, show_predicted=message.get("user") is not None)
        if results:
            with st.expander("As a table", icon=":material/table:"):
                show_movie_table(pd.DataFrame(results), predicted=message.get("user") is not None)


def _movie_entry(rank: int, row: Mapping[str, Any], *, show_predicted: bool) -> None:
    """One movie of a chat answer: title line, overview, reason, links."""
    title = escape_md(str(row.get("title", "")))
    year = year_text(row.get("year"))
    head = f"**{rank}. {title}**" + (f" ({year})" if year else "")
    facts = [escape_md(genres_text(row.get("genres")))]
    if show_predicted and row.get("predicted_rating") is not None:
        facts.append(f"**{stars(row['predicted_rating'])}** predicted for you")
    elif row.get("mean_rating") is not None and row.get("n_ratings"):
        n = int(row["n_ratings"])
        facts.append(f"{stars(row['mean_rating'])} from {n:,} rating{'s' * (n != 1)}")
    lines = [head + " · " + " · ".join(f for f in facts if f)]
    overview = shorten(row.get("overview"), 240)
    if overview:
        lines.append(escape_md(overview))
    why = row.get("reason")
    reason = [f":gray[_Why: {escape_md(str(why))}_]"] if why else []
    tail = " · ".join(reason + markdown_links(row))
    if tail:
        lines.append(tail)
    st.markdown("  \n".join(lines))
