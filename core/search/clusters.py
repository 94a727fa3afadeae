"""Genre clusters: community detection over genre-combination embeddings, and two-stage search.

Each distinct MovieLens genre combination ("Comedy|Romance") gets a vector: the mean of its
movies' text vectors after removing the catalogue's mean vector (without centring, every mean
of many movie vectors points the same "generic movie" way and everything is one community).
``sentence_transformers.util.community_detection`` groups combinations whose vectors are close;
combinations left outside every community join the nearest one. A *two-stage search* then
picks the clusters nearest a query vector and ranks only the movies inside them.

Pure NumPy at query time (a few hundred centroid cosines); building takes well under a second.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.catalog import Catalog

#: Cosine threshold of community detection between centred combination vectors (about 70
#: clusters on ml-latest-small; 0.4 gives larger, 0.6 smaller ones).
THRESHOLD = 0.5
#: Combinations a community needs (singletons join their nearest community instead).
MIN_COMMUNITY = 2


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-9)).astype(np.float32)


@dataclass
class GenreClusters:
    """Clusters of genre combinations and the movies in them.

    Attributes:
        combos: distinct genre combinations (``""`` for movies without genres).
        combo_cluster: cluster of each combination.
        item_cluster: cluster of each movie (item index).
        centroids: clusters x d unit vectors (centred space) to compare queries with.
        mean: the catalogue's mean text vector (subtracted from queries too).
        names: a short name per cluster ("Comedy · Romance"), its most common genres.
        sizes: movies per cluster.
    """

    combos: list[str]
    combo_cluster: np.ndarray
    item_cluster: np.ndarray
    centroids: np.ndarray
    mean: np.ndarray
    names: list[str]
    sizes: np.ndarray

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return len(self.names)

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        embeddings: np.ndarray,
        *,
        threshold: float = THRESHOLD,
        min_community: int = MIN_COMMUNITY,
    ) -> GenreClusters:
        """Cluster the catalogue's genre combinations (``embeddings``: one vector per movie)."""
        from sentence_transformers.util import community_detection

        vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.shape[0] != catalog.n_items:
            raise ValueError(f"{vectors.shape[0]} vectors for {catalog.n_items} movies")
        genres = catalog.movies["genres"].fillna("").astype(str)
        codes, uniques = pd.factorize(genres, sort=True)
        combos = [str(u) for u in uniques]
        mean = vectors.mean(axis=0) if len(vectors) else np.zeros(vectors.shape[1], np.float32)
        centred = vectors - mean
        combo_sum = np.zeros((len(combos), vectors.shape[1]), dtype=np.float64)
        np.add.at(combo_sum, codes, centred)
        combo_vectors = _unit(combo_sum)
        communities = (
            community_detection(
                combo_vectors, threshold=threshold, min_community_size=min_community
            )
            if len(combos) >= min_community
            else []
        )
        combo_cluster = np.full(len(combos), -1, dtype=np.int64)
        for cluster, members in enumerate(communities):
            combo_cluster[np.asarray(members, dtype=np.int64)] = cluster
        if (combo_cluster < 0).all():  # nothing close enough: one cluster per combination
            combo_cluster = np.arange(len(combos))
        counts = np.bincount(codes, minlength=len(combos)).astype(np.float64)
        n_clusters = int(combo_cluster.max()) + 1
        left = np.flatnonzero(combo_cluster < 0)
        if len(left):
            # Unassigned combinations join the community whose (movie-weighted) centre is nearest.
            centres = np.zeros((n_clusters, vectors.shape[1]))
            assigned = combo_cluster >= 0
            np.add.at(centres, combo_cluster[assigned], combo_sum[assigned])
            combo_cluster[left] = np.argmax(combo_vectors[left] @ _unit(centres).T, axis=1)
        item_cluster = combo_cluster[codes]
        centroid_sum = np.zeros((n_clusters, vectors.shape[1]), dtype=np.float64)
        np.add.at(centroid_sum, item_cluster, centred)
        sizes = np.bincount(item_cluster, minlength=n_clusters)
        names = []
        for cluster in range(n_clusters):
            tally: Counter[str] = Counter()
            for combo in np.flatnonzero(combo_cluster == cluster):
                for genre in combos[combo].split("|"):
                    if genre and not genre.startswith("("):
                        tally[genre] += int(counts[combo])
            top = [g for g, _ in tally.most_common(3)]
            names.append(" · ".join(top) if top else "(no genres)")
        return cls(
            combos=combos,
            combo_cluster=combo_cluster,
            item_cluster=item_cluster.astype(np.int64),
            centroids=_unit(centroid_sum),
            mean=mean.astype(np.float32),
            names=names,
            sizes=sizes.astype(np.int64),
        )

    # -- queries ------------------------------------------------------------------------------
    def nearest(self, vector: np.ndarray, n: int = 3) -> np.ndarray:
        """The ``n`` clusters whose centroids are closest to a query vector, nearest first."""
        centred = np.asarray(vector, dtype=np.float32) - self.mean
        sims = self.centroids @ _unit(centred)
        n = max(1, min(int(n), self.n_clusters))
        return np.argsort(-sims, kind="stable")[:n].astype(np.int64)

    def members(self, clusters: np.ndarray) -> np.ndarray:
        """Boolean mask over items: the movies in ``clusters``."""
        return np.isin(self.item_cluster, np.asarray(clusters, dtype=np.int64))

    def two_stage(
        self,
        vector: np.ndarray,
        item_scores: np.ndarray,
        *,
        clusters: int = 3,
        top: int = 10,
        mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stage 1: the ``clusters`` nearest clusters; stage 2: the best ``item_scores`` inside.

        Returns item indices (best first), their scores and the clusters searched.
        """
        chosen = self.nearest(vector, clusters)
        allowed = self.members(chosen)
        if mask is not None:
            allowed &= mask
        values = np.where(allowed & np.isfinite(item_scores), item_scores, -np.inf)
        candidates = np.flatnonzero(np.isfinite(values))
        k = min(top, len(candidates))
        if k == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32), chosen
        best = candidates[np.argpartition(-values[candidates], k - 1)[:k]]
        best = best[np.lexsort((best, -values[best]))]
        return best.astype(np.int64), values[best].astype(np.float32), chosen

    def table(self) -> pd.DataFrame:
        """One row per cluster: name, movies, genre combinations."""
        combos_per = np.bincount(self.combo_cluster, minlength=self.n_clusters)
        return pd.DataFrame(
            {"cluster": np.arange(self.n_clusters), "name": self.names, "movies": self.sizes,
             "combinations": combos_per}
        ).sort_values("movies", ascending=False, kind="stable")  # fmt: skip

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Arrays as ``clusters_*.npy`` plus ``clusters.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        for key in ("combo_cluster", "item_cluster", "centroids", "mean", "sizes"):
            np.save(directory / f"clusters_{key}.npy", getattr(self, key))
        (directory / "clusters.json").write_text(
            json.dumps({"kind": "clusters", "combos": self.combos, "names": self.names})
        )

    @classmethod
    def load(cls, directory: Path) -> GenreClusters:
        """Inverse of :meth:`save`."""
        meta = json.loads((directory / "clusters.json").read_text())
        if meta.get("kind") != "clusters":
            raise ValueError(f"{directory} does not hold genre clusters")
        arrays = {
            key: np.load(directory / f"clusters_{key}.npy")
            for key in ("combo_cluster", "item_cluster", "centroids", "mean", "sizes")
        }
        return cls(combos=list(meta["combos"]), names=list(meta["names"]), **arrays)
