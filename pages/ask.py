"""Ask: the chat landing page. Describe a movie, refine with follow-ups ("older", "no horror")."""

from __future__ import annotations

import streamlit as st

from ui import app, chat, sidebar, state

engine = app.engine_or_stop()
user = sidebar.user_picker(engine)
two_stage = st.sidebar.toggle(
    "Search the nearest genre clusters first",
    key=state.TWO_STAGE_KEY,
    help=f"Two-stage search: pick the {chat.TWO_STAGE_CLUSTERS} genre clusters closest to your "
    "words, then search only their movies. Faster on huge catalogues and it says which "
    "clusters it used; the Evaluation page shows what it costs in recall.",
)

head, clear = st.columns([5, 1], vertical_alignment="bottom")
head.title("What do you feel like watching?")
clear_slot = clear.empty()  # filled after this run's prompt, which may start the history
history = chat.chat_history()
st.caption(
    "Describe a movie in your own words: genres, decades, a movie it should resemble, what to "
    "avoid. Follow up to refine: *older*, *no horror*, *more like the second one*."
    + (f" Answers are personalised for **user {user}**." if user is not None else "")
)

prompt = st.chat_input("Describe a movie…") or chat.take_queued_prompt()
if prompt:
    history.append(chat.user_message(prompt))
    with st.spinner("Looking through the catalogue…"):
        history.append(
            chat.answer_prompt(
                engine, prompt, user, clusters=chat.TWO_STAGE_CLUSTERS if two_stage else 0
            )
        )

clear_slot.button(
    "Clear chat",
    on_click=chat.clear_chat,
    icon=":material/delete_sweep:",
    disabled=not history,
    width="stretch",
)

if not history:
    st.markdown("##### Try one of these")
    cols = st.columns(len(chat.EXAMPLE_PROMPTS))
    for col, example in zip(cols, chat.EXAMPLE_PROMPTS, strict=True):
        col.button(
            example,
            on_click=chat.queue_prompt,
            args=(example,),
            icon=":material/chat_bubble:",
            width="stretch",
        )

for message in history:
    chat.render_chat_message(message)
