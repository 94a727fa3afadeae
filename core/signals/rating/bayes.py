"""Bayesian biased matrix factorisation fitted by Gibbs sampling (a ``RatingModel`` component).

:class:`BayesianMF` is BPMF (Salakhutdinov & Mnih 2008) with user and movie biases and
per-dimension Normal-Gamma hyper-priors (as libFM's MCMC): every regularisation strength and
the noise level are sampled from the data, so nothing needs tuning per data set, which is why
it sits beside the hand-tuned SVD. Predictions average the kept samples; those samples are
stored as arrays (never pickles), and a new user or extra ratings are folded in per sample by
the closed-form posterior mean under that sample's hyper-parameters. Vectorised: one sweep is a
few sparse-dense products and batched (k+1)x(k+1) Cholesky solves.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.config import RatingSettings
from core.signals.history import RatingHistory

#: Normal-Gamma hyper-prior of the factor means / precisions and Gamma prior of the noise
#: precision (vague, as in libFM).
PRIOR_SHAPE = 1.0
PRIOR_RATE = 1.0
PRIOR_MEAN_WEIGHT = 1.0


class _Side:
    """One side's (users' or movies') sampling structure: the rating matrix in its row order,
    and where each of its entries sits in the triple order (to scatter residual targets)."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> None:
        order = np.lexsort((cols, rows))
        self.order = order
        self.pattern = sp.csr_matrix(
            (np.ones(len(rows)), cols[order], np.searchsorted(rows[order], np.arange(shape[0] + 1))),
            shape=shape,
        )

    def targeted(self, values: np.ndarray) -> sp.csr_matrix:
        """The same pattern holding ``values`` (given in triple order)."""
        return sp.csr_matrix(
            (values[self.order], self.pattern.indices, self.pattern.indptr),
            shape=self.pattern.shape,
        )


