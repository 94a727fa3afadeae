"""The Ask page's conversation: each message goes through the core's everyday chat
(:meth:`core.chat.Chat.respond`), its dialogue state is kept in the session between turns, and
the stored messages are replayed with their suggestions as buttons. Nothing here parses a
request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from core.chat import Chat
from core.errors import WorkbenchError
from core.serving.engine import Engine
from ui import state
from ui.app import TOP_N
from ui.format import escape_md, genres_text, plain_records, shorten, stars, year_text
from ui.movies import markdown_links, show_movie_table

#: Shown to a first-time visitor of the chat; each must work on the built-in data.
EXAMPLE_PROMPTS: tuple[str, ...] = (
    "I loved The Matrix, what else?",
    "any good crime movies from the 90s?",
    "something funny for family movie night",
    "a movie where a man lives the same day over and over",
)
#: Longest chat message read; longer text is cut and the answer says so.
MAX_PROMPT_CHARS = 1000
#: Answer kinds whose reply is a question: their suggestions come right under the reply.
ASKING_KINDS = ("vague", "smalltalk")

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
    """Forget the conversation and the dialogue state carried between turns."""
    st.session_state[state.CHAT_KEY] = []
    st.session_state.pop(state.CHAT_STATE_KEY, None)


def queue_prompt(prompt: str) -> None:
    """Button callback: ask ``prompt`` on the next run (example prompts, suggestions)."""
    st.session_state[state.PENDING_PROMPT_KEY] = prompt


def take_queued_prompt() -> str | None:
    """The prompt a button queued, once."""
    return st.session_state.pop(state.PENDING_PROMPT_KEY, None)


def user_message(prompt: str) -> dict[str, Any]:
    """The user's chat message as stored (very long pastes are shown shortened)."""
    text = prompt.strip()
    if len(text) > MAX_PROMPT_CHARS:
        text = text[:MAX_PROMPT_CHARS].rstrip() + " …"
    return {"role": "user", "content": text}


def answer_prompt(chat: Chat, prompt: str, user_id: int | None) -> dict[str, Any]:
    """Answer ``prompt`` with the session's dialogue state; returns the assistant message.

    The new state is stored for the next turn. Never raises for bad input: the core's
    message becomes the assistant's reply.
    """
    text = prompt.strip()
    clipped = len(text) > MAX_PROMPT_CHARS
    text = text[:MAX_PROMPT_CHARS]
    try:
        answer = chat.respond(
            text, st.session_state.get(state.CHAT_STATE_KEY), user_id=user_id, top=TOP_N
        )
    except WorkbenchError as err:
        return {"role": "assistant", "kind": "error", "content": str(err), "results": []}
    st.session_state[state.CHAT_STATE_KEY] = answer.state.to_dict()
    notes = list(answer.notes)
    if clipped:
        notes.insert(0, f"I read only the first {MAX_PROMPT_CHARS:,} characters of that.")
    items = _with_predictions(chat.engine, answer.items, user_id)
    return {
        "role": "assistant",
        "kind": answer.kind,
        "content": answer.reply.strip(),
        "results": plain_records(items[[c for c in RESULT_COLUMNS if c in items]]),
        "understood": list(answer.understood),
        "notes": notes,
        "suggestions": list(answer.suggestions),
        "user": user_id if user_id is not None and chat.engine.known_user(user_id) else None,
        "seconds": round(answer.seconds, 3),
    }


def _with_predictions(engine: Engine, items: pd.DataFrame, user_id: int | None) -> pd.DataFrame:
    """``items`` with the viewing user's predicted ratings where the answer has none.

    The chat ranks from the conversation; the rating model's prediction is what the page
    shows a chosen user beside each pick, as the other pages do.
    """
    if user_id is None or not len(items) or not engine.known_user(user_id):
        return items
    if "predicted_rating" in items and items["predicted_rating"].notna().all():
        return items
    predicted = engine.predict(user_id, items["movieId"].astype(int).tolist())
    by_id = dict(zip(predicted["movieId"], predicted["est"], strict=True))
    items = items.copy()
    filled = items["movieId"].map(by_id)
    if "predicted_rating" in items:
        filled = items["predicted_rating"].fillna(filled)
    items["predicted_rating"] = filled.astype(float)
    return items


def render_chat_message(message: Mapping[str, Any], index: int, *, latest: bool) -> None:
    """Replay one chat message: the reply, what was understood, notes, then the movies.

    The suggestions of the ``latest`` answer are buttons that send them as the next message;
    under a question (small talk, a vague request) they come right after it.
    """
    role = message.get("role", "assistant")
    avatar = ":material/person:" if role == "user" else ":material/movie:"
    with st.chat_message(role, avatar=avatar):
        st.markdown(escape_md(str(message.get("content", ""))))
        if role == "user":
            return
        understood = message.get("understood") or []
        if understood:
            st.markdown(" ".join(f":orange-badge[{escape_md(str(u))}]" for u in understood))
        for note in message.get("notes") or []:
            st.caption(escape_md(str(note)))
        suggestions = list(message.get("suggestions") or []) if latest else []
        asking = message.get("kind") in ASKING_KINDS
        if asking:
            _suggestion_buttons(suggestions, index)
        results = message.get("results") or []
        predicted = message.get("user") is not None
        for rank, row in enumerate(results, 1):
            _movie_entry(rank, row, show_predicted=predicted)
        if results:
            with st.expander("As a table", icon=":material/table:"):
                show_movie_table(pd.DataFrame(results), predicted=predicted)
        if not asking:
            _suggestion_buttons(suggestions, index)


def _suggestion_buttons(suggestions: list[str], index: int) -> None:
    """One button per suggestion, in a row; a click sends it as the user's next message."""
    if not suggestions:
        return
    for col, (number, text) in zip(
        st.columns(len(suggestions)), enumerate(suggestions), strict=True
    ):
        col.button(
            escape_md(text),  # a suggestion may quote a title; labels are Markdown
            key=f"suggestion_{index}_{number}",
            on_click=queue_prompt,
            args=(text,),
            icon=":material/chat_bubble:",
            width="stretch",
        )


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
