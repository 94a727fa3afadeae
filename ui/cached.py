"""Cached calls into the core: ``st.cache_data`` wrappers around :mod:`core.serving.explore`
and the engine's recommend/similar, keyed by :func:`ui.app.engine_key`. Thin: no computation
of their own beyond relabelling for display, and no widgets.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from core.serving import explore
from core.serving.blend import Filters, Weights
from core.serving.engine import Engine
from core.serving.results import Recommendations
from ui.app import CACHE_TTL, TOP_N
from ui.format import genres_text, shorten, year_text

#: Cached variants kept per analytics view (one per data set, a few rebuilds).
_ANALYTICS_ENTRIES = 8


# -- the whole catalogue -----------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=4, ttl=CACHE_TTL)
def catalogue_facts(key: str, _engine: Engine) -> dict:
    """Cached :func:`core.serving.explore.catalogue_facts`."""
    return explore.catalogue_facts(_engine.catalog)


@st.cache_data(show_spinner=False, max_entries=_ANALYTICS_ENTRIES, ttl=CACHE_TTL)
def rating_distribution(key: str, _engine: Engine) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.rating_distribution`."""
    return explore.rating_distribution(_engine.catalog)


@st.cache_data(show_spinner=False, max_entries=_ANALYTICS_ENTRIES, ttl=CACHE_TTL)
def activity_long_tail(key: str, _engine: Engine) -> dict[str, pd.DataFrame]:
    """Cached :func:`core.serving.explore.activity_long_tail`."""
    return explore.activity_long_tail(_engine.catalog)


@st.cache_data(show_spinner=False, max_entries=_ANALYTICS_ENTRIES, ttl=CACHE_TTL)
def genre_stats(key: str, _engine: Engine) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.genre_stats`."""
    return explore.genre_stats(_engine.catalog)


@st.cache_data(show_spinner=False, max_entries=_ANALYTICS_ENTRIES, ttl=CACHE_TTL)
def ratings_over_time(key: str, _engine: Engine) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.ratings_over_time`."""
    return explore.ratings_over_time(_engine.catalog)


@st.cache_data(show_spinner=False, max_entries=8, ttl=CACHE_TTL)
def well_known_movies(key: str, _engine: Engine, limit: int = 96) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.well_known_movies`."""
    return explore.well_known_movies(_engine.catalog, limit)


# -- users -------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=4, ttl=CACHE_TTL)
def user_directory(key: str, _engine: Engine) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.user_directory`."""
    return explore.user_directory(_engine.catalog)


@st.cache_data(show_spinner=False, max_entries=64, ttl=CACHE_TTL)
def user_favourites(key: str, _engine: Engine, user_id: int, limit: int = 12) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.user_favourites` (raw values; the table formats)."""
    return explore.user_favourites(_engine.catalog, int(user_id), limit)


@st.cache_data(show_spinner=False, max_entries=64, ttl=CACHE_TTL)
def user_genre_profile(key: str, _engine: Engine, user_id: int) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.user_genre_profile`."""
    return explore.user_genre_profile(_engine.catalog, int(user_id))


# -- how the signals see the movies ------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=64, ttl=CACHE_TTL)
def similarity_matrix(
    key: str, _engine: Engine, movie_ids: tuple[int, ...], signal: str
) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.similarity_matrix`, labelled by short titles."""
    matrix = explore.similarity_matrix(_engine, movie_ids, signal)
    labels = [shorten(_engine.catalog.title_of(m), 34) for m in movie_ids]
    return pd.DataFrame(matrix.to_numpy(), index=labels, columns=labels)


@st.cache_data(show_spinner=False, max_entries=6, ttl=CACHE_TTL)
def embedding_map(key: str, _engine: Engine, method: str = "PCA", size: int = 3000) -> pd.DataFrame:
    """Cached :func:`core.serving.explore.embedding_map` of the semantic signal's embeddings,
    with year and genres as display text (for the hover)."""
    embeddings = _engine.scorers["semantic"].embeddings  # type: ignore[attr-defined]
    points = explore.embedding_map(_engine.catalog, embeddings, method, size)
    points["year"] = points["year"].map(year_text)
    points["genres"] = points["genres"].map(genres_text)
    return points


@st.cache_data(show_spinner=False, max_entries=128, ttl=CACHE_TTL)
def people_matches(
    key: str, _engine: Engine, movie_id: int, limit: int = 8
) -> dict[str, pd.DataFrame]:
    """Cached :func:`core.serving.explore.people_matches` as ``"More by <director>"`` /
    ``"Also with <actor>"`` -> movies."""
    crew = _engine.scorers["crew"]
    rows = explore.people_matches(_engine.catalog, crew, int(movie_id), limit)  # type: ignore[arg-type]
    out: dict[str, pd.DataFrame] = {}
    for role, person, frame in rows:
        label = "More by {}" if role == "directors" else "Also with {}"
        out[label.format(person)] = frame
    return out


# -- engine calls ------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=256, ttl=CACHE_TTL)
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


@st.cache_data(show_spinner=False, max_entries=256, ttl=CACHE_TTL)
def similar(
    key: str, _engine: Engine, movie_id: int, weights: Weights, filters: Filters, top: int = 12
) -> Recommendations:
    """Cached :meth:`Engine.similar` for a resolved movie id."""
    return _engine.similar(int(movie_id), weights=weights, filters=filters, top=top)


@st.cache_data(show_spinner=False, max_entries=128, ttl=CACHE_TTL)
def similar_by_signal(
    key: str, _engine: Engine, movie_id: int, filters: Filters, top: int = 8
) -> Mapping[str, pd.DataFrame]:
    """Cached :meth:`Engine.similar_by_signal`."""
    return _engine.similar_by_signal(int(movie_id), top=top, filters=filters)
