"""Sidebar controls shared by several pages: the viewing user (mirrored in ``?user=``) and the
blend weights and filters (kept across pages for the session). Widgets only; no ranking.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.serving.blend import SIGNALS, Filters, Weights
from core.serving.engine import Engine
from ui import cached, state
from ui.app import engine_key
from ui.format import SIGNAL_HELP, SIGNAL_LABELS

#: Above this many users a selectbox would ship every id to the browser; use a number box.
MAX_SELECT_USERS = 50_000
WEIGHT_KEYS = {s: state.weight_key(s) for s in SIGNALS}


# -- the viewing user --------------------------------------------------------------------------
def _parse_user(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _remember_user() -> None:
    st.session_state[state.USER_KEY] = st.session_state.get(state.USER_WIDGET_KEY)


def _adopt_user(counts: dict[int, int]) -> None:
    """On a session's first run adopt a valid ``?user=``; drop a user a rebuild removed."""
    session = st.session_state
    if state.USER_KEY not in session:
        from_url = _parse_user(st.query_params.get("user"))
        session[state.USER_KEY] = from_url if from_url in counts else None
    if session[state.USER_KEY] is not None and session[state.USER_KEY] not in counts:
        session[state.USER_KEY] = None  # a rebuild on other data removed this user


def _user_widget(counts: dict[int, int]) -> None:
    """The select (or, for huge catalogues, a number box) that sets the session's user."""
    session = st.session_state
    if len(counts) <= MAX_SELECT_USERS:
        # Seeded on every run: the select on another page is another widget.
        session[state.USER_WIDGET_KEY] = session[state.USER_KEY]
        options: list[int | None] = [None, *counts]
        st.selectbox(
            "Viewing as user",
            options,
            key=state.USER_WIDGET_KEY,
            format_func=lambda u: (
                "Nobody (general picks)" if u is None else f"User {u} · {counts[u]:,} ratings"
            ),
            on_change=_remember_user,
            placeholder="Nobody (general picks)",
            help="Type to search user ids. The choice personalises the chat and the "
            "For-you picks and is kept in the page URL (?user=…) for sharing.",
        )
        return
    value = st.number_input(
        "Viewing as user (id, 0 = nobody)",
        min_value=0,
        value=int(session[state.USER_KEY] or 0),
        step=1,
    )
    chosen = int(value) or None
    if chosen is not None and chosen not in counts:
        st.warning(f"User {chosen} has no ratings in this catalogue.")
        chosen = None
    session[state.USER_KEY] = chosen


def user_picker(engine: Engine) -> int | None:
    """Sidebar user select shared by the chat and For-you pages, mirrored in ``?user=``.

    The first run of a session adopts a valid ``?user=`` (a shared link); afterwards the
    session's choice wins and the URL follows it, also after a page switch.
    """
    users = cached.user_directory(engine_key(engine), engine)
    counts = dict(zip(users["userId"].tolist(), users["n_ratings"].tolist(), strict=True))
    _adopt_user(counts)
    with st.sidebar:
        _user_widget(counts)
    user = st.session_state[state.USER_KEY]
    if user is None:
        if "user" in st.query_params:
            del st.query_params["user"]
    elif st.query_params.get("user") != str(user):
        st.query_params["user"] = str(user)
    return user


# -- blend weights and filters -----------------------------------------------------------------
def _shared(key: str, default: Any) -> str:
    """Seed widget ``key`` from the cross-page store (or ``default``); returns ``key``."""
    st.session_state[key] = state.shared_store().get(key, default)
    return key


def _keep(key: str) -> None:
    """``on_change`` callback: remember a shared widget's new value."""
    state.shared_store()[key] = st.session_state[key]


def _reset_weights(defaults: Weights) -> None:
    store = state.shared_store()
    for name, key in [*WEIGHT_KEYS.items(), ("genre_weight", state.GENRE_WEIGHT_KEY)]:
        store[key] = st.session_state[key] = float(getattr(defaults, name))


def _weight_sliders(defaults: Weights) -> Weights:
    """The "Blend weights" expander: one slider per signal, genres ↔ tags, reset.
    ``defaults`` are the data set's tuned weights (:attr:`Engine.default_weights`)."""
    with st.sidebar.expander("Blend weights", icon=":material/tune:", expanded=True):
        values = {}
        for name in SIGNALS:
            key = _shared(WEIGHT_KEYS[name], round(float(getattr(defaults, name)), 2))
            values[name] = st.slider(
                SIGNAL_LABELS[name], 0.0, 1.0, step=0.01, key=key, help=SIGNAL_HELP[name],
                on_change=_keep, args=(key,),
            )  # fmt: skip
        key = _shared(state.GENRE_WEIGHT_KEY, float(defaults.genre_weight))
        genre_weight = st.slider(
            "Genres ↔ tags", 0.0, 1.0, step=0.05, key=key, on_change=_keep, args=(key,),
            help="Inside the genre & tag signal: 1 = genres only, 0 = user tags only.",
        )  # fmt: skip
        st.button(
            "Reset weights", on_click=_reset_weights, args=(defaults,),
            icon=":material/restart_alt:", width="stretch",
            help="Back to the weights the build tuned on this data set.",
        )  # fmt: skip
    return Weights(**values, genre_weight=genre_weight)


def _filter_widgets(facts: dict[str, Any]) -> Filters:
    """The "Filters" expander: genres in and out, years, a minimum number of ratings."""
    lo, hi = facts["year_min"], max(facts["year_max"], facts["year_min"] + 1)
    top = max(facts["max_ratings"], 1)
    with st.sidebar.expander("Filters", icon=":material/filter_alt:"):
        key = _shared(state.INCLUDE_GENRES_KEY, [])
        include = st.multiselect(
            "Only these genres", facts["genres"], key=key, on_change=_keep, args=(key,),
            placeholder="any genre",
        )  # fmt: skip
        key = _shared(state.EXCLUDE_GENRES_KEY, [])
        exclude = st.multiselect(
            "Never these genres", facts["genres"], key=key, on_change=_keep, args=(key,),
            placeholder="none excluded",
        )  # fmt: skip
        key = _shared(state.YEARS_KEY, (lo, hi))
        years = st.slider("Years", lo, hi, key=key, on_change=_keep, args=(key,))
        key = _shared(state.MIN_RATINGS_KEY, 0)
        min_ratings = st.number_input(
            "At least this many ratings", 0, top, step=5, key=key, on_change=_keep, args=(key,),
            help="Hide obscure movies that only a handful of people rated.",
        )  # fmt: skip
    return Filters(
        include_genres=tuple(include),
        exclude_genres=tuple(exclude),
        # The full range means "no year filter", so movies without a known year stay in.
        year_min=None if years[0] <= lo else int(years[0]),
        year_max=None if years[1] >= hi else int(years[1]),
        min_ratings=int(min_ratings),
    )


def blend_controls(engine: Engine) -> tuple[Weights, Filters]:
    """Sidebar sliders for the signal weights and the filters, shared by several pages.

    The values are kept for the session, so tuning on For-you carries over to Similar.
    """
    facts = cached.catalogue_facts(engine_key(engine), engine)
    weights = _weight_sliders(engine.default_weights)
    return weights, _filter_widgets(facts)
