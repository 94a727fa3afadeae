"""Ask: the chat landing page. Describe a movie, refine with follow-ups ("older", "no horror")."""

from __future__ import annotations

import streamlit as st

import ui

engine = ui.engine_or_stop()
user = ui.user_picker(engine)
two_stage = st.sidebar.toggle(
    "Search the nearest genre clusters first",
    key="ask_two_stage",
    help=f"Two-stage search: pick the {ui.TWO_STAGE_CLUSTERS} genre clusters closest to your "
    "words, then search only their movies. Faster on huge catalogues and it says which "
    "clusters it used; the Evaluation page shows what it costs in recall.",
)

head, clear = st.columns([5, 1], vertical_alignment="bottom")
head.title("What do you feel like watching?")
clear_slot = clear.empty()  # filled after this run's prompt, which may start the history
history = ui.chat_history()
st.caption(
    "Describe a movie in your own words: genres, decades, a movie it should resemble, what to "
    "avoid. Follow up to refine: *older*, *no horror*, *more like the second one*."
    + (f" Answers are personalised for **user {user}**." if user is not None else "")
)

prompt = st.chat_input("Describe a movie…") or ui.take_queued_prompt()
if prompt:
    history.append(ui.user_message(prompt))
    with st.spinner("Looking through the catalogue…"):
        history.append(
            ui.answer_prompt(
                engine, prompt, user, clusters=ui.TWO_STAGE_CLUSTERS if two_stage else 0
            )
        )

clear_slot.button(
    "Clear chat",
    on_click=ui.clear_chat,
    icon=":material/delete_sweep:",
    disabled=not history,
    width="stretch",
)

if not history:
    st.markdown("##### Try one of these")
    cols = st.columns(len(ui.EXAMPLE_PROMPTS))
    for col, example in zip(cols, ui.EXAMPLE_PROMPTS, strict=True):
        col.button(
            example,
            on_click=ui.queue_prompt,
            args=(example,),
            icon=":material/chat_bubble:",
            width="stretch",
        )

for message in history:
    ui.render_chat_message(message)
