"""The "Director & cast" scorer: movies by the directors and with the leads of liked movies.

Scores whole catalogues from TMDB credits with sparse products ("same director as Alien
(1979)", "with Tom Hanks") and answers the Similar page's "more by this director" rows
(:meth:`CrewScorer.same_people`); it must not read files or the network, and gives NaN (no
opinion) for movies without credits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from core.data.catalog import Catalog
from core.signals.base import Query, Scorer, Scores, read_meta, save_json, titles_of
from core.signals.history import RatingHistory, liked_profile, unknown_notes

#: Ratings at or above this count as "liked" (else the user's above-mean ratings do).
LIKE_RATING = 3.5
#: How many top-billed actors count as a movie's leads.
CAST_TOP = 4
#: Weight of a director against the first-billed actor (a director shapes a film more).
DIRECTOR_WEIGHT = 1.5
#: Weights of the leads in billing order (the star matters more than the fourth name).
CAST_WEIGHTS = (1.0, 0.75, 0.55, 0.4, 0.3, 0.25)


def split_people(value: Any) -> list[str]:
    """``"Tom Hanks|Meg Ryan"`` -> ``["Tom Hanks", "Meg Ryan"]`` (empty for missing values)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return []
    return [p.strip() for p in str(value).split("|") if p.strip()]


