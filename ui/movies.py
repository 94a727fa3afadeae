"""Movie widgets: result tables, the anchor card, one signal's neighbours, same-people tiles,
title search helpers and the newcomer's rating grid. Layout of movies only; the data comes
from :mod:`ui.cached` and :mod:`core.serving.explore`, never computed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import UnknownTitle, WorkbenchError
from core.serving import explore
from core.serving.engine import Engine
from ui import cached, state
from ui.app import engine_key
from ui.format import (
    SIGNAL_COLORS,
    SIGNAL_HELP,
    SIGNAL_LABELS,
    escape_md,
    escape_md_after_bold,
    genres_text,
    imdb_url,
    people_list,
    shorten,
    stars,
    title_with_year,
    tmdb_url,
    year_text,
)

#: The For-you page's ranking choices: label -> ``Engine.recommend(model=...)``.
PICK_MODELS: dict[str, str] = {
    "Blend of signals": "blend",
    "Blend, led by my latest ratings": "recent",
    "Two-tower model": "twotower",
}
#: Well-known movies shown per page of the newcomer's rating grid.
ONBOARD_SIZE = 12
_FAVOURITE_COLUMNS = ["Title", "Their rating", "Year", "Genres"]


# -- result tables -----------------------------------------------------------------------------
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


def table_height(rows: int, most: int = 15) -> int:
    """Pixel height that shows ``rows`` rows (up to ``most``) without an inner scrollbar."""
    return 38 + 35 * max(1, min(rows, most))


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


def movies_frame(engine: Engine, movie_ids: Iterable[int]) -> pd.DataFrame:
    """A display table of the given movies (selection results), overview in place of reasons."""
    rows = explore.movies_by_id(engine.catalog, list(movie_ids))
    rows["score"] = np.nan
    rows["reason"] = rows["overview"].map(lambda t: shorten(t, 160))
    table = movie_table(rows, predicted=False, score=False)
    return table.rename(columns={"Why": "Overview"})


# -- a user's own movies -----------------------------------------------------------------------
def _rating_table(frame: pd.DataFrame, digits: int) -> pd.DataFrame:
    """Title / Their rating / Year / Genres from a frame of raw ``title, year, genres, rating``."""
    if frame.empty:
        return pd.DataFrame(columns=_FAVOURITE_COLUMNS)
    return pd.DataFrame(
        {
            "Title": frame["title"].astype(str).to_numpy(),
            "Their rating": frame["rating"].map(lambda r: stars(r, digits)).to_numpy(),
            "Year": frame["year"].map(year_text).to_numpy(),
            "Genres": frame["genres"].map(genres_text).to_numpy(),
        }
    )


def favourites_table(engine: Engine, user_id: int) -> pd.DataFrame:
    """A user's highest-rated movies, most-rated first among ties (for context)."""
    return _rating_table(cached.user_favourites(engine_key(engine), engine, int(user_id)), 1)


def rated_movies(engine: Engine, ratings: Mapping[int, float]) -> pd.DataFrame:
    """A newcomer's ratings as a table, best first."""
    return _rating_table(explore.rated_movies(engine.catalog, ratings), 0)


def favourite_columns() -> dict[str, Any]:
    """Column widths for :func:`favourites_table` and :func:`rated_movies` tables."""
    cc = st.column_config
    return {
        "Title": cc.TextColumn("Title", width="medium"),
        "Their rating": cc.TextColumn("Rating", width="small"),
        "Year": cc.TextColumn("Year", width="small"),
        "Genres": cc.TextColumn("Genres", width="medium"),
    }


def user_facts(engine: Engine, user_id: int) -> dict[str, Any]:
    """``n_ratings``, ``mean_rating`` and ``top_genre`` (or "–") of a user for the metric row."""
    key = engine_key(engine)
    users = cached.user_directory(key, engine)
    info = users.loc[users["userId"] == user_id].iloc[0]
    profile = cached.user_genre_profile(key, engine, int(user_id))
    return {
        "n_ratings": int(info["n_ratings"]),
        "mean_rating": info["mean_rating"],
        "top_genre": profile["genre"].iloc[0] if len(profile) else "–",
    }


# -- newcomer's rating grid --------------------------------------------------------------------
def _store_rating(movie_id: int) -> None:
    value = st.session_state.get(state.rating_key(movie_id))
    ratings = state.new_ratings()
    if value is None:
        ratings.pop(movie_id, None)
    else:
        ratings[movie_id] = float(value) + 1.0  # st.feedback stars are 0..4


def clear_new_ratings() -> None:
    """Forget the newcomer's ratings (button callback)."""
    for movie_id in list(state.new_ratings()):
        st.session_state.pop(state.rating_key(movie_id), None)
    st.session_state[state.NEW_RATINGS_KEY] = {}


