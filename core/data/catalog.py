"""The movie catalogue: movies, ratings, tags and text, aligned on one item index.

A :class:`Catalog` is what every loader returns and every scorer is fitted on. Row ``i`` of
``movies`` is item index ``i`` everywhere in the core (score arrays, embedding rows, matrix
columns). This module holds the data types only; reading files is :mod:`core.data.loaders`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Columns every ``Catalog.movies`` frame has (loaders fill missing text with "").
MOVIE_COLUMNS: dict[str, str] = {
    "movieId": "int32",  # MovieLens id
    "title": "string",  # title as in the data, year stripped ("Usual Suspects, The")
    "display_title": "string",  # article moved to the front ("The Usual Suspects")
    "year": "Int16",  # release year, <NA> when unknown
    "genres": "string",  # MovieLens genres, pipe-separated, "" when none
    "tags": "string",  # user tags (and relevant genome tags), "|"-separated, most used first
    "imdbId": "Int64",
    "tmdbId": "Int64",
    # Text and metadata joined from TMDB / Wikipedia; "" or <NA> when unknown.
    "overview": "string",
    "tagline": "string",
    "keywords": "string",  # "|"-separated
    "directors": "string",  # "|"-separated
    "cast": "string",  # "|"-separated, top-billed first
    "plot": "string",  # longer plot summary (Wikipedia) where available
    "runtime": "Float32",
    "popularity": "Float32",
    "vote_average": "Float32",
    "vote_count": "Float32",
}

#: Columns of ``Catalog.ratings``.
RATING_COLUMNS: dict[str, str] = {
    "userId": "int32",
    "movieId": "int32",
    "rating": "float32",
    "timestamp": "int64",
}

#: Columns of ``Catalog.tags`` (may be empty).
TAG_COLUMNS: dict[str, str] = {
    "userId": "int32",
    "movieId": "int32",
    "tag": "string",
    "timestamp": "int64",
}

_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<art>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los)$")


def display_title(title: str) -> str:
    """Move a trailing article to the front: ``"Matrix, The"`` -> ``"The Matrix"``.

    Also handles alternate titles in parentheses: ``"Shawshank Redemption, The"``.
    """
    title = "" if title is None or title != title else str(title).strip()  # None / NaN -> ""
    head, sep, tail = title.partition(" (")
    match = _ARTICLE.match(head)
    if match:
        art = match["art"]
        joiner = "" if art.endswith("'") else " "
        head = f"{art}{joiner}{match['rest']}"
    return head + (sep + tail if sep else "")


def normalise_title(title: str) -> str:
    """Join key for titles across sources: article-insensitive, lower case, alphanumerics."""
    text = display_title(str(title)).lower()
    text = re.sub(r"^(the|a|an) ", "", text)
    text = text.replace("&", "and")
    return re.sub(r"[^0-9a-z]+", "", text)


@dataclass
class LoadReport:
    """What a loader read and what it found wrong; nothing is dropped without being counted."""

    source: str
    layout: str
    files_read: list[str] = field(default_factory=list)
    n_users: int = 0
    n_movies: int = 0
    n_ratings: int = 0
    n_tags: int = 0
    rating_scale: tuple[float, float] = (0.5, 5.0)
    # Counted problems, e.g. {"duplicate_ratings_dropped": 3, "ratings_out_of_scale": 1}.
    counts: dict[str, int] = field(default_factory=dict)
    # Human-readable warnings (missing optional files, columns, separators...).
    warnings: list[str] = field(default_factory=list)
    # Where rows were lost or repaired, with the first line numbers, e.g.
    # "movies.csv: 6 rows lost to an unclosed quote starting at line 7".
    details: list[str] = field(default_factory=list)
    # Text coverage, e.g. {"tmdb": 3850, "plots": 4100, "tags": 1572}.
    text_coverage: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int) -> None:
        """Add ``n`` to a problem counter (zero counts are not recorded)."""
        if n:
            self.counts[key] = self.counts.get(key, 0) + int(n)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        data = asdict(self)
        data["rating_scale"] = list(self.rating_scale)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadReport:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["rating_scale"] = tuple(data.get("rating_scale", (0.5, 5.0)))
        return cls(**data)

    def summary(self) -> str:
        """Multi-line plain-text report for the CLI and the app's data panel."""
        lines = [
            f"Source: {self.source} (layout: {self.layout})",
            f"Read: {', '.join(self.files_read) or '-'}",
            f"{self.n_users:,} users, {self.n_movies:,} movies, {self.n_ratings:,} ratings, "
            f"{self.n_tags:,} tags",
        ]
        if self.text_coverage:
            cov = ", ".join(f"{k}: {v:,}" for k, v in self.text_coverage.items())
            lines.append(f"Movies with text: {cov}")
        for key, value in sorted(self.counts.items()):
            lines.append(f"  {key.replace('_', ' ')}: {value:,}")
        lines.extend(f"  {d}" for d in self.details)
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)