def _hyper(rng: np.random.Generator, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and precision of a side's vectors, drawn from their Normal-Gamma
    posterior (prior mean 0)."""
    n = values.shape[0]
    weight = n + PRIOR_MEAN_WEIGHT
    centre = values.sum(axis=0) / weight
    spread = ((values - values.mean(axis=0)) ** 2).sum(axis=0)
    spread += n * PRIOR_MEAN_WEIGHT / weight * values.mean(axis=0) ** 2
    precision = rng.gamma(PRIOR_SHAPE + 0.5 * (n + 1), 1.0 / (PRIOR_RATE + 0.5 * spread))
    mean = rng.normal(centre, 1.0 / np.sqrt(weight * precision))
    return mean, precision


def _posterior(
    gram: np.ndarray, rhs: np.ndarray, mean: np.ndarray, precision: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Batched Gaussian posterior of vectors with prior ``N(mean, diag(1/precision))`` and data
    ``alpha * gram`` / ``alpha * rhs``: its precision matrices and the right-hand sides."""
    matrix = gram * alpha
    diagonal = np.arange(matrix.shape[1])
    matrix[:, diagonal, diagonal] += precision
    return matrix, rhs * alpha + precision * mean


def _sample_side(
    rng: np.random.Generator, side: _Side, other: np.ndarray, targets: np.ndarray,
    current: np.ndarray, alpha: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """New vectors ``[bias, factors]`` of one side given the other side's, and the hyper-
    parameters drawn for them. The other side enters as ``[1, factors]`` (its bias is already
    in ``targets``, the ratings minus the global mean and the other side's bias)."""
    mean, precision = _hyper(rng, current)
    design = np.column_stack([np.ones(len(other)), other[:, 1:]])
    d = design.shape[1]
    outer = (design[:, :, None] * design[:, None, :]).reshape(len(design), d * d)
    gram = np.asarray(side.pattern @ outer).reshape(-1, d, d)
    rhs = np.asarray(side.targeted(targets) @ design)
    matrix, rhs = _posterior(gram, rhs, mean, precision, alpha)
    # x = P^-1 (rhs + L z) with P = L L^T is distributed N(P^-1 rhs, P^-1): one solve.
    lower = np.linalg.cholesky(matrix)
    noise = lower @ rng.standard_normal((len(matrix), d, 1))
    return np.linalg.solve(matrix, rhs[:, :, None] + noise)[:, :, 0], mean, precision


class BayesianMF:
    """Biased matrix factorisation averaged over Gibbs samples (see the module docstring).

    After :meth:`fit`: ``mu``, ``user_samples`` (users x S x (k+1): bias then factors, by history
    row), ``item_samples`` (items x S x (k+1)), the users' prior of each sample
    (``user_mean``/``user_precision``, S x (k+1)), the noise precision of each (``alpha``),
    ``known_item`` and ``history`` (shared with the other components).
    """

    def __init__(self, params: RatingSettings | None = None) -> None:
        self.params = params or RatingSettings()
        self.mu = float("nan")
        self.user_samples = np.empty((0, 0, 0), dtype=np.float32)
        self.item_samples = np.empty((0, 0, 0), dtype=np.float32)
        self.user_mean = np.empty((0, 0), dtype=np.float64)
        self.user_precision = np.empty((0, 0), dtype=np.float64)
        self.alpha = np.empty(0, dtype=np.float64)
        self.known_item = np.empty(0, dtype=bool)
        self.history = RatingHistory.empty()
        self.sweeps = 0
        self.fit_seconds = 0.0

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, history: RatingHistory, warm: BayesianMF | None = None) -> BayesianMF:
        """Run the chain on ``history``: ``bmf_burn_in`` sweeps, then ``bmf_samples`` kept ones.

        ``warm``: a model fitted on a subset of these ratings with the same users and items (the
        validation fit); its last sample starts the chain, which then needs only
        ``bmf_refit_burn_in`` sweeps to forget the missing ratings.
        """
        start = time.perf_counter()
        p = self.params
        self.history = history
        matrix = history.matrix.tocoo()
        rows = matrix.row.astype(np.int64)
        cols = matrix.col.astype(np.int64)
        ratings = matrix.data.astype(np.float64)
        n_users, n_items = matrix.shape
        self.known_item = np.bincount(cols, minlength=n_items) > 0
        self.mu = float(ratings.mean()) if len(ratings) else 0.0
        rng = np.random.default_rng(p.random_state)
        d = p.bmf_factors + 1
        burn = p.bmf_burn_in
        if warm is not None and warm.user_samples.shape[:1] == (n_users,) and (
            warm.item_samples.shape[0] == n_items and warm.item_samples.shape[2] == d
        ):
            users = warm.user_samples[:, -1].astype(np.float64)
            items = warm.item_samples[:, -1].astype(np.float64)
            alpha = float(warm.alpha[-1])
            burn = p.bmf_refit_burn_in
        else:
            users = rng.normal(0.0, 0.1, (n_users, d))
            items = rng.normal(0.0, 0.1, (n_items, d))
            users[:, 0] = items[:, 0] = 0.0
            alpha = 2.0
        by_user = _Side(rows, cols, (n_users, n_items))
        by_item = _Side(cols, rows, (n_items, n_users))
        kept = max(1, p.bmf_samples)
        self.user_samples = np.empty((n_users, kept, d), dtype=np.float32)
        self.item_samples = np.empty((n_items, kept, d), dtype=np.float32)
        self.user_mean = np.empty((kept, d))
        self.user_precision = np.empty((kept, d))
        self.alpha = np.empty(kept)
        for sweep in range(burn + kept):
            users, u_mean, u_prec = _sample_side(
                rng, by_user, items, ratings - self.mu - items[cols, 0], users, alpha
            )
            items, _, _ = _sample_side(
                rng, by_item, users, ratings - self.mu - users[rows, 0], items, alpha
            )
            fitted = self.mu + users[rows, 0] + items[cols, 0]
            fitted += np.einsum("ij,ij->i", users[rows, 1:], items[cols, 1:])
            error = float(((ratings - fitted) ** 2).sum())
            alpha = rng.gamma(PRIOR_SHAPE + 0.5 * len(ratings), 1.0 / (PRIOR_RATE + 0.5 * error))
            at = sweep - burn
            if at >= 0:
                self.user_samples[:, at] = users
                self.item_samples[:, at] = items
                self.user_mean[at], self.user_precision[at] = u_mean, u_prec
                self.alpha[at] = alpha
        self.sweeps = burn + kept
        self.fit_seconds = time.perf_counter() - start
        return self

    # -- prediction ---------------------------------------------------------------------------
    def _average(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Mean over samples of ``b_u + b_i + p_u . q_i`` for aligned (..., S, k+1) arrays."""
        dots = np.einsum("nsk,nsk->n", users[..., 1:], items[..., 1:], dtype=np.float64)
        biases = users[..., 0].mean(axis=-1, dtype=np.float64)
        biases += items[..., 0].mean(axis=-1, dtype=np.float64)
        return biases + dots / users.shape[-2]

    def estimate(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unclipped predictions for pairs of training users (history rows) and known items."""
        rows = np.asarray(rows, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        out = np.empty(len(rows))
        step = 8_192
        for start in range(0, len(rows), step):
            part = slice(start, start + step)
            out[part] = self._average(self.user_samples[rows[part]], self.item_samples[items[part]])
        return self.mu + out

    def fold_in(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray | None:
        """One user's vectors (S x (k+1)) from ratings of item indices: per sample, the
        posterior mean given that sample's movie vectors, user prior and noise level; ``None``
        when no rated item is known."""
        items = np.asarray(items, dtype=np.int64)
        keep = self.known_item[items]
        items, ratings = items[keep], np.asarray(ratings, dtype=np.float64)[keep]
        if len(items) == 0:
            return None
        vectors = self.item_samples[items].astype(np.float64)  # n x S x d
        design = vectors.copy()
        design[:, :, 0] = 1.0
        targets = ratings[:, None] - self.mu - vectors[:, :, 0]  # n x S
        # Each sample has its own noise precision: scale its data terms before adding the prior.
        gram = np.einsum("nsi,nsj->sij", design, design) * self.alpha[:, None, None]
        rhs = np.einsum("nsi,ns->si", design, targets) * self.alpha[:, None]
        matrix, rhs = _posterior(gram, rhs, self.user_mean, self.user_precision, 1.0)
        return np.linalg.solve(matrix, rhs[:, :, None])[:, :, 0]

    def predict_user(
        self, items: np.ndarray, ratings: np.ndarray, targets: np.ndarray | None = None,
        own_row: int | None = None,
    ) -> np.ndarray | None:  # fmt: skip
        """Unclipped predictions for ``targets`` (item indices, default all) of a user given by
        ``ratings`` of ``items``: the stored samples of training user ``own_row`` when given
        (no extra ratings), else a fold-in. ``None`` when no rated item is known."""
        if own_row is not None:
            vectors = self.user_samples[own_row].astype(np.float64)
        else:
            vectors = self.fold_in(items, ratings)
            if vectors is None:
                return None
        targets = np.arange(len(self.known_item)) if targets is None else np.asarray(targets)
        chosen = self.item_samples[targets]  # t x S x d
        samples = vectors.shape[0]
        flat = chosen[:, :, 1:].reshape(len(targets), -1)
        dots = flat @ vectors[:, 1:].reshape(-1).astype(np.float32)
        biases = chosen[:, :, 0].mean(axis=1, dtype=np.float64) + vectors[:, 0].mean()
        return self.mu + biases + dots.astype(np.float64) / samples

    # -- persistence --------------------------------------------------------------------------
    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "user_samples", "item_samples", "user_mean", "user_precision", "alpha", "known_item",
    )  # fmt: skip

    def save(self, directory: Path, prefix: str = "bmf") -> dict[str, Any]:
        """Write ``<prefix>_<array>.npy``; returns the metadata for the caller's JSON."""
        for key in self._ARRAYS:
            np.save(directory / f"{prefix}_{key}.npy", getattr(self, key))
        return {"mu": self.mu, "sweeps": self.sweeps, "fit_seconds": self.fit_seconds}

    @classmethod
    def load(
        cls, directory: Path, meta: dict[str, Any], params: RatingSettings,
        history: RatingHistory, prefix: str = "bmf",
    ) -> BayesianMF:  # fmt: skip
        """Inverse of :meth:`save` (the rating history is shared with the other components)."""
        obj = cls(params)
        obj.mu = float(meta["mu"])
        obj.sweeps = int(meta.get("sweeps", 0))
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        for key in cls._ARRAYS:
            setattr(obj, key, np.load(directory / f"{prefix}_{key}.npy"))
        obj.history = history
        return obj