def next_onboarding_batch(total: int) -> None:
    """Show the next dozen well-known movies (button callback)."""
    pages = max(1, total // ONBOARD_SIZE)
    page = st.session_state.get(state.ONBOARD_PAGE_KEY, 0)
    st.session_state[state.ONBOARD_PAGE_KEY] = (page + 1) % pages


def rating_grid(engine: Engine, columns: int = 4) -> dict[int, float]:
    """A grid of a dozen well-known movies with star ratings; returns every rating given."""
    movies = cached.well_known_movies(engine_key(engine), engine)
    page = st.session_state.get(state.ONBOARD_PAGE_KEY, 0)
    batch = movies.iloc[page * ONBOARD_SIZE : (page + 1) * ONBOARD_SIZE]
    ratings = state.new_ratings()
    cols = st.columns(columns)
    for pos, row in enumerate(batch.itertuples(index=False)):
        with cols[pos % columns].container(border=True, height="stretch"):
            st.markdown(
                f"**{escape_md(row.title)}**  \n:gray[{year_text(row.year)} · "
                f"{escape_md(genres_text(row.genres))}]"
            )
            current = ratings.get(int(row.movieId))
            st.feedback(
                "stars",
                key=state.rating_key(row.movieId),
                default=int(current) - 1 if current else None,
                on_change=_store_rating,
                args=(int(row.movieId),),
            )
    return dict(ratings)


# -- finding a movie by title ------------------------------------------------------------------
def movie_options(engine: Engine, limit: int = 400) -> dict[int, str]:
    """The most-rated movies as ``movieId -> "Title (year)"`` for pickers."""
    movies = cached.well_known_movies(engine_key(engine), engine, limit=limit)
    return {
        int(m): title_with_year(t, y)
        for m, t, y in zip(movies["movieId"], movies["title"], movies["year"], strict=True)
    }


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
            escape_md(title),  # a label is Markdown; the callback gets the title as it is
            key=f"{key_prefix}_{i}",
            on_click=state.set_similar_title,
            args=(title,),
            width="stretch",
        )


def resolve_title(engine: Engine, text: str) -> Any | None:
    """The movie ``text`` names, or ``None`` after showing what went wrong and suggestions."""
    try:
        return engine.find_title(text)
    except UnknownTitle as err:
        st.info(escape_md(str(err).split(" Did you mean")[0]), icon=":material/search_off:")
        if err.suggestions:
            st.caption("Did you mean:")
            suggestion_buttons(err.suggestions, key_prefix="suggest")
        return None
    except WorkbenchError as err:
        st.info(escape_md(str(err)), icon=":material/info:")
        return None


# -- one movie and its neighbours --------------------------------------------------------------
def markdown_links(row: Mapping[str, Any], arrow: str = "") -> list[str]:
    """Markdown links to the movie's IMDb and TMDB pages (those that are known)."""
    return [
        f"[{label}{arrow}]({url})"
        for label, url in (
            ("IMDb", imdb_url(row.get("imdbId"))),
            ("TMDB", tmdb_url(row.get("tmdbId"))),
        )
        if url
    ]


def anchor_card(engine: Engine, movie_id: int) -> None:
    """The chosen movie: title, facts, overview, people and links."""
    row = explore.movie_row(engine.catalog, movie_id)
    with st.container(border=True):
        year = year_text(row.get("year"))
        st.markdown(f"### {escape_md(row['display_title'])}" + (f" ({year})" if year else ""))
        facts = [escape_md(genres_text(row.get("genres")))]
        if row.get("mean_rating") is not None:
            facts.append(f"{stars(row['mean_rating'])} average from {row['n_ratings']:,} ratings")
        if row.get("runtime"):
            facts.append(f"{int(row['runtime'])} min")
        st.markdown(" · ".join(f for f in facts if f))
        if row.get("overview"):
            st.markdown(escape_md(shorten(row["overview"], 600)))
        people = []
        if row.get("directors"):
            people.append("**Directed by** " + ", ".join(people_list(row["directors"])))
        if row.get("cast"):
            people.append("**With** " + ", ".join(people_list(row["cast"])[:5]))
        if people:
            st.markdown("  \n".join(escape_md_after_bold(p) for p in people))
        links = markdown_links(row, " ↗")
        if links:
            st.markdown(" · ".join(links))


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
        lines.append(f"{rank}. {escape_md(str(row.title))}" + (f" :gray[({year})]" if year else ""))
    st.markdown("\n".join(lines))


def people_row(label: str, frame: pd.DataFrame) -> None:
    """A horizontal row of small movie tiles with a button to explore each one."""
    st.markdown(f"**{escape_md(label)}**")
    cols = st.columns(min(max(len(frame), 1), 6))
    for pos, row in enumerate(frame.head(6).itertuples(index=False)):
        with cols[pos].container(border=True, height="stretch"):
            year = year_text(row.year)
            st.markdown(f"{escape_md(row.title)}" + (f"  \n:gray[{year}]" if year else ""))
            st.button(
                "Explore",
                key=f"people_{label}_{row.movieId}",
                on_click=state.set_similar_title,
                args=(title_with_year(row.title, row.year),),
                icon=":material/arrow_forward:",
                type="tertiary",
            )
