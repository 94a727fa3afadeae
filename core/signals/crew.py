"""Two content signals from TMDB: the people behind a movie, and how TMDB's audience received it.

* :class:`CrewScorer` ("Director & cast"): movies by the directors and with the lead actors of
  the movies a query likes ("same director as Alien (1979)", "with Tom Hanks"). It also answers
  the Similar page's "more by this director" rows (:meth:`CrewScorer.same_people`).
* :class:`MetadataScorer` ("TMDB metadata"): standardised TMDB popularity, damped vote average
  and vote count, blended by a weight with the text similarity of the semantic scorer.

Both score whole catalogues with sparse/dense NumPy products, give NaN (no opinion) rather than
guesses, and save as arrays + JSON (no pickled objects). Neither reads files or the network.
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
from core.signals.popularity import RatingHistory, read_meta, titles_of, unknown_notes
from core.signals.base import Query, Scorer, Scores, query_profile, save_json

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


def _liked_profile(
    history: RatingHistory, query: Query, like_threshold: float
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Liked rated movies plus seeds, with weights; harsh raters fall back to above-mean ones."""
    rated = Query(user_id=query.user_id, ratings=query.ratings)
    catalog = cast(Catalog, history)  # duck-typed: user_history() and item_of
    items, weights, notes = query_profile(catalog, rated, like_threshold=like_threshold)
    if len(items) == 0 and (query.ratings or history.user_row(query.user_id) is not None):
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


def _empty_history() -> RatingHistory:
    return RatingHistory(
        np.empty(0, np.int32), np.empty(0, np.int32), sp.csr_matrix((0, 0), dtype=np.float32)
    )


# ---------------------------------------------------------------------------------------------
# Director and cast
# ---------------------------------------------------------------------------------------------
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
        self.history = _empty_history()

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
        items, weights, notes = _liked_profile(self.history, query, self.like_threshold)
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


# ---------------------------------------------------------------------------------------------
# TMDB metadata blended with text similarity
# ---------------------------------------------------------------------------------------------
#: Share of the metadata quality in :class:`MetadataScorer` (the rest is text similarity).
#: Chosen on validation data (``core.evaluation.models``, ml-latest-small): ranked alone, the
#: signal's nDCG@10 by share was 0.024 (0), 0.050 (0.3), 0.072 (0.5), 0.078 (0.7), 0.065 (1).
METADATA_WEIGHT = 0.7
#: Pseudo-votes at the mean that damp the vote average (IMDb's weighted-rating formula).
VOTE_DAMPING = 50.0
#: The three standardised TMDB columns and their share of the quality score.
METADATA_FEATURES: dict[str, float] = {"popularity": 1.0, "vote_average": 1.0, "vote_count": 1.0}


