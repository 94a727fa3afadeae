"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) as a top-N ranker, via ``implicit``.

Fits user and item factors (or takes them from Spark) and folds new histories in one user at a
time; it must not handle queries itself (see ``ranking.base``) nor run threads per query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve

from core.config import Settings
from core.data.catalog import Catalog
from core.signals.base import titles_of
from core.signals.history import RatingHistory
from core.signals.numeric import matvec, weighted_row_sum
from core.signals.ranking.base import CollabRanker, RankerProfile, rating_times


class ALSRanker(CollabRanker):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from the ``implicit`` library.

    Users get ``user_factor @ item_factors.T`` (new histories folded in with implicit's
    ``recalculate_user``); seed movies alone get the summed cosine similarity of item factors.
    ``num_threads`` is for fitting (0 = all cores); queries always use one thread.
    """

    kind = "als"

    def __init__(self, settings: Settings | None = None, *, num_threads: int = 0) -> None:
        super().__init__(settings)
        self.num_threads = num_threads
        self.model: Any = None
        self.item_norms = np.empty(0, dtype=np.float32)

    def _new_model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        p = self.params
        # implicit warns (at construction) when BLAS is multi-threaded: its own threads would
        # contend with BLAS's. Building it under a one-thread limit silences a false alarm.
        with threadpool_limits(1, "blas"):
            return AlternatingLeastSquares(
                factors=p.als_factors,
                regularization=p.als_regularization,
                alpha=p.als_alpha,
                iterations=p.als_iterations,
                random_state=p.random_state,
                num_threads=self.num_threads,
            )

    def _fit_model(self, user_items: sp.csr_matrix) -> None:
        from threadpoolctl import threadpool_limits

        binary = user_items.astype(np.float32)
        binary.data[:] = 1.0
        self.model = self._new_model()
        # implicit runs its own threads; a multi-threaded BLAS underneath only contends.
        with threadpool_limits(1, "blas"):
            self.model.fit(binary, show_progress=False)
        # Queries fold in one user at a time: OpenMP threads only add start-up cost there
        # (timings in docs/experiments/signals.md).
        self.model.num_threads = 1
        self.known_item = np.diff(user_items.tocsc().indptr) > 0
        self._norms()

    def _norms(self) -> None:
        self.item_norms = np.linalg.norm(self.model.item_factors, axis=1).astype(np.float32)

    def _user_factor(self, profile: RankerProfile) -> np.ndarray:
        if profile.trained_row is not None:
            return np.asarray(self.model.user_factors[profile.trained_row])
        return np.asarray(self.model.recalculate_user(0, self._row(profile)))

    def _row(self, profile: RankerProfile) -> sp.csr_matrix:
        indptr = np.array([0, len(profile.items)])
        return sp.csr_matrix(
            (profile.weights, profile.items, indptr), shape=(1, self.n_items), dtype=np.float32
        )

    def _unit_factors(self, items: np.ndarray) -> np.ndarray:
        factors = np.asarray(self.model.item_factors[items])
        return factors / np.maximum(self.item_norms[items], 1e-12)[:, None]

    def _scores(self, profile: RankerProfile) -> np.ndarray:
        factors = np.asarray(self.model.item_factors)
        if profile.personal:
            values = matvec(factors, self._user_factor(profile))
        else:
            seeds = weighted_row_sum(self._unit_factors(profile.items), profile.weights)
            values = matvec(factors, seeds) / np.maximum(self.item_norms, 1e-12)
            # A seed is not similar to itself (as EASE's zero diagonal): drop its own cosine 1.
            values[profile.items] -= profile.weights
        return np.where(self.known_item, values, np.nan).astype(np.float32)

    def _contributions(self, profile: RankerProfile, items: np.ndarray) -> np.ndarray:
        if not profile.personal:
            cosine = self._unit_factors(profile.items) @ self._unit_factors(items).T
            cosine[profile.items[:, None] == items[None, :]] = np.nan  # not "similar to itself"
            return cosine * profile.weights[:, None]
        # The decomposition of implicit's explain() (Hu et al. 2008, section 5): with
        # A = Y'Y + reg I + sum_i (c_i - 1) y_i y_i', item j's score is sum_i c_i y_j' A^-1 y_i.
        # Written out because implicit's version loops in Python over the history per item
        # (160 ms for 10 items of a 2,700-rating user; this is one solve).
        factors = self.model.item_factors
        history = np.asarray(factors[profile.items], dtype=np.float64)
        targets = np.asarray(factors[items], dtype=np.float64)
        confidence = self.model.alpha * profile.weights.astype(np.float64)
        system = np.asarray(self.model.YtY, dtype=np.float64)
        system = system + self.model.regularization * np.eye(system.shape[0])
        system += (history * (confidence - 1.0)[:, None]).T @ history
        solved = cho_solve(cho_factor(system, check_finite=False), targets.T)
        return ((history @ solved) * confidence[:, None]).astype(np.float32)

    def _meta(self) -> dict[str, Any]:
        return {"num_threads": self.num_threads}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "item_factors": np.asarray(self.model.item_factors),
            "user_factors": np.asarray(self.model.user_factors),
        }

    def _restore(self, directory: Path, meta: dict[str, Any]) -> None:
        self.num_threads = int(meta.get("num_threads", 0))
        self.model = self._new_model()
        self.model.item_factors = np.load(directory / "collab_item_factors.npy")
        self.model.user_factors = np.load(directory / "collab_user_factors.npy")
        self.model.num_threads = 1  # one-user fold-ins, as after fit
        self._norms()

    @classmethod
    def from_factors(
        cls,
        catalog: Catalog,
        settings: Settings | None,
        item_factors: np.ndarray,
        user_factors: np.ndarray,
        *,
        known_item: np.ndarray | None = None,
        fit_seconds: float = 0.0,
    ) -> ALSRanker:
        """A fitted ranker from factors trained elsewhere (``core.serving.spark``): item rows by
        item index, user rows by ``catalog.user_ids``; saves and serves as if fitted here."""
        if item_factors.shape[0] != catalog.n_items or user_factors.shape[0] != len(
            catalog.user_ids
        ):
            raise ValueError(
                f"factors of shape {item_factors.shape} / {user_factors.shape} do not fit a "
                f"catalogue of {catalog.n_items} movies and {len(catalog.user_ids)} users"
            )
        obj = cls(settings)
        obj.n_items = catalog.n_items
        obj.history = RatingHistory.from_catalog(catalog)
        obj.times = rating_times(catalog, obj.history.matrix)
        obj.titles = titles_of(catalog)
        obj.model = obj._new_model()
        obj.model.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        obj.model.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        obj.model.num_threads = 1
        if known_item is None:
            known_item = np.diff(catalog.user_items.tocsc().indptr) > 0
        obj.known_item = np.asarray(known_item, dtype=bool)
        obj.fit_seconds = float(fit_seconds)
        obj._norms()
        return obj
