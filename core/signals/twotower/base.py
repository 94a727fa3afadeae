"""What both two-tower models share: config, features, weights, NumPy towers, persistence.

:class:`TwoTowerBase` must not train or score (see ``retrieval`` and ``rating``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.data.catalog import Catalog
from core.signals.base import known_fields, read_meta, save_json
from core.signals.history import RatingHistory
from core.signals.twotower.config import TwoTowerConfig
from core.signals.twotower.features import TowerFeatures
from core.signals.twotower.network import build_network, numpy_tower, unit_rows


class TwoTowerBase:
    """Config, features, weights, training log and persistence shared by both models."""

    kind: str = ""

    def __init__(self, config: TwoTowerConfig | None = None) -> None:
        self.config = config or TwoTowerConfig()
        self.features: TowerFeatures | None = None
        self.weights: dict[str, np.ndarray] = {}
        self.history = RatingHistory.empty()
        self.losses: list[float] = []
        self.valid_losses: list[float] = []
        self.fit_seconds = 0.0
        self.n_items = 0

    def _prepare(self, catalog: Catalog, embeddings: np.ndarray) -> None:
        self.n_items = catalog.n_items
        self.history = RatingHistory.from_catalog(catalog)
        self.features = TowerFeatures.build(
            catalog, embeddings, text_profile=self.config.text_profile
        )

    def _new_network(self) -> Any:
        import torch

        assert self.features is not None
        torch.manual_seed(self.config.seed)
        return build_network(
            self.features.n_user_inputs,
            self.features.items.shape[1],
            len(self.history.user_ids),
            self.config,
        )

    def _training_ids(self, u: Any) -> Any:
        """User-id rows of a batch; some become the "unknown user" row, as a newcomer folded
        in from a handful of ratings will be (``None`` without an id embedding)."""
        import torch

        if not self.config.user_id_dim:
            return None
        unknown = torch.rand(len(u)) < self.config.id_dropout
        return torch.where(unknown, torch.full_like(u, len(self.history.user_ids)), u)

    def _keep(self, net: Any) -> None:
        self.weights = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}

    # -- towers in NumPy ----------------------------------------------------------------------
    def user_inputs_for(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """User-tower inputs of one rating history (item indices, ratings)."""
        assert self.features is not None
        row = sp.csr_matrix(
            (np.asarray(ratings, np.float32), (np.zeros(len(items), np.int64), items)),
            shape=(1, self.n_items),
        )
        return self.features.users(row)

    def user_vectors(self, inputs: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """User-tower outputs (unit vectors for cosine similarity)."""
        out = numpy_tower(self.weights, "user", inputs, rows)
        return unit_rows(out) if self.config.similarity == "cosine" else out

    def item_vectors(self, inputs: np.ndarray | None = None) -> np.ndarray:
        """Movie-tower outputs of ``inputs`` (default: every movie of the catalogue)."""
        assert self.features is not None
        x = self.features.items if inputs is None else inputs
        out = numpy_tower(self.weights, "item", np.asarray(x))
        return unit_rows(out) if self.config.similarity == "cosine" else out

    def training_users(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """User-tower inputs and id rows of stored users (unknown users: empty history)."""
        assert self.features is not None
        stored = self.history.user_ids
        if len(stored) == 0:
            rows, known = np.zeros(len(users), np.int64), np.zeros(len(users), bool)
        else:
            rows = np.clip(np.searchsorted(stored, users), 0, len(stored) - 1)
            known = stored[rows] == users
        matrix = self.history.matrix[rows]
        matrix = sp.diags(known.astype(np.float32)) @ matrix
        id_rows = np.where(known, rows, len(self.history.user_ids))
        return self.features.users(sp.csr_matrix(matrix)), id_rows

    # -- persistence --------------------------------------------------------------------------
    def _save_common(self, directory: Path, extra: dict[str, Any]) -> None:
        assert self.features is not None
        directory.mkdir(parents=True, exist_ok=True)
        prefix = self.kind
        np.savez(directory / f"{prefix}_weights.npz", **self.weights)
        self.features.save(directory, prefix)
        self.history.save(directory, prefix)
        save_json(
            directory / f"{prefix}.json",
            {
                "kind": prefix,
                "config": dataclasses.asdict(self.config),
                "losses": self.losses,
                "valid_losses": self.valid_losses,
                "fit_seconds": self.fit_seconds,
                "n_items": self.n_items,
                **extra,
            },
        )

    def _load_common(self, directory: Path) -> dict[str, Any]:
        prefix = self.kind
        meta = read_meta(directory / f"{prefix}.json", prefix)
        self.config = known_fields(TwoTowerConfig, meta["config"])
        with np.load(directory / f"{prefix}_weights.npz") as data:
            self.weights = {k: data[k] for k in data.files}
        self.features = TowerFeatures.load(directory, prefix)
        self.history = RatingHistory.load(directory, prefix)
        self.losses = [float(v) for v in meta.get("losses", [])]
        self.valid_losses = [float(v) for v in meta.get("valid_losses", [])]
        self.fit_seconds = float(meta.get("fit_seconds", 0.0))
        self.n_items = int(meta["n_items"])
        return meta
