"""Similar movies: find a movie by (misspelt) title and see its neighbours under each signal."""

from __future__ import annotations

import streamlit as st

from ui import app, cached, movies, sidebar, state
from ui.format import escape_md

engine = app.engine_or_stop()
key = app.engine_key(engine)
weights, filters = sidebar.blend_controls(engine)

st.title("Movies like…")
text = st.text_input(
    "A movie you like",
    key=state.SIMILAR_TITLE_KEY,
    placeholder="e.g. usual suspects, the matrx, toy story 1995",
    help="Typos, missing articles and a year are fine.",
    persist_state="session",
)

match = movies.resolve_title(engine, text) if text.strip() else None
if match is None:
    st.caption("Or start from one of these well-known movies:")
    movies.suggestion_buttons(
        list(movies.movie_options(engine, limit=8).values()), key_prefix="example"
    )
    st.stop()

others = [m.title for m in movies.title_suggestions(engine, text) if m.movie_id != match.movie_id]
if others:
    with st.expander(
        f"Not *{escape_md(match.title)}*? Other matches", icon=":material/swap_horiz:"
    ):
        movies.suggestion_buttons(others[:4], key_prefix="other")

movies.anchor_card(engine, match.movie_id)

blended = app.attempt(cached.similar, key, engine, match.movie_id, weights, filters)
if blended is not None:
    st.subheader("Blended picks")
    if blended.items.empty:
        app.show_notes(blended.notes or ["Nothing passes these filters; loosen them."], empty=True)
    else:
        movies.show_movie_table(blended.items, predicted=False, key="similar_table")
        app.show_notes(blended.notes)

by_signal = app.attempt(cached.similar_by_signal, key, engine, match.movie_id, filters)
if by_signal:
    st.subheader("Each signal on its own")
    columns = st.columns(len(by_signal), gap="medium", border=True)
    for column, (name, frame) in zip(columns, by_signal.items(), strict=True):
        with column:
            movies.signal_column(name, frame)

people = cached.people_matches(key, engine, match.movie_id)
if people:
    st.subheader("Same people")
    for label, frame in people.items():
        movies.people_row(label, frame)
