"""Cleaning and cross-checking of raw MovieLens tables into a :class:`~core.data.catalog.Catalog`.

Every row dropped or repaired is counted in the report; nothing here reads files.

Report counters (``report.counts``), all "rows" unless said otherwise:

* ``<file>_malformed_lines``: lines with the wrong number of fields, skipped.
* ``ratings_bad_ids`` / ``movies_bad_ids`` / ``tags_bad_ids`` / ``links_bad_ids``: missing or
  non-integer ids, dropped.
* ``ratings_bad_values``: missing or non-numeric ratings, dropped.
* ``ratings_out_of_scale``: ratings outside the data set's scale (or off its step), dropped.
* ``duplicate_ratings_dropped``: repeated (user, movie) pairs; the latest rating is kept.
* ``ratings_unknown_movie`` / ``tags_unknown_movie``: rows for movies not in the movies file,
  dropped.
* ``ratings_missing_timestamp`` / ``tags_missing_timestamp``: kept with timestamp 0.
* ``duplicate_movies_dropped``: repeated movieIds in the movies file; the first is kept.
* ``movies_without_ratings``, ``movies_without_year``, ``movies_without_title``: kept.
* ``tags_empty``: blank tags, dropped.
* ``movies_control_characters`` / ``tags_control_characters``: titles, genres or tags holding
  NUL or other control characters, kept with those characters removed.

The readers add ``<file>_rows_lost_to_unclosed_quote`` and ``<file>_lines_not_utf8``, and
``report.details`` names the first offending lines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.catalog import (
    MOVIE_COLUMNS,
    RATING_COLUMNS,
    TAG_COLUMNS,
    Catalog,
    LoadReport,
    display_title,
)
from core.data.layouts import rating_step
from core.data.rawtext import strip_controls
from core.errors import DataError

_INT32_MIN, _INT32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max


def _as_ids(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(int32 ids, valid mask)``; missing, fractional or out-of-range ids are invalid (0)."""
    if isinstance(values.dtype, pd.Int32Dtype) or values.dtype == np.int32:
        return values.to_numpy(dtype=np.int32, na_value=0), ~values.isna().to_numpy()
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        valid = (
            np.isfinite(numbers)
            & (np.floor(numbers) == numbers)
            & (numbers >= _INT32_MIN)
            & (numbers <= _INT32_MAX)
        )
    return np.where(valid, numbers, 0).astype(np.int32), valid


