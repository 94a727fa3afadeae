"""Learned linear maps of request and movie vectors for long "which movie is this?" requests.

MiniLM was trained on short sentence pairs; a 200-word Reddit post describing half-remembered
scenes lands in a different part of its vector space than a movie's overview, genres and tags.
An adapter ``z = normalise(q + q @ delta)`` for request vectors and ``normalise(m + m @
movie_delta)`` for movie vectors (two ``dim x dim`` matrices) is fitted so that each training
request points at its answer: the softmax over *every* movie of the catalogue, temperature
:data:`TEMPERATURE`, with L2 pulls of both matrices towards zero (the identity map). The
index's stored vectors are never changed (an index built with the same encoder needs no
rebuild; the mapped movie matrix is computed when first needed), and the adapter is applied
only where the learned re-ranker is (narrative requests,
:meth:`core.search.index.SearchIndex.request_signals`).

It lifts Recall@10 of requests about movies others asked about and leaves the rest about
where they were (figures: ``docs/experiments/search.md``). ``SearchConfig.adapter`` switches it
off. The shipped adapter (:data:`DEFAULT_PATH`) is trained by ``python -m core tune-search``
together with the re-ranker, and is used only with the encoder it was trained for
(:func:`model_fingerprint`). It must not change the index's stored vectors.

Hand-written (about forty lines of PyTorch, already a dependency through
sentence-transformers) because no well-kept library fits linear adapters with a
full-catalogue softmax; fine-tuning the encoder itself would ship 90 MB of weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.signals.encoder import normalise_rows

#: The shipped adapter (trained on ml-latest-small + tomt-movies/train.jsonl).
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "resources" / "search_adapter.npz"
#: Softmax temperature of the training loss (cosines are in [-1, 1]).
TEMPERATURE = 0.05
#: L2 penalty on ``delta`` (sum of squares), i.e. how far from the identity map it may go.
L2 = 0.01
#: L2 penalty on the movie side's matrix (None: movie vectors are not adapted). 0.03 was the
#: best of 0.01 / 0.03 / 0.1 (docs/experiments/search.md).
MOVIE_L2: float | None = 0.03
#: Full passes of Adam over the training requests (one batch: every request at once).
EPOCHS = 40
LEARNING_RATE = 0.01


def model_fingerprint(model_name: str | None) -> str:
    """A short identity of an encoder: for a model folder, the SHA-1 of its ``config.json``
    and the size of its weights; otherwise the name itself."""
    if not model_name:
        return ""
    folder = Path(model_name)
    if not folder.is_dir():
        return str(model_name)
    digest = hashlib.sha1()
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for weights in ("model.safetensors", "pytorch_model.bin"):
        path = folder / weights
        if path.is_file():
            digest.update(f"{weights}:{path.stat().st_size}".encode())
    return digest.hexdigest()[:12]


@lru_cache(maxsize=8)
def _cached_fingerprint(model_name: str) -> str:
    return model_fingerprint(model_name)


@dataclass
class QueryAdapter:
    """``normalise(q + q @ delta)`` for request vectors ``q`` of one encoder, and optionally
    ``normalise(m + m @ movie_delta)`` for the movie vectors they are compared with.

    Attributes:
        delta: ``dim x dim`` float32 matrix (zero = identity map).
        fingerprint: :func:`model_fingerprint` of the encoder it was trained for.
        trained_on: where it came from (data set, queries file and hash, counts, settings).
        movie_delta: the movie side's matrix, or None (movie vectors used as they are).
    """

    delta: np.ndarray
    fingerprint: str
    trained_on: dict[str, Any] = field(default_factory=dict)
    movie_delta: np.ndarray | None = None

    @property
    def dim(self) -> int:
        """Vector size it maps."""
        return int(self.delta.shape[0])

    def fits(self, model_name: str | None, dim: int) -> bool:
        """Whether it was trained for this encoder (same fingerprint and vector size)."""
        return bool(
            model_name
            and dim == self.dim
            and _cached_fingerprint(str(model_name)) == self.fingerprint
        )

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Adapted unit request vectors, same shape as ``vectors`` (one vector or a matrix)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        return normalise_rows(vectors + vectors @ self.delta)

    def apply_movies(self, movies: np.ndarray) -> np.ndarray:
        """Adapted unit movie vectors (``movies`` unchanged without a movie side)."""
        movies = np.asarray(movies, dtype=np.float32)
        if self.movie_delta is None:
            return movies
        return normalise_rows(movies + movies @ self.movie_delta)

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        answers: np.ndarray,
        movies: np.ndarray,
        *,
        fingerprint: str,
        l2: float = L2,
        movie_l2: float | None = MOVIE_L2,
        temperature: float = TEMPERATURE,
        epochs: int = EPOCHS,
        learning_rate: float = LEARNING_RATE,
        **trained_on: Any,
    ) -> QueryAdapter:
        """Fit ``delta`` so each request vector (rows of ``vectors``) ranks its answer (row
        index into ``movies``, the index's unit movie vectors) first: mean cross-entropy of
        the softmax over all movies plus ``l2 * |delta|^2``, full-batch Adam. With
        ``movie_l2`` the movie side's matrix is fitted too, penalised by
        ``movie_l2 * |movie_delta|^2``."""
        import torch

        queries = np.array(vectors, dtype=np.float32)  # copies: torch wants writable arrays
        answers = np.array(answers, dtype=np.int64)
        movies = np.array(movies, dtype=np.float32)
        if queries.ndim != 2 or len(queries) != len(answers) or len(answers) == 0:
            raise ValueError(f"{len(queries)} request vectors for {len(answers)} answers")
        if queries.shape[1] != movies.shape[1]:
            raise ValueError(f"request vectors of {queries.shape[1]} and movie vectors of "
                             f"{movies.shape[1]} dimensions")  # fmt: skip
        if answers.min() < 0 or answers.max() >= len(movies):
            raise ValueError("an answer is not a row of the movie vectors")
        torch.manual_seed(0)
        q = torch.from_numpy(queries)
        target = torch.from_numpy(answers)
        matrix = torch.from_numpy(movies)
        dim = q.shape[1]
        delta = torch.zeros(dim, dim, requires_grad=True)
        movie_delta = torch.zeros(dim, dim, requires_grad=movie_l2 is not None)
        learned = [delta, movie_delta] if movie_l2 is not None else [delta]
        optimiser = torch.optim.Adam(learned, lr=learning_rate)
        # The query encoder runs on one thread (see Encoder); training wants every core.
        threads = torch.get_num_threads()
        torch.set_num_threads(os.cpu_count() or 1)
        try:
            for _ in range(epochs):
                optimiser.zero_grad()
                z = q + q @ delta
                z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-9)
                m = matrix + matrix @ movie_delta
                m = m / m.norm(dim=1, keepdim=True).clamp_min(1e-9)
                loss = torch.nn.functional.cross_entropy(z @ m.T / temperature, target)
                loss = loss + l2 * (delta**2).sum()
                if movie_l2 is not None:
                    loss = loss + movie_l2 * (movie_delta**2).sum()
                loss.backward()
                optimiser.step()
        finally:
            torch.set_num_threads(threads)
        settings = {
            "l2": l2, "movie_l2": movie_l2, "temperature": temperature, "epochs": epochs,
            "lr": learning_rate,
        }  # fmt: skip
        return cls(
            delta.detach().numpy().astype(np.float32),
            fingerprint,
            {**trained_on, "requests": len(answers), "settings": settings},
            movie_delta.detach().numpy().astype(np.float32) if movie_l2 is not None else None,
        )

    def save(self, path: Path) -> None:
        """Write a compressed ``.npz`` (``delta`` as float16, the metadata as JSON)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"fingerprint": self.fingerprint, "trained_on": self.trained_on}
        arrays = {"delta": self.delta.astype(np.float16)}
        if self.movie_delta is not None:
            arrays["movie_delta"] = self.movie_delta.astype(np.float16)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, meta=json.dumps(meta), **arrays)

    @classmethod
    def load(cls, path: Path) -> QueryAdapter:
        """Read :meth:`save`'s file (``ValueError`` when it is not one)."""
        with np.load(Path(path), allow_pickle=False) as data:
            delta = np.asarray(data["delta"], dtype=np.float32)
            movie = data.get("movie_delta")
            movie_delta = None if movie is None else np.asarray(movie, dtype=np.float32)
            meta = json.loads(str(data["meta"]))
        for matrix in (delta, delta if movie_delta is None else movie_delta):
            if matrix.ndim != 2 or matrix.shape != (delta.shape[0], delta.shape[0]):
                raise ValueError(f"{path}: not a square adapter matrix")
        trained_on = dict(meta.get("trained_on", {}))
        return cls(delta, str(meta["fingerprint"]), trained_on, movie_delta)


@lru_cache(maxsize=4)
def load_default(path: str = str(DEFAULT_PATH)) -> QueryAdapter | None:
    """The shipped adapter, or None when the file is missing or unreadable (the re-ranker then
    uses the encoder's own request vectors)."""
    try:
        return QueryAdapter.load(Path(path))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None
