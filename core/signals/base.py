"""The one small interface every movie scorer implements, and the helpers all scorers share.

Defines :class:`Query`, :class:`Scores`, :class:`Scorer` and the persistence/explanation helpers
(JSON metadata, titles); it must not know any particular signal or import one.

A scorer is fitted on a :class:`~core.data.catalog.Catalog` and, for a :class:`Query` (a user, a
handful of ratings, seed movies and/or text), returns one float per item index, all at once
(vectorised). ``NaN`` means "no opinion" -- never a silent guess. When a scorer cannot use part
of the query (unknown user, unknown seed movie) it says so in :attr:`Scores.note`, in the manner
of Surprise's ``was_impossible`` detail and LensKit's fallbacks.
"""

from __future__ import annotations

import abc
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from core.data.catalog import Catalog

S = TypeVar("S", bound="Scorer")
T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    """What a scorer is asked about. Every field is optional; an empty query is valid.

    Attributes:
        user_id: a user of the training data (history taken from the catalogue).
        ratings: extra ratings by movieId (a new user's handful, folded in without retraining);
            they override the stored history for the same movie.
        seeds: movieIds the results should resemble ("movies like Alien").
        text: free text ("space smugglers", a chat request).
    """

    user_id: int | None = None
    ratings: Mapping[int, float] = field(default_factory=dict)
    seeds: Sequence[int] = ()
    text: str = ""

    def is_empty(self) -> bool:
        """True when the query carries nothing to score with."""
        return (
            self.user_id is None and not self.ratings and not self.seeds and not self.text.strip()
        )


@dataclass
class Scores:
    """One scorer's answer: a float32 score per item index (NaN = no opinion) and a note."""

    values: np.ndarray
    note: str = ""

    @classmethod
    def empty(cls, n_items: int, note: str = "") -> Scores:
        """All-NaN scores: the scorer has no opinion about any movie."""
        return cls(np.full(n_items, np.nan, dtype=np.float32), note)

    @property
    def has_opinion(self) -> bool:
        """Whether at least one movie got a score."""
        return bool(np.isfinite(self.values).any())


