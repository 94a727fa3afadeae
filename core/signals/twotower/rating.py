"""Two-tower rating regression: the towers' dot product through a dense output, trained on MAE.

Predicts ``rating / max_rating`` in [0.5/5, 1] (early stopping on validation ratings); it must
not need torch to predict: estimates run the saved towers in NumPy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.data.catalog import Catalog
from core.progress import Progress, no_progress
from core.signals.twotower.base import TwoTowerBase
from core.signals.twotower.config import TwoTowerConfig
from core.signals.twotower.network import TorchThreads, interactions, numpy_tower


class TwoTowerRating(TwoTowerBase):
    """The same towers predicting ``rating / max_rating`` in [0.5/5, 1]: a dense output on
    their dot product, squashed into that range, trained with mean absolute error.

    :meth:`estimate` returns ratings on the catalogue's scale; a user or movie the model has
    never seen is still predicted from features (an empty history), and flagged in
    :meth:`predict`'s ``was_impossible`` column the way Surprise does.
    """

    kind = "twotower_rating"

    def __init__(self, config: TwoTowerConfig | None = None) -> None:
        # Why these defaults: lowest validation MAE (figures in docs/experiments/signals.md).
        super().__init__(
            config or TwoTowerConfig(similarity="dot", epochs=8, batch_size=256, user_id_dim=16)
        )
        self.scale: tuple[float, float] = (0.5, 5.0)
        self.best_epoch = 0

    def fit(
        self,
        catalog: Catalog,
        embeddings: np.ndarray,
        *,
        valid: pd.DataFrame | None = None,
        progress: Progress | None = None,
    ) -> TwoTowerRating:
        """Train on the catalogue's ratings; with ``valid`` ratings, keep the epoch with the
        lowest validation MAE (early stopping)."""
        import torch

        started = time.perf_counter()
        progress = progress or no_progress
        cfg = self.config
        self._prepare(catalog, embeddings)
        self.scale = tuple(float(v) for v in catalog.report.rating_scale)  # type: ignore[assignment]
        users, items, ratings = interactions(catalog)
        top = self.scale[1]
        assert self.features is not None
        with TorchThreads(cfg.threads):
            net = self._new_network()
            user_x = torch.from_numpy(self.features.users(self.history.matrix))
            item_x = torch.from_numpy(np.ascontiguousarray(self.features.items))
            target = torch.from_numpy(ratings / top)
            optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            rng = np.random.default_rng(cfg.seed)
            valid_arrays = self._valid_arrays(valid) if valid is not None else None
            best = np.inf
            self.losses, self.valid_losses = [], []
            for epoch in range(cfg.epochs):
                net.train()
                order = rng.permutation(len(users))[: cfg.max_interactions]
                batches = np.array_split(order, max(1, len(order) // cfg.batch_size))
                total = 0.0
                for batch in batches:
                    b = torch.from_numpy(batch)
                    u = torch.from_numpy(users[batch])
                    movies = item_x[torch.from_numpy(items[batch])]
                    pred = self._forward(net, user_x[u], self._training_ids(u), movies)
                    loss = torch.nn.functional.l1_loss(pred, target[b])
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    total += float(loss.detach())
                self.losses.append(total / len(batches))
                message = (
                    f"two-tower rating epoch {epoch + 1}/{cfg.epochs}, "
                    f"MAE {self.losses[-1] * top:.3f}"
                )
                if valid_arrays is not None:
                    net.eval()
                    self._keep(net)
                    v_users, v_movies, v_truth = valid_arrays
                    mae = float(np.mean(np.abs(self.estimate(v_users, v_movies) - v_truth)))
                    self.valid_losses.append(mae / top)
                    message += f", validation MAE {mae:.3f}"
                    if mae < best:
                        best, self.best_epoch, kept = mae, epoch + 1, dict(self.weights)
                progress(message, (epoch + 1) / cfg.epochs)
            net.eval()
            if valid_arrays is not None:
                self.weights = kept
            else:
                self._keep(net)
                self.best_epoch = cfg.epochs
        self.fit_seconds = time.perf_counter() - started
        return self

    def _valid_arrays(self, valid: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            valid["userId"].to_numpy(dtype=np.int64),
            valid["movieId"].to_numpy(dtype=np.int64),
            valid["rating"].to_numpy(dtype=np.float64),
        )

    def _forward(self, net: Any, user_x: Any, ids: Any, item_x: Any) -> Any:
        import torch

        user = net.user(user_x, ids)
        dot = (user * net.item(item_x)).sum(dim=1, keepdim=True)
        low = self.scale[0] / self.scale[1]
        return (low + (1 - low) * torch.sigmoid(net.head(dot))).squeeze(1)

    def estimate(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """Predicted ratings (float64, on the rating scale) for aligned id arrays."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        out = np.full(len(user_ids), np.nan)
        items = np.array([self.history.item_of.get(int(m), -1) for m in movie_ids], dtype=np.int64)
        known_item = items >= 0
        if not known_item.any():
            return np.full(
                len(user_ids), self.features.stats["global_mean"] if self.features else 3.5
            )
        distinct, inverse = np.unique(user_ids, return_inverse=True)
        inputs, rows = self.training_users(distinct)
        user_vec = numpy_tower(self.weights, "user", inputs, rows)[inverse]
        assert self.features is not None
        item_vec = numpy_tower(
            self.weights, "item", np.asarray(self.features.items)[items[known_item]]
        )
        dot = (user_vec[known_item] * item_vec).sum(axis=1, keepdims=True)
        head = dot @ self.weights["head.weight"].T + self.weights["head.bias"]
        low, top = self.scale
        norm = low / top + (1 - low / top) / (1 + np.exp(-head[:, 0]))
        out[known_item] = norm * top
        out[~known_item] = self.features.stats["global_mean"]
        return out

    def predict(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> pd.DataFrame:
        """``userId, movieId, est, was_impossible`` (unknown user or movie: True)."""
        users = np.asarray(user_ids, dtype=np.int64)
        movies = np.asarray(movie_ids, dtype=np.int64)
        known_user = np.isin(users, self.history.user_ids)
        known_movie = np.array([int(m) in self.history.item_of for m in movies], dtype=bool)
        return pd.DataFrame(
            {
                "userId": users,
                "movieId": movies,
                "est": self.estimate(users, movies),
                "was_impossible": ~(known_user & known_movie),
            }
        )

    def save(self, directory: Path) -> None:
        """Weights, features and JSON metadata in ``directory``."""
        self._save_common(directory, {"scale": list(self.scale), "best_epoch": self.best_epoch})

    @classmethod
    def load(cls, directory: Path) -> TwoTowerRating:
        """Read what :meth:`save` wrote."""
        obj = cls()
        meta = obj._load_common(directory)
        obj.scale = (float(meta["scale"][0]), float(meta["scale"][1]))
        obj.best_epoch = int(meta.get("best_epoch", 0))
        return obj