def tmdb_quality(movies: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Standardised TMDB reception per movie (NaN where TMDB has no data) and its parts.

    ``log1p(popularity)``, the damped vote average and ``log1p(vote_count)`` are each z-scored
    over the movies that have them; the quality is their weighted mean, z-scored again.
    """
    n = len(movies)

    def column(name: str) -> np.ndarray:
        if name not in movies:
            return np.full(n, np.nan)
        values = pd.to_numeric(movies[name], errors="coerce").astype("float64")
        return values.to_numpy(na_value=np.nan)

    votes = column("vote_count")
    average = column("vote_average")
    known = np.isfinite(votes) & (votes > 0) & np.isfinite(average)
    mean_vote = float(np.average(average[known], weights=votes[known])) if known.any() else 0.0
    with np.errstate(invalid="ignore"):
        damped = (votes * average + VOTE_DAMPING * mean_vote) / (votes + VOTE_DAMPING)
    raw = {
        "popularity": np.log1p(np.clip(column("popularity"), 0, None)),
        "vote_average": np.where(known, damped, np.nan),
        "vote_count": np.where(known, np.log1p(votes), np.nan),
    }
    parts = {name: _zscore(values) for name, values in raw.items()}
    stacked = np.vstack([parts[name] * w for name, w in METADATA_FEATURES.items()])
    present = np.isfinite(stacked)
    total_weight = (present * np.array(list(METADATA_FEATURES.values()))[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        quality = np.where(total_weight > 0, np.nansum(stacked, axis=0) / total_weight, np.nan)
    return _zscore(quality).astype(np.float32), {k: v.astype(np.float32) for k, v in parts.items()}


def _zscore(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.sum() < 2:
        return np.where(finite, 0.0, np.nan)
    mean, std = values[finite].mean(), values[finite].std()
    return np.where(finite, (values - mean) / (std if std > 1e-12 else 1.0), np.nan)


class MetadataScorer(Scorer):
    """``(1 - w) * z(text similarity) + w * z(TMDB quality)``, ``w`` = ``metadata_weight``.

    The text part is a :class:`~core.signals.semantic.SemanticScorer` (cosine to the liked/seed
    movies or the query text); the metadata part is :func:`tmdb_quality`, 0 (average) where
    TMDB has no data. Without anything to compare with, the metadata part alone is returned
    (a finite fallback, said in the note).
    """

    name = "metadata"
    label = "TMDB metadata"

    def __init__(self, *, metadata_weight: float = METADATA_WEIGHT) -> None:
        self.metadata_weight = float(metadata_weight)
        self.quality = np.empty(0, dtype=np.float32)
        self.parts: dict[str, np.ndarray] = {}
        self.vote_average = np.empty(0, dtype=np.float32)
        self.vote_count = np.empty(0, dtype=np.float32)
        self.text: Any = None  # core.signals.semantic.SemanticScorer

    def fit(  # type: ignore[override]  # the text scorer is an extra, optional input
        self, catalog: Catalog, semantic: Any = None, embeddings: np.ndarray | None = None
    ) -> MetadataScorer:
        """Standardise the TMDB columns; ``semantic`` (a fitted SemanticScorer) or
        ``embeddings`` (one unit vector per movie) give the text similarity."""
        from core.signals.semantic import SemanticScorer

        self.n_items = catalog.n_items
        self.quality, self.parts = tmdb_quality(catalog.movies)
        movies = catalog.movies
        for name in ("vote_average", "vote_count"):
            values = pd.to_numeric(movies[name], errors="coerce") if name in movies else None
            array = (
                values.astype("float64").to_numpy(na_value=np.nan)
                if values is not None
                else np.full(self.n_items, np.nan)
            )
            setattr(self, name, array.astype(np.float32))
        if semantic is None:
            if embeddings is None:
                raise ValueError("MetadataScorer.fit needs a semantic scorer or embeddings")
            semantic = SemanticScorer().fit_embeddings(catalog, embeddings)
        self.text = semantic
        return self

    def set_encoder(self, encoder: Any) -> None:
        """Share the query encoder with the text part."""
        if self.text is not None and hasattr(self.text, "set_encoder"):
            self.text.set_encoder(encoder)

    def score(self, query: Query) -> Scores:
        """Text similarity and TMDB reception, blended; metadata alone when text is silent."""
        if self.n_items == 0:
            return Scores.empty(0, "metadata scorer is not fitted")
        meta = np.nan_to_num(self.quality, nan=0.0)
        text = self.text.score(query)
        w = self.metadata_weight
        if not text.has_opinion:
            note = "; ".join(n for n in (text.note, "TMDB reception only") if n)
            return Scores(meta.astype(np.float32), note)
        z_text = np.nan_to_num(_zscore(text.values), nan=0.0)
        values = (1.0 - w) * z_text + w * meta
        return Scores(values.astype(np.float32), text.note)

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"TMDB 7.8/10 from 5,269 votes"`` for well-received picks, else the text reason."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) == 0 or self.n_items == 0:
            return [None] * len(items)
        text = self.text.explain(query, items) if self.metadata_weight < 1 else [None] * len(items)
        out: list[str | None] = []
        for row, item in enumerate(items.tolist()):
            quality = self.quality[item]
            if self.metadata_weight > 0 and np.isfinite(quality) and quality > 1.0:
                votes = self.vote_count[item]
                out.append(f"TMDB {self.vote_average[item]:.1f}/10 from {int(votes):,} votes")
            else:
                out.append(text[row])
        return out

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``metadata_*.npy``, ``metadata.json`` and the text scorer's own files."""
        directory.mkdir(parents=True, exist_ok=True)
        for key in ("quality", "vote_average", "vote_count"):
            np.save(directory / f"metadata_{key}.npy", getattr(self, key))
        for key, values in self.parts.items():
            np.save(directory / f"metadata_part_{key}.npy", values)
        self.text.save(directory)
        save_json(
            directory / "metadata.json",
            {
                "kind": "metadata",
                "metadata_weight": self.metadata_weight,
                "parts": sorted(self.parts),
                "n_items": self.n_items,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> MetadataScorer:
        """Read what :meth:`save` wrote (the text part's vectors memory-mapped)."""
        from core.signals.semantic import SemanticScorer

        meta = read_meta(directory / "metadata.json", "metadata")
        obj = cls(metadata_weight=float(meta["metadata_weight"]))
        obj.n_items = int(meta["n_items"])
        for key in ("quality", "vote_average", "vote_count"):
            setattr(obj, key, np.load(directory / f"metadata_{key}.npy"))
        obj.parts = {k: np.load(directory / f"metadata_part_{k}.npy") for k in meta["parts"]}
        obj.text = SemanticScorer.load(directory)
        return obj

    def with_weight(self, metadata_weight: float) -> MetadataScorer:
        """A copy sharing every array but with another metadata weight (for tuning)."""
        other = MetadataScorer(metadata_weight=metadata_weight)
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k != "metadata_weight"})
        return other
