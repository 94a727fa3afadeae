"""The "semantic" scorer: cosine of movie embeddings to liked/seed movies and the query text.

Holds one unit vector per movie (memory-mapped when loaded) and encodes query text with a shared
:class:`~core.signals.encoder.Encoder`; it must not pickle the encoder or hold global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog
from core.errors import ArtifactError
from core.signals.base import Query, Scorer, Scores, query_profile, read_meta, save_json, titles_of
from core.signals.encoder import EncodeProgress, Encoder, normalise_rows
from core.signals.history import RatingHistory


def fallback_text(catalog: Catalog, *, long: bool = False) -> list[str]:
    """Per-movie text when the caller gives none: :func:`core.data.enrich.movie_text`.

    ``long=False`` is the short embedding text, ``long=True`` the keyword-search text.
    """
    from core.data.enrich import movie_text  # local: enrich pulls in loaders and pandas I/O

    return movie_text(catalog.movies, long=long)


def title_texts(catalog: Catalog) -> list[str]:
    """``"The Matrix (1999). Action, Sci-Fi"`` per movie: the stand-in for movies without text."""
    movies = catalog.movies
    titles = movies["display_title"].fillna("").astype(str)
    years = movies["year"].astype("Float64")
    genres = movies["genres"].fillna("").astype(str).str.replace("|", ", ", regex=False)
    out = []
    for title, year, genre in zip(titles, years, genres, strict=True):
        text = f"{title} ({int(year)})" if pd.notna(year) else title
        if genre and not genre.startswith("("):
            text += f". {genre}"
        out.append(text)
    return out


class SemanticScorer(Scorer):
    """Cosine similarity of movie embeddings to a liked-movie profile and the query text.

    The item matrix is ``n_items x dim`` float32 with unit rows; it is saved as ``.npy`` and
    memory-mapped on load. The encoder is only needed for text queries; it is loaded lazily
    (or given) and never pickled.
    """

    name: ClassVar[str] = "semantic"
    label: ClassVar[str] = "Semantic"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        encoder: Encoder | None = None,
        model: str | None = None,
    ) -> None:
        self._encoder = encoder
        if encoder is not None:
            self.model_name = encoder.model_name
        else:
            self.model_name = model or (settings or Settings()).embed_model
        #: ``n_items x dim`` unit vectors (row = item index); the engine reuses them for search.
        self.embeddings: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self.titles: list[str] = []
        self.n_items = 0
        self._history: RatingHistory | None = None

    # -- fitting -------------------------------------------------------------------------------
    def fit(  # type: ignore[override]  # extra optional arguments only
        self,
        catalog: Catalog,
        texts: Sequence[str] | None = None,
        encoder: Encoder | None = None,
        progress: EncodeProgress | None = None,
    ) -> SemanticScorer:
        """Encode every movie's short text (``texts``, default :func:`fallback_text`).

        Movies whose text is empty are encoded from title, year and genres instead, so every
        item has a meaningful vector.
        """
        if encoder is not None:
            self._encoder = encoder
        texts = list(texts) if texts is not None else fallback_text(catalog)
        if len(texts) != catalog.n_items:
            raise ValueError(f"{len(texts)} texts for {catalog.n_items} movies")
        stand_in = title_texts(catalog)
        texts = [
            t if isinstance(t, str) and t.strip() else s
            for t, s in zip(texts, stand_in, strict=True)
        ]
        self.embeddings = self.encoder.encode(texts, progress=progress)
        self._set_catalog(catalog)
        return self

    def fit_embeddings(self, catalog: Catalog, embeddings: np.ndarray) -> SemanticScorer:
        """Use precomputed unit item vectors (row = item index) instead of encoding."""
        if embeddings.shape[0] != catalog.n_items:
            raise ValueError(f"{embeddings.shape[0]} vectors for {catalog.n_items} movies")
        self.embeddings = normalise_rows(embeddings)
        self._set_catalog(catalog)
        return self

    def _set_catalog(self, catalog: Catalog) -> None:
        self.n_items = catalog.n_items
        self.titles = titles_of(catalog).tolist()  # vectorised: title_of per movie took seconds
        self._history = RatingHistory.from_catalog(catalog)

    @property
    def encoder(self) -> Encoder:
        """The query encoder, loaded on first use."""
        if self._encoder is None:
            self._encoder = Encoder(self.model_name)
            self.model_name = self._encoder.model_name
        return self._encoder

    def set_encoder(self, encoder: Encoder) -> None:
        """Share an already loaded encoder (the app loads one per process; a loaded scorer has
        none until this is called or a text query loads one)."""
        self._encoder = encoder

    # -- scoring -------------------------------------------------------------------------------
    def profile(self, query: Query) -> tuple[np.ndarray | None, list[str]]:
        """The unit query vector (liked/seed movies and text combined) and notes.

        Liked movies weigh by their centred rating (disliked ones pull away); the text vector
        counts as much as the whole movie profile, so "like Alien but about the sea" mixes both.
        """
        notes: list[str] = []
        parts: list[np.ndarray] = []
        if self._history is not None and (
            query.user_id is not None or query.ratings or query.seeds
        ):
            items, weights, notes = query_profile(cast(Catalog, self._history), query)
            if len(items):
                vector = weights @ self.embeddings[items]
                if float(np.linalg.norm(vector)) < 1e-6:  # all ratings equal: plain mean
                    vector = self.embeddings[items].mean(axis=0)
                norm = float(np.linalg.norm(vector))
                if norm > 1e-6:
                    parts.append(vector / norm)
        if query.text.strip():
            parts.append(np.asarray(self.encoder.encode_query(query.text), dtype=np.float32))
        if not parts:
            return None, notes
        combined = np.sum(parts, axis=0)
        norm = float(np.linalg.norm(combined))
        if norm < 1e-6:
            return None, notes
        return (combined / norm).astype(np.float32), notes

    def score(self, query: Query) -> Scores:
        """Cosine of every movie to the query profile; all NaN when there is nothing usable."""
        if self.n_items == 0:
            return Scores.empty(0, "semantic scorer is not fitted")
        vector, notes = self.profile(query)
        note = "; ".join(dict.fromkeys(notes))
        if vector is None:
            if query.is_empty():
                note = note or "empty query"
            return Scores.empty(self.n_items, note or "nothing to compare with")
        values = np.asarray(self.embeddings @ vector, dtype=np.float32)
        return Scores(values, note)

    def score_users(self, user_ids: np.ndarray) -> np.ndarray:
        """Every user's profile vector, then one matrix product (see :meth:`Scorer.score_users`)."""
        out = np.full((len(user_ids), self.n_items), np.nan, dtype=np.float32)
        vectors = [self.profile(Query(user_id=int(u)))[0] for u in np.asarray(user_ids).tolist()]
        rows = [row for row, vector in enumerate(vectors) if vector is not None]
        if rows and self.n_items:
            stacked = np.stack([vectors[row] for row in rows]).astype(np.float32)
            out[rows] = stacked @ np.asarray(self.embeddings, dtype=np.float32).T
        return out

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """ "similar story to <seed title>" for the closest liked/seed movie, else the text."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) == 0 or self.n_items == 0:
            return [None] * len(items)
        liked = np.array([], dtype=np.int64)
        if self._history is not None and (
            query.user_id is not None or query.ratings or query.seeds
        ):
            profile_items, weights, _ = query_profile(cast(Catalog, self._history), query)
            liked = profile_items[weights > 0]
        has_text = bool(query.text.strip())
        out: list[str | None] = []
        if len(liked):
            sims = self.embeddings[items] @ self.embeddings[liked].T
            for row, item in enumerate(items):
                candidates = sims[row].copy()
                candidates[liked == item] = -np.inf  # a movie is not "similar to itself"
                best = int(np.argmax(candidates))
                if np.isfinite(candidates[best]) and candidates[best] > 0.3:
                    out.append(f"similar story to {self.titles[int(liked[best])]}")
                else:
                    out.append("close to your description" if has_text else None)
            return out
        return ["close to your description" if has_text else None for _ in items]

    # -- persistence ---------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_encoder"] = None  # a torch model is large and process-bound: never pickled
        return state

    def save(self, directory: Path) -> None:
        """Write ``semantic.npy`` (the item matrix), ``semantic_titles.npy``, the rating
        history and ``semantic.json`` (model name, size): arrays and JSON, no pickle."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / f"{self.name}.npy", np.ascontiguousarray(self.embeddings))
        titles = np.asarray(self.titles, dtype=str)
        np.save(directory / f"{self.name}_titles.npy", titles, allow_pickle=False)
        if self._history is not None:
            self._history.save(directory, self.name)
        save_json(
            directory / f"{self.name}.json",
            {"kind": self.name, "model_name": self.model_name, "n_items": self.n_items},
        )

    @classmethod
    def load(cls, directory: Path, encoder: Encoder | None = None) -> SemanticScorer:  # type: ignore[override]
        """Read a scorer written by :meth:`save`; the item matrix is memory-mapped."""
        meta = read_meta(directory / f"{cls.name}.json", cls.name)
        try:
            matrix = np.load(directory / f"{cls.name}.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ArtifactError(f"Embedding matrix in {directory} is missing or corrupt.") from err
        obj = cls(encoder=encoder, model=str(meta["model_name"]))
        obj.model_name = str(meta["model_name"])  # the saved vectors' model, not the encoder's
        obj.n_items = int(meta["n_items"])
        obj.embeddings = matrix
        titles = np.load(directory / f"{cls.name}_titles.npy", allow_pickle=False)
        obj.titles = [str(t) for t in titles]
        if (directory / f"{cls.name}_ratings.npz").exists():
            obj._history = RatingHistory.load(directory, cls.name)
        if matrix.shape[0] != obj.n_items or len(obj.titles) != obj.n_items:
            raise ArtifactError(f"Embedding matrix in {directory} does not match the catalogue.")
        return obj
