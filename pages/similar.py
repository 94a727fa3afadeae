"""Similar movies: find a movie by (misspelt) title and see its neighbours under each signal."""

from __future__ import annotations

import streamlit as st

import ui

engine = ui.engine_or_stop()
key = ui.engine_key(engine)
weights, filters = ui.blend_controls(engine)

st.title("Movies like…")
text = st.text_input(
    "A movie you like",
    key=ui.SIMILAR_TITLE_KEY,
    placeholder="e.g. usual suspects, the matrx, toy story 1995",
    help="Typos, missing articles and a year are fine.",
    persist_state="session",
)

match = ui.resolve_title(engine, text) if text.strip() else None
if match is None:
    st.caption("Or start from one of these well-known movies:")
    ui.suggestion_buttons(list(ui.movie_options(engine, limit=8).values()), key_prefix="example")
    st.stop()

others = [m.title for m in ui.title_suggestions(engine, text) if m.movie_id != match.movie_id]
if others:
    with st.expander(f"Not *{match.title}*? Other matches", icon=":material/swap_horiz:"):
        ui.suggestion_buttons(others[:4], key_prefix="other")

ui.anchor_card(engine, match.movie_id)

blended = ui.attempt(ui.similar, key, engine, match.movie_id, weights, filters)
if blended is not None:
    st.subheader("Blended picks")
    if blended.items.empty:
        ui.show_notes(blended.notes or ["Nothing passes these filters; loosen them."], empty=True)
    else:
        ui.show_movie_table(blended.items, predicted=False, key="similar_table")
        ui.show_notes(blended.notes)

by_signal = ui.attempt(ui.similar_by_signal, key, engine, match.movie_id, filters)
if by_signal:
    st.subheader("Each signal on its own")
    columns = st.columns(len(by_signal), gap="medium", border=True)
    for column, (name, frame) in zip(columns, by_signal.items(), strict=True):
        with column:
            ui.signal_column(name, frame)

people = ui.people_matches(key, engine, match.movie_id)
if people:
    st.subheader("Same people")
    for label, frame in people.items():
        ui.people_row(label, frame)