def _as_int64(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(int64 values, valid mask)``; missing or fractional values are invalid (0)."""
    if isinstance(values.dtype, pd.Int64Dtype) or values.dtype == np.int64:
        return values.to_numpy(dtype=np.int64, na_value=0), ~values.isna().to_numpy()
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(numbers) & (np.floor(numbers) == numbers)
    return np.where(valid, numbers, 0).astype(np.int64), valid


def _as_float32(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(float32 values, valid mask)``; missing or non-numeric values are invalid (NaN)."""
    if not isinstance(values.dtype, pd.Float32Dtype):
        values = pd.to_numeric(values, errors="coerce")
    numbers = values.to_numpy(dtype=np.float32, na_value=np.nan)
    return numbers, np.isfinite(numbers)


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``ids`` in the sorted array ``sorted_ids`` and whether each was found."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.minimum(pos, len(sorted_ids) - 1)
    return pos, sorted_ids[pos] == ids


def _clean_movies(
    raw: pd.DataFrame, links: pd.DataFrame | None, report: LoadReport
) -> pd.DataFrame:
    """Movies with valid unique ids, sorted by movieId, in exactly :data:`MOVIE_COLUMNS`.

    ``raw`` has movieId, title (year already split off), year and genres.
    """
    movie_ids, ok = _as_ids(raw["movieId"])
    report.count("movies_bad_ids", int((~ok).sum()))
    dup = ok & pd.Series(np.where(ok, movie_ids, 0)).duplicated().to_numpy()
    report.count("duplicate_movies_dropped", int(dup.sum()))
    keep = np.flatnonzero(ok & ~dup)
    keep = keep[np.argsort(movie_ids[keep], kind="stable")]
    raw, movie_ids = raw.iloc[keep], movie_ids[keep]
    n = len(raw)

    title, bad_title = strip_controls(raw["title"])
    genres, bad_genres = strip_controls(raw["genres"])
    report.count("movies_control_characters", int((bad_title | bad_genres).sum()))
    title = title.fillna("").str.strip().to_numpy(dtype=object)
    report.count("movies_without_title", int((title == "").sum()))
    shown = [
        display_title(t) if t else f"Untitled (movie {m})"
        for t, m in zip(title, movie_ids, strict=True)
    ]
    year = pd.array(raw["year"].to_numpy(), dtype="Int16")
    report.count("movies_without_year", int(pd.isna(year).sum()))
    genres = genres.fillna("").str.strip().to_numpy(dtype=object)

    columns: dict[str, object] = {}
    for col, dtype in MOVIE_COLUMNS.items():
        if dtype == "string":
            columns[col] = pd.array([""] * n, dtype="string")
        elif dtype[0].isupper():  # nullable numbers start out unknown
            columns[col] = pd.array([pd.NA] * n, dtype=dtype)
    columns.update(
        movieId=movie_ids,
        title=pd.array(title, dtype="string"),
        display_title=pd.array(shown, dtype="string"),
        year=year,
        genres=pd.array(genres, dtype="string"),
    )
    if links is not None and len(links):
        link_ids, ok = _as_ids(links["movieId"])
        report.count("links_bad_ids", int((~ok).sum()))
        first = ok & ~pd.Series(np.where(ok, link_ids, 0)).duplicated().to_numpy()
        order = np.flatnonzero(first)
        order = order[np.argsort(link_ids[order], kind="stable")]
        pos, found = _lookup(link_ids[order], movie_ids)
        for col in ("imdbId", "tmdbId"):
            values, valid = _as_int64(links[col].iloc[order])
            has = found & valid[pos] if len(order) else found
            columns[col] = pd.array(
                np.where(has, values[pos] if len(order) else 0, 0), dtype="Int64"
            )
            columns[col][~has] = pd.NA
    return pd.DataFrame(columns)[list(MOVIE_COLUMNS)]


def _clean_ratings(
    raw: pd.DataFrame, movie_ids: np.ndarray, report: LoadReport
) -> tuple[pd.DataFrame, np.ndarray]:
    """Valid, in-scale, de-duplicated ratings of known movies, and their item indices."""
    users, ok_user = _as_ids(raw["userId"])
    movies, ok_movie = _as_ids(raw["movieId"])
    ok = ok_user & ok_movie
    report.count("ratings_bad_ids", int((~ok).sum()))
    del ok_user, ok_movie

    rating, ok_value = _as_float32(raw["rating"])
    report.count("ratings_bad_values", int((ok & ~ok_value).sum()))
    ok &= ok_value
    low, high = report.rating_scale
    step = rating_step(report.rating_scale)
    with np.errstate(invalid="ignore"):
        in_scale = (rating >= low) & (rating <= high) & (np.mod(rating, step) == 0)
    report.count("ratings_out_of_scale", int((ok & ~in_scale).sum()))
    ok &= in_scale

    items, known = _lookup(movie_ids, movies)
    report.count("ratings_unknown_movie", int((ok & ~known).sum()))
    ok &= known

    kept = np.flatnonzero(ok)
    users, movies, rating, items = users[kept], movies[kept], rating[kept], items[kept]
    stamps, ok_stamp = _as_int64(raw["timestamp"])
    stamps = stamps[kept]
    report.count("ratings_missing_timestamp", int((~ok_stamp[kept]).sum()))

    keep = _latest_of_duplicates(users, movies, stamps)
    if keep is not None:
        report.count("duplicate_ratings_dropped", int((~keep).sum()))
        users, movies, rating, stamps, items = (
            a[keep] for a in (users, movies, rating, stamps, items)
        )
    frame = pd.DataFrame(
        {"userId": users, "movieId": movies, "rating": rating, "timestamp": stamps}
    )
    return frame.astype(RATING_COLUMNS), items


def _latest_of_duplicates(
    users: np.ndarray, movies: np.ndarray, stamps: np.ndarray
) -> np.ndarray | None:
    """Mask keeping the latest rating of each repeated (user, movie) pair; None if none repeat.

    Ties in time go to the later line of the file. MovieLens files are sorted by user then
    movie, so the repeat check is usually a linear scan rather than a hash of 32M keys.
    """
    key = (users.astype(np.int64) << 32) | (movies.astype(np.int64) & 0xFFFFFFFF)
    if len(key) < 2:
        return None
    if np.all(key[1:] >= key[:-1]):
        same = key[1:] == key[:-1]
        if not same.any():
            return None
        involved = np.zeros(len(key), dtype=bool)
        involved[1:] |= same
        involved[:-1] |= same
    else:
        involved = pd.Series(key).duplicated(keep=False).to_numpy()
        if not involved.any():
            return None
    rows = np.flatnonzero(involved)
    rows = rows[np.lexsort((rows, stamps[rows], key[rows]))]  # by pair, then time, then line
    pair = key[rows]
    last = np.append(pair[1:] != pair[:-1], True)
    keep = np.ones(len(key), dtype=bool)
    keep[rows[~last]] = False
    return keep


def _clean_tags(
    raw: pd.DataFrame | None, movie_ids: np.ndarray, report: LoadReport
) -> pd.DataFrame:
    """Valid, non-blank tags of known movies in exactly :data:`TAG_COLUMNS` (original text)."""
    if raw is None or not len(raw):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in TAG_COLUMNS.items()})
    users, ok_user = _as_ids(raw["userId"])
    movies, ok_movie = _as_ids(raw["movieId"])
    ok = ok_user & ok_movie
    report.count("tags_bad_ids", int((~ok).sum()))
    text, controls = strip_controls(raw["tag"])
    report.count("tags_control_characters", int((ok & controls.to_numpy(dtype=bool)).sum()))
    text = text.fillna("").str.strip()
    blank = (text == "").to_numpy(dtype=bool)
    report.count("tags_empty", int((ok & blank).sum()))
    ok &= ~blank
    _, known = _lookup(movie_ids, movies)
    report.count("tags_unknown_movie", int((ok & ~known).sum()))
    ok &= known
    stamps, ok_stamp = _as_int64(raw["timestamp"])
    report.count("tags_missing_timestamp", int((ok & ~ok_stamp).sum()))
    frame = pd.DataFrame(
        {
            "userId": users[ok],
            "movieId": movies[ok],
            "tag": text[ok].to_numpy(dtype=object),
            "timestamp": stamps[ok],
        }
    )
    return frame.astype(TAG_COLUMNS)