@dataclass
class Catalog:
    """Movies, ratings and tags of one data set, with ``movies`` row = item index."""

    name: str
    movies: pd.DataFrame
    ratings: pd.DataFrame
    tags: pd.DataFrame
    report: LoadReport

    @property
    def n_items(self) -> int:
        """Number of movies (length of every score array)."""
        return len(self.movies)

    @cached_property
    def movie_ids(self) -> np.ndarray:
        """``movieId`` of each item index (int32)."""
        return self.movies["movieId"].to_numpy(dtype=np.int32)

    @cached_property
    def item_of(self) -> dict[int, int]:
        """``movieId`` -> item index."""
        return {int(m): i for i, m in enumerate(self.movie_ids)}

    @cached_property
    def user_ids(self) -> np.ndarray:
        """Sorted distinct user ids that have ratings (int32)."""
        return np.unique(self.ratings["userId"].to_numpy(dtype=np.int32))

    @cached_property
    def user_of(self) -> dict[int, int]:
        """``userId`` -> row of :attr:`user_items`."""
        return {int(u): i for i, u in enumerate(self.user_ids)}

    @cached_property
    def user_items(self) -> sp.csr_matrix:
        """Users x items rating matrix (float32 CSR; rows follow :attr:`user_ids`)."""
        rows = np.searchsorted(self.user_ids, self.ratings["userId"].to_numpy(dtype=np.int32))
        cols = self.items_for(self.ratings["movieId"].to_numpy())
        values = self.ratings["rating"].to_numpy(dtype=np.float32)
        return sp.csr_matrix(
            (values, (rows, cols)), shape=(len(self.user_ids), self.n_items), dtype=np.float32
        )

    def items_for(self, movie_ids: np.ndarray) -> np.ndarray:
        """Item indices of an array of movieIds (all must be in the catalogue)."""
        order = np.argsort(self.movie_ids)
        pos = np.searchsorted(self.movie_ids, movie_ids, sorter=order)
        return order[pos].astype(np.int64)

    def user_history(self, user_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Item indices (int64) and ratings (float32) of one user; empty when unknown."""
        row = self.user_of.get(int(user_id))
        if row is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        matrix = self.user_items
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        return (
            matrix.indices[start:end].astype(np.int64),
            matrix.data[start:end].astype(np.float32),
        )

    @cached_property
    def years(self) -> np.ndarray:
        """Release year per item as float64 (NaN when unknown)."""
        return self.movies["year"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)

    @cached_property
    def display_columns(self) -> dict[str, np.ndarray]:
        """Per-item arrays shown with every result (read once, so results build in microseconds)."""
        movies = self.movies
        stats = self.rating_stats
        return {
            "movieId": self.movie_ids,
            "title": movies["display_title"].to_numpy(dtype=object),
            "year": movies["year"].to_numpy(dtype=object, na_value=None),
            "genres": movies["genres"].to_numpy(dtype=object),
            "n_ratings": stats["n_ratings"].to_numpy(),
            "mean_rating": stats["mean_rating"].to_numpy(),
            "overview": movies["overview"].to_numpy(dtype=object),
            "directors": movies["directors"].to_numpy(dtype=object),
            "imdbId": movies["imdbId"].to_numpy(dtype=object, na_value=None),
            "tmdbId": movies["tmdbId"].to_numpy(dtype=object, na_value=None),
        }

    def user_ratings(self, user_id: int) -> pd.DataFrame:
        """One user's ratings (empty frame for an unknown user), best first."""
        row = self.user_of.get(int(user_id))
        if row is None:
            return self.ratings.iloc[0:0]
        matrix = self.user_items
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        frame = pd.DataFrame(
            {
                "movieId": self.movie_ids[matrix.indices[start:end]],
                "rating": matrix.data[start:end],
            }
        )
        return frame.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)

    def title_of(self, movie_id: int) -> str:
        """``"The Usual Suspects (1995)"`` for a movieId; ``"movie <id>"`` when unknown."""
        item = self.item_of.get(int(movie_id))
        if item is None:
            return f"movie {movie_id}"
        row = self.movies.iloc[item]
        year = row["year"]
        return (
            f"{row['display_title']} ({int(year)})" if pd.notna(year) else str(row["display_title"])
        )

    @cached_property
    def genre_names(self) -> list[str]:
        """Distinct genres, sorted (excluding "(no genres listed)")."""
        found: set[str] = set()
        for value in self.movies["genres"].fillna(""):
            found.update(g for g in str(value).split("|") if g and not g.startswith("("))
        return sorted(found)

    @cached_property
    def rating_stats(self) -> pd.DataFrame:
        """Per item: ``n_ratings`` and ``mean_rating`` (NaN when unrated), by item index."""
        items = self.items_for(self.ratings["movieId"].to_numpy())
        values = self.ratings["rating"].to_numpy(dtype=np.float64)
        counts = np.bincount(items, minlength=self.n_items)
        sums = np.bincount(items, weights=values, minlength=self.n_items)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        return pd.DataFrame({"n_ratings": counts.astype(np.int64), "mean_rating": means})

    def fingerprint_frames(self) -> list[pd.DataFrame]:
        """Frames whose content decides the built artifacts (for the manifest's hash)."""
        return [self.movies, self.ratings, self.tags]
