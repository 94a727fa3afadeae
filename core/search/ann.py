"""Top-k retrieval over item vectors behind one interface: exact NumPy or a faiss ANN index.

:class:`VectorIndex` answers "the ``k`` items with the largest inner product with this vector"
(cosine when both sides are unit vectors). Small catalogues use an exact NumPy product (9k
movies x 64 dimensions is ~0.1 ms a query, and exact); above :data:`EXACT_BELOW` items it builds
a faiss index (IVF-flat by default, HNSW on request) whose recall against exact search is
measured by :func:`recall_against_exact`. No scoring logic lives here: callers own the vectors.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

#: Catalogues with fewer items than this are searched exactly (faster and exact at that size).
EXACT_BELOW = 50_000

Kind = Literal["auto", "exact", "ivf", "hnsw"]


@dataclass(frozen=True)
class IndexConfig:
    """How a :class:`VectorIndex` is built.

    Attributes:
        kind: ``"auto"`` (exact below ``exact_below`` items, else ``"ivf"``), ``"exact"``,
            ``"ivf"`` (faiss IVF-flat, inner product) or ``"hnsw"`` (faiss HNSW-flat).
        exact_below: the ``"auto"`` size threshold.
        nlist: IVF cells (default ``4 * sqrt(n)``, at most ``n // 39`` so k-means has data).
        nprobe: IVF cells visited per query (default ``max(16, nlist // 10)``).
        hnsw_m: HNSW graph degree.
        ef_search: HNSW candidate list length at query time.
        seed: k-means seed of the IVF quantiser.
    """

    kind: Kind = "auto"
    exact_below: int = EXACT_BELOW
    nlist: int | None = None
    nprobe: int | None = None
    hnsw_m: int = 32
    ef_search: int = 128
    seed: int = 42


class VectorIndex:
    """Maximum-inner-product search over a fixed float32 matrix (row = item index).

    Build with :meth:`build`; :meth:`search` returns item indices and scores, best first, with
    ``-1`` / ``-inf`` padding when fewer than ``k`` items qualify. ``exclude`` (a boolean mask
    over items, or per query) removes items such as a user's rated movies: exact search applies
    it before ranking, ANN search over-fetches and filters.
    """

    def __init__(self, vectors: np.ndarray, config: IndexConfig, kind: str, faiss_index: Any):
        self.vectors = vectors
        self.config = config
        self.kind = kind  # resolved: "exact", "ivf" or "hnsw"
        self._faiss = faiss_index
        self.build_seconds = 0.0

    @property
    def n_items(self) -> int:
        """Number of indexed vectors."""
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0

    def __repr__(self) -> str:
        return f"VectorIndex({self.kind}, {self.n_items} x {self.dim})"

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls, vectors: np.ndarray, config: IndexConfig | None = None) -> VectorIndex:
        """Index ``vectors`` (n x d); the kind follows ``config`` (see :class:`IndexConfig`)."""
        config = config or IndexConfig()
        matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if matrix.ndim != 2:
            raise ValueError(f"expected a 2-D matrix, got shape {matrix.shape}")
        kind = config.kind
        if kind == "auto":
            kind = "exact" if matrix.shape[0] < config.exact_below else "ivf"
        started = time.perf_counter()
        faiss_index = None if kind == "exact" else _build_faiss(matrix, kind, config)
        index = cls(matrix, config, kind, faiss_index)
        index.build_seconds = time.perf_counter() - started
        return index

    # -- queries ------------------------------------------------------------------------------
    def search(
        self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for each query vector.

        Args:
            queries: ``(d,)`` or ``(q, d)`` float vectors.
            k: how many items per query.
            exclude: boolean mask ``(n_items,)`` or ``(q, n_items)``; True = never return.

        Returns:
            ``(ids, scores)``, each ``(q, k)`` (or ``(k,)`` for one query): int64 item indices
            best first and their inner products; ``-1`` / ``-inf`` where fewer qualify.
        """
        single = np.ndim(queries) == 1
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = max(0, min(int(k), self.n_items))
        if exclude is not None:
            exclude = np.broadcast_to(np.asarray(exclude, dtype=bool), (len(q), self.n_items))
        if k == 0 or len(q) == 0:
            ids = np.full((len(q), k), -1, dtype=np.int64)
            scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        elif self.kind == "exact":
            ids, scores = self._exact(q, k, exclude)
        else:
            ids, scores = self._approximate(q, k, exclude)
        return (ids[0], scores[0]) if single else (ids, scores)

    def _exact(
        self, q: np.ndarray, k: int, exclude: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return exact_top_k(q @ self.vectors.T, k, exclude)

    def _approximate(
        self, q: np.ndarray, k: int, exclude: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        fetch = k
        if exclude is not None:
            fetch = min(self.n_items, k + int(exclude.sum(axis=1).max()))
        scores, ids = self._faiss.search(np.ascontiguousarray(q), fetch)
        ids = ids.astype(np.int64)
        scores = scores.astype(np.float32)
        valid = ids >= 0
        if exclude is not None:
            rows = np.arange(len(q))[:, None]
            valid &= ~exclude[rows, np.where(valid, ids, 0)]
        # Keep the first k valid hits per row (faiss returns them best first).
        order = np.argsort(~valid, axis=1, kind="stable")[:, :k]
        ids = np.take_along_axis(np.where(valid, ids, -1), order, axis=1)
        scores = np.take_along_axis(np.where(valid, scores, -np.inf), order, axis=1)
        return ids, scores

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path, prefix: str = "index") -> None:
        """Write ``<prefix>_vectors.npy``, ``<prefix>.json`` and (ANN) ``<prefix>.faiss``."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / f"{prefix}_vectors.npy", self.vectors)
        meta = {"kind": self.kind, "config": asdict(self.config), "n_items": self.n_items}
        (directory / f"{prefix}.json").write_text(json.dumps(meta, sort_keys=True))
        if self._faiss is not None:
            import faiss

            faiss.write_index(self._faiss, str(directory / f"{prefix}.faiss"))

    @classmethod
    def load(cls, directory: Path, prefix: str = "index") -> VectorIndex:
        """Read what :meth:`save` wrote (vectors memory-mapped)."""
        meta = json.loads((directory / f"{prefix}.json").read_text())
        vectors = np.load(directory / f"{prefix}_vectors.npy", mmap_mode="r")
        config = IndexConfig(**meta["config"])
        faiss_index = None
        if meta["kind"] != "exact":
            import faiss

            faiss_index = faiss.read_index(str(directory / f"{prefix}.faiss"))
            _set_search_params(faiss_index, meta["kind"], config, len(vectors))
        if vectors.shape[0] != int(meta["n_items"]):
            raise ValueError(f"index in {directory} does not match its vectors")
        return cls(vectors, config, meta["kind"], faiss_index)


def exact_top_k(
    scores: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` columns per row of a dense score matrix (ties by item index), best first."""
    values = np.where(np.isfinite(scores), scores, -np.inf).astype(np.float32)
    if exclude is not None:
        values = np.where(exclude, -np.inf, values)
    n = values.shape[1]
    k = min(k, n)
    part = (
        np.argpartition(-values, k - 1, axis=1)[:, :k]
        if k < n
        else np.tile(np.arange(n), (len(values), 1))
    )
    top_values = np.take_along_axis(values, part, axis=1)
    order = np.lexsort((part, -top_values), axis=1)
    ids = np.take_along_axis(part, order, axis=1).astype(np.int64)
    out = np.take_along_axis(top_values, order, axis=1)
    return np.where(np.isfinite(out), ids, -1), out


def _build_faiss(matrix: np.ndarray, kind: str, config: IndexConfig) -> Any:
    import faiss

    n, d = matrix.shape
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = max(40, config.hnsw_m * 2)
        index.add(matrix)
    elif kind == "ivf":
        nlist = config.nlist or int(4 * np.sqrt(n))
        nlist = max(1, min(nlist, n // 39 or 1))  # faiss wants >= 39 training points a cell
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = int(config.seed)
        index.train(matrix)
        index.add(matrix)
    else:
        raise ValueError(f"unknown index kind {kind!r} (exact, ivf, hnsw)")
    _set_search_params(index, kind, config, n)
    return index


def _set_search_params(index: Any, kind: str, config: IndexConfig, n: int) -> None:
    if kind == "ivf":
        index.nprobe = int(config.nprobe or max(16, index.nlist // 10))
    elif kind == "hnsw":
        index.hnsw.efSearch = int(config.ef_search)


def recall_against_exact(
    index: VectorIndex, queries: np.ndarray, k: int = 10, exclude: np.ndarray | None = None
) -> float:
    """Mean share of the exact top ``k`` that ``index`` also returns (1.0 for exact search)."""
    q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    if len(q) == 0:
        return 1.0
    exact_ids, _ = exact_top_k(q @ np.asarray(index.vectors).T, k, exclude)
    found, _ = index.search(q, k, exclude)
    hits = [
        len(set(a[a >= 0].tolist()) & set(b[b >= 0].tolist())) / max(1, int((a >= 0).sum()))
        for a, b in zip(exact_ids, found, strict=True)
    ]
    return float(np.mean(hits))