def _aggregate_tags(
    tags: pd.DataFrame, genome: pd.DataFrame | None, movie_ids: np.ndarray
) -> pd.array:
    """Per movie: user tags (lower case, most used first) then relevant genome tags, "|"-joined."""
    parts = []
    if len(tags):
        text = (
            tags["tag"]
            .str.lower()
            .str.replace(r"\s+", " ", regex=True)
            .str.replace("|", "/", regex=False)
        )
        counts = (
            pd.DataFrame(
                {"movieId": tags["movieId"].to_numpy(), "tag": text.to_numpy(dtype=object)}
            )
            .groupby(["movieId", "tag"], sort=False)
            .size()
            .reset_index(name="n")
        )
        parts.append(pd.DataFrame({
            "movieId": counts["movieId"], "tag": counts["tag"], "source": 0,
            "score": -counts["n"].to_numpy(dtype=np.float64),
        }))  # fmt: skip
    if genome is not None and len(genome):
        parts.append(pd.DataFrame({
            "movieId": genome["movieId"].to_numpy(dtype=np.int32),
            "tag": genome["tag"].str.lower().str.strip().to_numpy(dtype=object),
            "source": 1,
            "score": -genome["relevance"].to_numpy(dtype=np.float64),
        }))  # fmt: skip
    if not parts:
        return pd.array([""] * len(movie_ids), dtype="string")
    every = pd.concat(parts, ignore_index=True)
    every = every.sort_values(["movieId", "source", "score", "tag"], kind="stable")
    every = every.drop_duplicates(["movieId", "tag"], keep="first")
    joined = every.groupby("movieId", sort=True)["tag"].agg("|".join)
    return pd.array(joined.reindex(movie_ids).fillna("").to_numpy(dtype=object), dtype="string")


def assemble_catalog(
    name: str,
    report: LoadReport,
    movies_raw: pd.DataFrame,
    ratings_raw: pd.DataFrame,
    tags_raw: pd.DataFrame | None,
    links_raw: pd.DataFrame | None,
    genome: pd.DataFrame | None,
) -> Catalog:
    """Clean and cross-check the parts of a data set and build the :class:`Catalog`."""
    movies = _clean_movies(movies_raw, links_raw, report)
    if movies.empty:
        found = f" ({'; '.join(report.details)})" if report.details else ""
        raise DataError(f"No usable movies in {report.source}{found}.")
    movie_ids = movies["movieId"].to_numpy(dtype=np.int32)
    ratings, items = _clean_ratings(ratings_raw, movie_ids, report)
    if ratings.empty:
        problems = ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in report.counts.items())
        raise DataError(
            f"No usable ratings in {report.source} after cleaning"
            + (f" ({problems})." if problems else ".")
        )
    rated = np.zeros(len(movies), dtype=bool)
    rated[items] = True
    report.count("movies_without_ratings", int((~rated).sum()))
    tags = _clean_tags(tags_raw, movie_ids, report)
    movies["tags"] = _aggregate_tags(tags, genome, movie_ids)

    report.n_users = len(pd.unique(ratings["userId"].to_numpy()))
    report.n_movies = len(movies)
    report.n_ratings = len(ratings)
    report.n_tags = len(tags)
    return Catalog(name=name, movies=movies, ratings=ratings, tags=tags, report=report)