def query_profile(
    catalog: Catalog | Any, query: Query, *, like_threshold: float | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Item indices and weights describing what the query likes, plus notes on what was unusable.

    Combines the user's stored ratings, ``query.ratings`` (overriding) and ``query.seeds`` (weight
    1). Ratings are centred on the profile's mean so disliked movies pull away; with
    ``like_threshold`` only ratings at or above it are kept (weights > 0). ``catalog`` is a
    :class:`Catalog` or anything with ``user_history(user_id)`` and ``item_of`` (such as
    :class:`core.signals.history.RatingHistory`). Vectorised: a 2,000-rating user costs
    microseconds.
    """
    notes: list[str] = []
    items = np.empty(0, dtype=np.int64)
    values = np.empty(0, dtype=np.float32)
    if query.user_id is not None:
        items, values = catalog.user_history(int(query.user_id))
        if len(items) == 0:
            notes.append(f"unknown user {query.user_id}")
    if query.ratings:
        extra_items, extra_values = [], []
        for movie_id, rating in query.ratings.items():
            item = catalog.item_of.get(int(movie_id))
            if item is None:
                notes.append(f"unknown movie {movie_id}")
            else:
                extra_items.append(item)
                extra_values.append(float(rating))
        if extra_items:
            extra = np.asarray(extra_items, dtype=np.int64)
            keep = ~np.isin(items, extra)
            items = np.concatenate([items[keep], extra])
            values = np.concatenate([values[keep], np.asarray(extra_values, dtype=np.float32)])
    weights = np.empty(0, dtype=np.float32)
    if len(items):
        values = values.astype(np.float32)
        centre = float(values.mean()) if len(values) > 1 else float(values.mean()) - 1.0
        weights = values - centre
        if like_threshold is not None:
            liked = values >= like_threshold
            items, weights = items[liked], np.maximum(weights[liked], 0.0) + 0.5
    seed_items = []
    for movie_id in query.seeds:
        item = catalog.item_of.get(int(movie_id))
        if item is None:
            notes.append(f"unknown movie {movie_id}")
        else:
            seed_items.append(item)
    if seed_items:
        seeds = np.unique(np.asarray(seed_items, dtype=np.int64))
        seeds = seeds[~np.isin(seeds, items)]
        items = np.concatenate([items, seeds])
        weights = np.concatenate([weights, np.ones(len(seeds), dtype=np.float32)])
    return items.astype(np.int64), weights.astype(np.float32), notes


class Scorer(abc.ABC):
    """Base class of every signal: fit once, score whole catalogues per query, save and load.

    Subclasses set :attr:`name` and implement :meth:`fit`, :meth:`score`, :meth:`save` and
    :meth:`load`. Saved state is arrays (``.npy``/``.npz``, read without pickle) and JSON only:
    an artifact file must never be able to run code when it is loaded.
    """

    name: ClassVar[str] = "scorer"
    #: Short label for the UI ("Collaborative", "Genre & tags", ...).
    label: ClassVar[str] = "Scorer"

    n_items: int = 0

    @abc.abstractmethod
    def fit(self: S, catalog: Catalog) -> S:
        """Learn from the catalogue; returns ``self``."""

    @abc.abstractmethod
    def score(self, query: Query) -> Scores:
        """Score every item for ``query``; NaN where there is no opinion, never an exception
        for unknown users, unknown movies or an empty query."""

    def score_users(self, user_ids: np.ndarray) -> np.ndarray:
        """:meth:`score` of each user's stored ratings, users x items (float32): what
        validation needs for hundreds of users at once. Subclasses may override it with one
        matrix product; the result must equal scoring the users one by one."""
        out = np.empty((len(user_ids), self.n_items), dtype=np.float32)
        for row, user in enumerate(np.asarray(user_ids).tolist()):
            out[row] = self.score(Query(user_id=int(user))).values
        return out

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """A short plain-language reason per item (``None`` when this signal has none)."""
        return [None] * len(items)

    def set_encoder(self, encoder: Any) -> None:
        """Take the process's shared query encoder (a sentence encoder, loaded once). Scorers
        that encode query text keep it; the others have no use for it."""
        return None

    # -- persistence -------------------------------------------------------------------------
    @abc.abstractmethod
    def save(self, directory: Path) -> None:
        """Write the fitted scorer into ``directory`` (created if needed) as arrays and JSON."""

    @classmethod
    @abc.abstractmethod
    def load(cls: type[S], directory: Path) -> S:
        """Read a scorer written by :meth:`save`; raises ``ValueError`` if it is not one."""


def save_arrays(obj: object, directory: Path, prefix: str, keys: Sequence[str]) -> None:
    """Write each attribute ``key`` of ``obj`` to ``<prefix>_<key>.npy`` (arrays, no pickles)."""
    for key in keys:
        np.save(directory / f"{prefix}_{key}.npy", getattr(obj, key))


def load_arrays(obj: object, directory: Path, prefix: str, keys: Sequence[str]) -> None:
    """Inverse of :func:`save_arrays`: set each attribute ``key`` of ``obj`` from its file."""
    for key in keys:
        setattr(obj, key, np.load(directory / f"{prefix}_{key}.npy"))


def save_json(path: Path, data: object) -> None:
    """Write JSON with stable formatting (used for small metadata files)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))


def read_meta(path: Path, kind: str) -> dict[str, Any]:
    """Read a scorer's JSON metadata (written with :func:`save_json`) and check its ``kind``."""
    if not path.exists():
        raise ValueError(f"{path.parent} does not hold a saved {kind!r} scorer")
    meta = json.loads(path.read_text())
    if meta.get("kind") != kind:
        raise ValueError(f"{path.parent} holds a {meta.get('kind')!r} scorer, not {kind!r}")
    return meta


def known_fields(cls: type[T], data: dict[str, Any]) -> T:
    """A settings dataclass from saved values, ignoring fields it no longer has (a saved model
    stays loadable when settings gain or lose fields; staleness is the manifest's job)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def titles_of(catalog: Catalog) -> np.ndarray:
    """``"The Matrix (1999)"`` per item index, as a NumPy unicode array (saved without pickle)."""
    movies = catalog.movies
    names = movies["display_title"].fillna(movies["title"]).fillna("").astype(str)
    years = movies["year"].astype("Int64").astype("string")
    labelled = names + " (" + years.fillna("") + ")"
    titles = labelled.where(years.notna(), names)
    return np.asarray(titles.to_numpy(dtype=str), dtype=str)


def stars(rating: float) -> str:
    """``5.0 -> "5★"``, ``4.5 -> "4.5★"`` (how explanations quote a rating)."""
    return f"{rating:g}★"
