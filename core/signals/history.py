"""The catalogue's ratings without the rest of the catalogue: what a fitted scorer keeps.

:class:`RatingHistory` lets a loaded scorer look up a user's history and word notes on unknown
ids (duck-compatible with :func:`core.signals.base.query_profile`); it must not score anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.data.catalog import Catalog
from core.signals.base import Query, query_profile


@dataclass
class RatingHistory:
    """Users x items ratings of a catalogue, with the id maps needed to read them.

    Implements the two members :func:`core.signals.base.query_profile` uses (``user_history`` and
    ``item_of``), so a scorer can build profiles without keeping the whole :class:`Catalog`.
    """

    movie_ids: np.ndarray  # int32, movieId of each item index
    user_ids: np.ndarray  # int32, sorted; row of ``matrix``
    matrix: sp.csr_matrix  # float32 ratings, users x items

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> RatingHistory:
        """The catalogue's ratings (shares the catalogue's arrays)."""
        return cls(catalog.movie_ids, catalog.user_ids, catalog.user_items)

    @classmethod
    def empty(cls) -> RatingHistory:
        """No users, no movies: the state of a scorer before :meth:`Scorer.fit`."""
        return cls(
            np.empty(0, np.int32), np.empty(0, np.int32), sp.csr_matrix((0, 0), dtype=np.float32)
        )

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return len(self.movie_ids)

    @cached_property
    def item_of(self) -> dict[int, int]:
        """``movieId`` -> item index."""
        return {int(m): i for i, m in enumerate(self.movie_ids.tolist())}

    def user_row(self, user_id: int | None) -> int | None:
        """Row of ``user_id`` in :attr:`matrix`, ``None`` when the user has no ratings."""
        if user_id is None or len(self.user_ids) == 0:
            return None
        row = int(np.searchsorted(self.user_ids, int(user_id)))
        if row < len(self.user_ids) and int(self.user_ids[row]) == int(user_id):
            return row
        return None

    def user_items(self, user_id: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Item indices (int64) and ratings (float32) of one user; empty when unknown."""
        row = self.user_row(user_id)
        if row is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        start, end = self.matrix.indptr[row], self.matrix.indptr[row + 1]
        return (
            self.matrix.indices[start:end].astype(np.int64),
            self.matrix.data[start:end].astype(np.float32),
        )

    def user_history(self, user_id: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Same as :meth:`user_items` (the name :func:`core.signals.base.query_profile` calls)."""
        return self.user_items(user_id)

    def user_ratings(self, user_id: int) -> pd.DataFrame:
        """One user's ratings as ``movieId, rating`` (empty for an unknown user), best first."""
        items, ratings = self.user_items(user_id)
        frame = pd.DataFrame({"movieId": self.movie_ids[items], "rating": ratings})
        return frame.sort_values("rating", ascending=False, kind="stable").reset_index(drop=True)

    def merged(
        self, user_id: int | None, ratings: dict[int, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Stored history overridden by extra ``ratings`` ({movieId: rating}).

        Returns item indices, ratings and notes on unusable input (unknown movies); an unknown
        user is not noted here (callers word that themselves).
        """
        items, values = self.user_items(user_id)
        notes: list[str] = []
        if not ratings:
            return items, values, notes
        merged = dict(zip(items.tolist(), values.tolist(), strict=True))
        for movie_id, rating in ratings.items():
            item = self.item_of.get(int(movie_id))
            if item is None:
                notes.append(f"unknown movie {movie_id}")
            else:
                merged[item] = float(rating)
        keys = np.fromiter(merged.keys(), dtype=np.int64, count=len(merged))
        vals = np.fromiter(merged.values(), dtype=np.float32, count=len(merged))
        return keys, vals, notes

    def save(self, directory: Path, prefix: str) -> None:
        """Write ``<prefix>_movie_ids.npy``, ``<prefix>_user_ids.npy`` and
        ``<prefix>_ratings.npz`` (CSR)."""
        np.save(directory / f"{prefix}_movie_ids.npy", np.asarray(self.movie_ids, dtype=np.int32))
        np.save(directory / f"{prefix}_user_ids.npy", np.asarray(self.user_ids, dtype=np.int32))
        sp.save_npz(directory / f"{prefix}_ratings.npz", self.matrix.tocsr(), compressed=True)

    @classmethod
    def load(cls, directory: Path, prefix: str) -> RatingHistory:
        """Inverse of :meth:`save`."""
        matrix = cast(
            sp.csr_matrix, sp.csr_matrix(sp.load_npz(directory / f"{prefix}_ratings.npz"))
        )
        return cls(
            np.load(directory / f"{prefix}_movie_ids.npy"),
            np.load(directory / f"{prefix}_user_ids.npy"),
            matrix,
        )


def unknown_notes(history: RatingHistory, query: Query) -> list[str]:
    """Notes for the parts of ``query`` the catalogue does not know (user, seed and rated ids)."""
    notes: list[str] = []
    if query.user_id is not None and history.user_row(query.user_id) is None:
        notes.append(f"unknown user {query.user_id}")
    for movie_id in [*query.seeds, *query.ratings]:
        if int(movie_id) not in history.item_of:
            notes.append(f"unknown movie {movie_id}")
    return notes


def liked_profile(
    history: RatingHistory, query: Query, like_threshold: float
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Liked rated movies plus seeds, with weights; harsh raters fall back to above-mean ones.

    Ratings at or above ``like_threshold`` weigh by how far they sit above the profile's mean
    (see :func:`~core.signals.base.query_profile`); a user with no such rating gets their
    above-mean ones instead. Seeds not already in the profile weigh 1. Used by the content
    scorers (genre/tag, crew), which compare movies with what a query likes.
    """
    rated = Query(user_id=query.user_id, ratings=query.ratings)
    catalog = cast(Catalog, history)  # duck-typed: user_history() and item_of
    items, weights, notes = query_profile(catalog, rated, like_threshold=like_threshold)
    if len(items) == 0 and (query.ratings or history.user_row(query.user_id) is not None):
        # Nothing rated >= the threshold: use the ratings above the user's own mean.
        items, weights, notes = query_profile(catalog, rated)
        keep = weights > 0
        items, weights = items[keep], weights[keep]
    present = set(items.tolist())
    seeds = [
        history.item_of[int(m)]
        for m in query.seeds
        if int(m) in history.item_of and history.item_of[int(m)] not in present
    ]
    seeds = list(dict.fromkeys(seeds))
    items = np.concatenate([items, np.asarray(seeds, dtype=np.int64)])
    weights = np.concatenate([weights, np.ones(len(seeds), dtype=np.float32)])
    return items, weights.astype(np.float32), notes
