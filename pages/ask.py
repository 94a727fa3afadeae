"""Ask: the chat landing page. An everyday conversation about what to watch; each answer
remembers the earlier turns ("seen it", "something lighter")."""

from __future__ import annotations

import streamlit as st

from ui import app, chat, sidebar

engine = app.engine_or_stop()
user = sidebar.user_picker(engine)
conversation = app.get_chat(engine)

head, clear = st.columns([5, 1], vertical_alignment="bottom")
head.title("What do you feel like watching?")
clear_slot = clear.empty()  # filled after this run's prompt, which may start the history
history = chat.chat_history()
st.caption(
    "Chat as you would with a friend: a movie you loved, a genre or decade, who it's for, or "
    "the story of a movie whose name you forgot. Then follow up: *seen it*, *not that one*, "
    "*something lighter*, *older*, *more like #2*."
    + (f" Answers are personalised for **user {user}**." if user is not None else "")
)

prompt = st.chat_input("Ask for a movie…") or chat.take_queued_prompt()
if prompt:
    history.append(chat.user_message(prompt))
    with st.spinner("Looking through the catalogue…"):
        history.append(chat.answer_prompt(conversation, prompt, user))

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

last = len(history) - 1
for number, message in enumerate(history):
    chat.render_chat_message(message, number, latest=number == last)
