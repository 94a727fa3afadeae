"""The "Two-tower" scorer: retrieval trained with in-batch negatives and a logQ correction.

Trained on (user, movie) interactions with a softmax over the other movies of the batch,
corrected by ``log Q`` (the movie's share of the interactions) so popular movies are not
over-penalised as negatives; top-k goes through :class:`core.search.ann.VectorIndex`. It must
not need torch to serve: scoring runs the saved towers in NumPy.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.data.catalog import Catalog
from core.progress import Progress, no_progress
from core.search.ann import IndexConfig, VectorIndex
from core.signals.base import Query, Scorer, Scores, titles_of
from core.signals.history import unknown_notes
from core.signals.twotower.base import TwoTowerBase
from core.signals.twotower.config import TwoTowerConfig
from core.signals.twotower.network import TorchThreads, interactions, unit_rows


class TwoTowerRetrieval(TwoTowerBase, Scorer):
    """Two-tower retrieval scorer: in-batch softmax with logQ correction.

    After :meth:`fit`: ``item_matrix`` holds every movie's vector (including movies with no
    ratings: the tower sees their content), ``index`` retrieves over it, ``losses`` logs the
    mean training loss per epoch.
    """

    name = "twotower"
    label = "Two-tower"
    kind = "twotower"

    def __init__(
        self, config: TwoTowerConfig | None = None, index_config: IndexConfig | None = None
    ) -> None:
        super().__init__(config)
        self.index_config = index_config or IndexConfig()
        self.item_matrix = np.zeros((0, 0), dtype=np.float32)
        self.index: VectorIndex | None = None
        self.titles = np.empty(0, dtype=str)

    def fit(  # type: ignore[override]  # the text vectors are a required extra input
        self,
        catalog: Catalog,
        embeddings: np.ndarray | None = None,
        *,
        progress: Progress | None = None,
    ) -> TwoTowerRetrieval:
        """Train on every (user, movie) rating of ``catalog``; ``embeddings`` = one text vector
        per movie (the semantic scorer's)."""
        if embeddings is None:
            raise ValueError("TwoTowerRetrieval.fit needs the movies' text embeddings")
        started = time.perf_counter()
        progress = progress or no_progress
        self._prepare(catalog, embeddings)
        self.titles = titles_of(catalog)
        users, items, _ = interactions(catalog)
        if len(users):
            self._train(users, items, progress)
        else:  # nothing to learn from: an untrained (seeded) network still embeds content
            self._keep(self._new_network())
        self.item_matrix = self.item_vectors()
        self.index = VectorIndex.build(self.item_matrix, self.index_config)
        self.fit_seconds = time.perf_counter() - started
        return self

    def _train(self, users: np.ndarray, items: np.ndarray, progress: Progress) -> None:
        import torch

        cfg = self.config
        assert self.features is not None
        with TorchThreads(cfg.threads):
            net = self._new_network()
            user_x = torch.from_numpy(self.features.users(self.history.matrix))
            item_x = torch.from_numpy(np.ascontiguousarray(self.features.items))
            counts = np.bincount(items, minlength=self.n_items).astype(np.float64)
            log_q = torch.from_numpy(
                np.log(np.maximum(counts, 1) / counts.sum()).astype(np.float32)
            )
            optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            rng = np.random.default_rng(cfg.seed)
            cold = (
                torch.from_numpy(self.features.statistics_columns),
                torch.from_numpy(self.features.cold_statistics()),
            )
            self.losses = []
            for epoch in range(cfg.epochs):
                net.train()
                order = rng.permutation(len(users))[: cfg.max_interactions]
                total = 0.0
                batches = np.array_split(order, max(1, len(order) // cfg.batch_size))
                for batch in batches:
                    u = torch.from_numpy(users[batch])
                    i = torch.from_numpy(items[batch])
                    loss = self._batch_loss(net, user_x, item_x, log_q, u, i, cold)
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    total += float(loss.detach())
                self.losses.append(total / len(batches))
                progress(
                    f"two-tower epoch {epoch + 1}/{cfg.epochs}, loss {self.losses[-1]:.3f}",
                    (epoch + 1) / cfg.epochs,
                )
            net.eval()
            self._keep(net)

    def _batch_loss(
        self, net: Any, user_x: Any, item_x: Any, log_q: Any, u: Any, i: Any, cold: Any
    ) -> Any:
        import torch
        import torch.nn.functional as F

        cfg = self.config
        user = net.user(user_x[u], self._training_ids(u))
        movies = item_x[i]
        if cfg.cold_dropout > 0:
            columns, values = cold
            hide = (torch.rand(len(i)) < cfg.cold_dropout).nonzero()[:, 0]
            movies = movies.clone()
            movies[hide[:, None], columns[None, :]] = values
        item = net.item(movies)
        if cfg.similarity == "cosine":
            logits = F.normalize(user, dim=1) @ F.normalize(item, dim=1).T / cfg.temperature
        else:
            logits = user @ item.T
        if cfg.logq:
            logits = logits - log_q[i][None, :]
        # The same movie twice in a batch is not a negative of itself.
        duplicate = (i[:, None] == i[None, :]) & ~torch.eye(len(i), dtype=torch.bool)
        logits = logits.masked_fill(duplicate, float("-inf"))
        return F.cross_entropy(logits, torch.arange(len(i)))

    # -- queries ------------------------------------------------------------------------------
    def _query_vector(self, query: Query) -> tuple[np.ndarray | None, str, list[str]]:
        """The vector to compare movies with, what it is built from, and notes."""
        notes = unknown_notes(self.history, query)
        items, ratings, more = self.history.merged(query.user_id, dict(query.ratings) or None)
        notes = list(dict.fromkeys([*notes, *more]))
        parts: list[np.ndarray] = []
        what = ""
        if len(items):
            inputs = self.user_inputs_for(items, ratings)
            row = self.history.user_row(query.user_id)
            # The trained id vector only describes the stored history, not a folded-in one.
            rows = None if row is None or query.ratings else np.array([row])
            parts.append(self.user_vectors(inputs, rows)[0])
            what = "your ratings"
        seeds = [
            self.history.item_of[int(m)] for m in query.seeds if int(m) in self.history.item_of
        ]
        if seeds:
            # "Movies like these": the seeds' mean vector, compared in the same space.
            parts.append(self.item_matrix[seeds].mean(axis=0))
            what = what or "the seed movies"
        if not parts:
            return None, what, notes
        vector = np.sum(parts, axis=0)
        return vector.astype(np.float32), what, notes

    def score(self, query: Query) -> Scores:
        """Tower similarity of every movie (rated or not) to the query's ratings or seeds."""
        if self.n_items == 0:
            return Scores.empty(0, "two-tower model is not fitted")
        vector, what, notes = self._query_vector(query)
        if vector is None:
            why = (
                "empty query" if query.is_empty() else "the two-tower model needs ratings or seeds"
            )
            return Scores.empty(self.n_items, "; ".join([*notes, why]))
        values = np.asarray(self.item_matrix @ vector, dtype=np.float32)
        return Scores(values, "; ".join([*notes, f"two-tower on {what}"]))

    def retrieve(
        self, query: Query, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Top ``k`` item indices and scores through the vector index (exact or ANN)."""
        vector, _, notes = self._query_vector(query)
        if vector is None or self.index is None:
            return np.empty(0, np.int64), np.empty(0, np.float32), notes
        ids, scores = self.index.search(vector, k, exclude)
        keep = ids >= 0
        return ids[keep], scores[keep], notes

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"two-tower match, near Alien (1979)"``: the liked/seed movie closest in the space."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) == 0 or self.n_items == 0:
            return [None] * len(items)
        history, ratings, _ = self.history.merged(query.user_id, dict(query.ratings) or None)
        liked = history[ratings >= min(float(ratings.mean()), 3.5)] if len(history) else history
        seeds = [
            self.history.item_of[int(m)] for m in query.seeds if int(m) in self.history.item_of
        ]
        anchors = np.unique(np.concatenate([liked, np.asarray(seeds, dtype=np.int64)]))
        if len(anchors) == 0:
            return [None] * len(items)
        vectors = unit_rows(self.item_matrix)
        sims = vectors[items] @ vectors[anchors].T
        sims[anchors[None, :] == items[:, None]] = -np.inf
        best = np.argmax(sims, axis=1)
        return [
            f"two-tower match, near {self.titles[int(anchors[b])]}"
            if np.isfinite(sims[row, b])
            else "two-tower match"
            for row, b in enumerate(best.tolist())
        ]

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Weights (``.npz``), features, item vectors, the vector index and JSON metadata."""
        self._save_common(directory, {"index_config": dataclasses.asdict(self.index_config)})
        (directory / "twotower_titles.json").write_text(json.dumps(self.titles.tolist()))
        if self.index is not None:
            self.index.save(directory, "twotower_index")

    @classmethod
    def load(cls, directory: Path) -> TwoTowerRetrieval:
        """Read what :meth:`save` wrote; ``ValueError`` if the folder holds something else."""
        obj = cls()
        meta = obj._load_common(directory)
        obj.index_config = IndexConfig(**meta.get("index_config", {}))
        obj.titles = np.asarray(json.loads((directory / "twotower_titles.json").read_text()))
        obj.index = VectorIndex.load(directory, "twotower_index")
        obj.item_matrix = np.asarray(obj.index.vectors)
        return obj
