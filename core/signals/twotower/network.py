"""The towers' network: torch for training, a NumPy twin for serving, and torch thread control.

Serving must not need torch: :func:`numpy_tower` runs the trained weights in NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.data.catalog import Catalog
from core.signals.twotower.config import TwoTowerConfig


def build_network(n_user_in: int, n_item_in: int, n_users: int, config: TwoTowerConfig) -> Any:
    """The torch module of both towers (and the rating head), for training only."""
    import torch
    from torch import nn

    class TwoTowerNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            id_dim = config.user_id_dim
            self.user_in = nn.Linear(n_user_in + id_dim, config.hidden)
            self.item_in = nn.Linear(n_item_in, config.hidden)
            if id_dim:
                # Row ``n_users`` is the "unknown user" padding row: zero and never trained.
                self.user_id = nn.Embedding(n_users + 1, id_dim, padding_idx=n_users)
                nn.init.normal_(self.user_id.weight, std=0.05)
                with torch.no_grad():
                    self.user_id.weight[n_users].zero_()
            if config.shared_layers:
                self.out = nn.Linear(config.hidden, config.dim)
            else:
                self.user_out = nn.Linear(config.hidden, config.dim)
                self.item_out = nn.Linear(config.hidden, config.dim)
            self.head = nn.Linear(1, 1)  # the rating model's dense output
            self.drop = nn.Dropout(config.dropout)

        def _out(self, side: str) -> Any:
            return self.out if config.shared_layers else getattr(self, f"{side}_out")

        def user(self, x: Any, ids: Any = None) -> Any:
            if config.user_id_dim:
                x = torch.cat([x, self.user_id(ids)], dim=1)
            return self._out("user")(self.drop(torch.relu(self.user_in(x))))

        def item(self, x: Any) -> Any:
            return self._out("item")(self.drop(torch.relu(self.item_in(x))))

    return TwoTowerNet()


def numpy_tower(
    weights: dict[str, np.ndarray], side: str, x: np.ndarray, ids: np.ndarray | None = None
) -> np.ndarray:
    """The trained tower's forward pass in NumPy (dropout off)."""
    x = np.asarray(x, dtype=np.float32)
    if side == "user" and "user_id.weight" in weights:
        table = weights["user_id.weight"]
        rows = np.full(len(x), len(table) - 1) if ids is None else np.asarray(ids)
        x = np.concatenate([x, table[rows]], axis=1)
    hidden = np.maximum(x @ weights[f"{side}_in.weight"].T + weights[f"{side}_in.bias"], 0.0)
    key = f"{side}_out" if f"{side}_out.weight" in weights else "out"
    return (hidden @ weights[f"{key}.weight"].T + weights[f"{key}.bias"]).astype(np.float32)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (eps 1e-9: kept apart from
    :func:`core.signals.encoder.normalise_rows`, whose 1e-12 would change saved vectors)."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-9)).astype(np.float32)


class TorchThreads:
    """Use ``n`` torch threads inside the block (the serving process keeps its own setting)."""

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self.before = 1

    def __enter__(self) -> None:
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.before)


def interactions(catalog: Catalog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user row, item, rating) of every rating, users as rows of ``catalog.user_items``."""
    matrix = catalog.user_items
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return rows.astype(np.int64), matrix.indices.astype(np.int64), matrix.data.astype(np.float32)