class CrewScorer(Scorer):
    """Overlap of directors and lead actors with the query's liked and seed movies.

    After :meth:`fit`: ``directors`` and ``cast`` are items x people CSR matrices (binary and
    billing-weighted), ``people`` names their columns, ``crew`` is their weighted sum with
    L2-normalised rows (what :meth:`score` multiplies), ``has_crew`` marks movies with credits
    (the others score NaN: no credits is no opinion, not "unlike").
    """

    name = "crew"
    label = "Director & cast"

    def __init__(
        self,
        *,
        like_threshold: float = LIKE_RATING,
        cast_top: int = CAST_TOP,
        director_weight: float = DIRECTOR_WEIGHT,
    ) -> None:
        self.like_threshold = float(like_threshold)
        self.cast_top = int(cast_top)
        self.director_weight = float(director_weight)
        self.people: list[str] = []
        self.directors = sp.csr_matrix((0, 0), dtype=np.float32)
        self.cast = sp.csr_matrix((0, 0), dtype=np.float32)
        self.crew = sp.csr_matrix((0, 0), dtype=np.float32)
        self.has_crew = np.empty(0, dtype=bool)
        self.n_ratings = np.empty(0, dtype=np.int64)
        self.titles = np.empty(0, dtype=str)
        self.history = RatingHistory.empty()

    def fit(self, catalog: Catalog) -> CrewScorer:
        """Read the ``directors`` and ``cast`` columns into sparse people matrices."""
        self.n_items = catalog.n_items
        self.history = RatingHistory.from_catalog(catalog)
        self.titles = titles_of(catalog)
        self.n_ratings = catalog.rating_stats["n_ratings"].to_numpy(dtype=np.int64)
        movies = catalog.movies
        column: dict[str, int] = {}
        triples: dict[str, tuple[list[int], list[int], list[float]]] = {
            "directors": ([], [], []),
            "cast": ([], [], []),
        }
        weights = CAST_WEIGHTS + (CAST_WEIGHTS[-1],) * max(0, self.cast_top - len(CAST_WEIGHTS))
        for role in ("directors", "cast"):
            values = movies[role] if role in movies else pd.Series([""] * self.n_items)
            rows, cols, data = triples[role]
            for item, value in enumerate(values.tolist()):
                names = split_people(value)
                if role == "cast":
                    names = names[: self.cast_top]
                seen: set[int] = set()
                for position, name in enumerate(names):
                    col = column.setdefault(name, len(column))
                    if col in seen:
                        continue
                    seen.add(col)
                    rows.append(item)
                    cols.append(col)
                    data.append(1.0 if role == "directors" else weights[position])
        self.people = list(column)
        shape = (self.n_items, len(self.people))

        def matrix(role: str) -> sp.csr_matrix:
            rows, cols, data = triples[role]
            return sp.csr_matrix((np.asarray(data, np.float32), (rows, cols)), shape=shape)

        self.directors = matrix("directors")
        self.cast = matrix("cast")
        combined = (self.director_weight * self.directors + self.cast).tocsr()
        if combined.shape[1]:  # sklearn refuses a matrix without columns (no credits at all)
            combined = normalize(combined, norm="l2")
        self.crew = cast(sp.csr_matrix, sp.csr_matrix(combined, dtype=np.float32))
        self.has_crew = np.diff(self.crew.indptr) > 0
        return self

    # -- scoring ------------------------------------------------------------------------------
    def _profile(self, query: Query) -> tuple[np.ndarray, np.ndarray, list[str]]:
        items, weights, notes = liked_profile(self.history, query, self.like_threshold)
        notes = list(dict.fromkeys([*notes, *unknown_notes(self.history, query)]))
        if len(items):
            keep = self.has_crew[items]
            items, weights = items[keep], weights[keep]
        return items, weights, notes

    def score(self, query: Query) -> Scores:
        """Crew overlap of every movie with the liked/seed movies' people (NaN without credits)."""
        if self.n_items == 0:
            return Scores.empty(0, "director & cast scorer is not fitted")
        items, weights, notes = self._profile(query)
        if len(items) == 0:
            why = "empty query" if query.is_empty() else "no liked movie with known credits"
            return Scores.empty(self.n_items, "; ".join([*notes, why]))
        profile = np.asarray(self.crew[items].T @ weights, dtype=np.float32).ravel()
        values = np.asarray(self.crew @ profile, dtype=np.float32).ravel()
        values = np.where(self.has_crew, values, np.nan).astype(np.float32)
        return Scores(values, "; ".join(notes))

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"same director as Alien (1979)"`` or ``"with Tom Hanks, Meg Ryan"`` per item."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) == 0 or self.n_items == 0:
            return [None] * len(items)
        liked, weights, _ = self._profile(query)
        if len(liked) == 0:
            return [None] * len(items)
        # items x liked: weight of the liked movie when a director is shared.
        shared_director = (self.directors[items] @ self.directors[liked].T).toarray() > 0
        by_director = np.where(shared_director, weights[None, :], -np.inf)
        # Lead actors of each item, ranked by how much the profile likes them.
        cast_profile = np.asarray((self.cast[liked] > 0).T @ weights, dtype=np.float32).ravel()
        out: list[str | None] = []
        for row, item in enumerate(items.tolist()):
            best = int(np.argmax(by_director[row]))
            if np.isfinite(by_director[row, best]) and int(liked[best]) != item:
                out.append(f"same director as {self.titles[int(liked[best])]}")
                continue
            start, end = self.cast.indptr[item], self.cast.indptr[item + 1]
            people = self.cast.indices[start:end]
            liked_people = people[cast_profile[people] > 0]
            if len(liked_people):
                order = np.argsort(-cast_profile[liked_people], kind="stable")[:2]
                out.append("with " + ", ".join(self.people[p] for p in liked_people[order]))
            else:
                out.append(None)
        return out

    # -- people -------------------------------------------------------------------------------
    def people_of(self, item: int, role: str = "directors") -> list[str]:
        """Names credited on a movie (``role`` = ``"directors"`` or ``"cast"``), billing order."""
        matrix = self.directors if role == "directors" else self.cast
        start, end = matrix.indptr[item], matrix.indptr[item + 1]
        columns, data = matrix.indices[start:end], matrix.data[start:end]
        return [self.people[c] for c in columns[np.argsort(-data, kind="stable")]]

    def movies_with(self, person: str, role: str = "directors") -> np.ndarray:
        """Item indices credited with ``person`` in ``role``, most-rated first."""
        try:
            col = self.people.index(person)
        except ValueError:
            return np.empty(0, dtype=np.int64)
        matrix = (self.directors if role == "directors" else self.cast).tocsc()
        items = matrix.indices[matrix.indptr[col] : matrix.indptr[col + 1]].astype(np.int64)
        return items[np.argsort(-self.n_ratings[items], kind="stable")]

    def same_people(
        self, item: int, *, directors: int = 2, leads: int = 3, limit: int = 8
    ) -> list[tuple[str, str, np.ndarray]]:
        """``(role, person, items)`` rows for "More by <director>" / "Also with <actor>".

        Each row holds up to ``limit`` other movies with that person, most-rated first; people
        with no other movie are left out.
        """
        rows: list[tuple[str, str, np.ndarray]] = []
        for role, most in (("directors", directors), ("cast", leads)):
            for person in self.people_of(item, role)[:most]:
                others = self.movies_with(person, role)
                others = others[others != item][:limit]
                if len(others):
                    rows.append((role, person, others))
        return rows

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``crew_*.npz`` matrices, ``crew_*.npy`` arrays, names as JSON, ``crew.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        for key in ("directors", "cast", "crew"):
            sp.save_npz(directory / f"crew_{key}.npz", getattr(self, key).tocsr())
        np.save(directory / "crew_has_crew.npy", self.has_crew)
        np.save(directory / "crew_n_ratings.npy", self.n_ratings)
        (directory / "crew_people.json").write_text(json.dumps(self.people))
        (directory / "crew_titles.json").write_text(json.dumps(self.titles.tolist()))
        self.history.save(directory, "crew")
        save_json(
            directory / "crew.json",
            {
                "kind": "crew",
                "like_threshold": self.like_threshold,
                "cast_top": self.cast_top,
                "director_weight": self.director_weight,
                "n_items": self.n_items,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> CrewScorer:
        """Read what :meth:`save` wrote; ``ValueError`` if the folder holds something else."""
        meta = read_meta(directory / "crew.json", "crew")
        obj = cls(
            like_threshold=float(meta["like_threshold"]),
            cast_top=int(meta["cast_top"]),
            director_weight=float(meta["director_weight"]),
        )
        obj.n_items = int(meta["n_items"])
        for key in ("directors", "cast", "crew"):
            matrix = sp.csr_matrix(sp.load_npz(directory / f"crew_{key}.npz"), dtype=np.float32)
            setattr(obj, key, matrix)
        obj.has_crew = np.load(directory / "crew_has_crew.npy")
        obj.n_ratings = np.load(directory / "crew_n_ratings.npy")
        obj.people = list(json.loads((directory / "crew_people.json").read_text()))
        obj.titles = np.asarray(json.loads((directory / "crew_titles.json").read_text()))
        obj.history = RatingHistory.load(directory, "crew")
        return obj
