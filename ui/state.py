"""Every ``st.session_state`` key the app uses, named once, with small accessors.

Widget keys live here too, because Streamlit stores widget values under them. Nothing here
draws a widget or calls the engine.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

# -- chat (Ask page) ---------------------------------------------------------------------------
CHAT_KEY = "chat_history"
CHAT_STATE_KEY = "chat_state"  # the dialogue state (core.chat.ChatState) for the next turn
PENDING_PROMPT_KEY = "pending_prompt"  # an example prompt or a suggestion a button queued

# -- the viewing user --------------------------------------------------------------------------
USER_WIDGET_KEY = "user_select"
USER_KEY = "_user"  # survives page switches (widget state is dropped when a page is left)

# -- newcomer ratings (For-you page) -----------------------------------------------------------
NEW_RATINGS_KEY = "new_user_ratings"
ONBOARD_PAGE_KEY = "onboard_page"
FOR_YOU_MODE_KEY = "for_you_mode"
FOR_YOU_MODEL_KEY = "for_you_model"

# -- blend controls shared by For-you and Similar ----------------------------------------------
# Widget state is per page: the "same" slider on For-you and on Similar are two widgets, and
# ``persist_state`` only restores a widget on its own page. Values shared across pages live in
# this store and are written back into each widget's key before it is created.
SHARED_STORE_KEY = "_shared_widgets"
GENRE_WEIGHT_KEY = "w_genre_weight"
INCLUDE_GENRES_KEY = "f_include"
EXCLUDE_GENRES_KEY = "f_exclude"
YEARS_KEY = "f_years"
MIN_RATINGS_KEY = "f_min_ratings"

# -- other pages -------------------------------------------------------------------------------
SIMILAR_TITLE_KEY = "similar_title"
ANALYTICS_VIEW_KEY = "analytics_view"
HEATMAP_MOVIES_KEY = "heatmap_movies"
MAP_METHOD_KEY = "map_method"
EMBEDDING_MAP_KEY = "embedding_map"  # the map's point selection
FORCE_REBUILD_KEY = "force_rebuild"
REBUILD_MESSAGE_KEY = "rebuild_message"  # shown after the rerun that loads new models


def weight_key(signal: str) -> str:
    """The slider key of one signal's blend weight."""
    return f"w_{signal}"


def rating_key(movie_id: int) -> str:
    """The star widget key of a newcomer's rating of one movie."""
    return f"rate_{int(movie_id)}"


def metrics_choice_key(source: str, section: str) -> str:
    """The Evaluation page's "metrics to chart" multiselect of one table."""
    return f"metrics_{source}_{section}"


def chat_history() -> list[dict[str, Any]]:
    """The conversation of this session (created empty on first use)."""
    return st.session_state.setdefault(CHAT_KEY, [])


def new_ratings() -> dict[int, float]:
    """The ratings a newcomer gave on the For-you page (movieId -> 1..5)."""
    return st.session_state.setdefault(NEW_RATINGS_KEY, {})


def shared_store() -> dict[str, Any]:
    """Cross-page widget values (see :data:`SHARED_STORE_KEY`)."""
    return st.session_state.setdefault(SHARED_STORE_KEY, {})


def set_similar_title(title: str) -> None:
    """Button callback: search for ``title`` on the Similar page (a suggestion or example)."""
    st.session_state[SIMILAR_TITLE_KEY] = title


def pop_rebuild_message() -> str | None:
    """The message a finished rebuild left for the next run, once."""
    return st.session_state.pop(REBUILD_MESSAGE_KEY, None)


def leave_rebuild_message(message: str) -> None:
    """Keep ``message`` for the run after the rerun (a toast would be lost in it)."""
    st.session_state[REBUILD_MESSAGE_KEY] = message
