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
from core.signals.base import load_arrays, save_arrays
from core.signals.history import RatingHistory
from core.signals.numeric import matvec

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
            (
                np.ones(len(rows)),
                cols[order],
                np.searchsorted(rows[order], np.arange(shape[0] + 1)),
            ),
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

    After :meth:`fit`, for the S kept samples: ``user_bias`` (users x S, by history row) and
    ``user_factors`` (users x S x k), ``item_bias`` / ``item_factors`` likewise by item index,
    the users' prior of each sample (``user_mean``/``user_precision``, S x (k+1): bias first),
    the noise precision of each (``alpha``); also ``mu``, ``known_item`` and ``history``
    (shared with the other components).
    """

    def __init__(self, params: RatingSettings | None = None) -> None:
        self.params = params or RatingSettings()
        self.mu = float("nan")
        self.user_bias = np.empty((0, 0), dtype=np.float32)
        self.user_factors = np.empty((0, 0, 0), dtype=np.float32)
        self.item_bias = np.empty((0, 0), dtype=np.float32)
        self.item_factors = np.empty((0, 0, 0), dtype=np.float32)
        self.user_mean = np.empty((0, 0), dtype=np.float64)
        self.user_precision = np.empty((0, 0), dtype=np.float64)
        self.alpha = np.empty(0, dtype=np.float64)
        self.item_bias_mean = np.empty(0, dtype=np.float64)
        self.known_item = np.empty(0, dtype=bool)
        self.history = RatingHistory.empty()
        self.sweeps = 0
        self.fit_seconds = 0.0

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, history: RatingHistory) -> BayesianMF:
        """Run the chain on ``history``: ``bmf_burn_in`` sweeps, then ``bmf_samples`` kept ones.

        Always from a small random start: a chain restarted from a fit on 85% of the ratings
        predicted worse (docs/experiments/serving.md, "Rating ensemble").
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
        users = rng.normal(0.0, 0.1, (n_users, d))
        items = rng.normal(0.0, 0.1, (n_items, d))
        users[:, 0] = items[:, 0] = 0.0
        alpha = 2.0
        by_user = _Side(rows, cols, (n_users, n_items))
        by_item = _Side(cols, rows, (n_items, n_users))
        kept = max(1, p.bmf_samples)
        self.user_bias = np.empty((n_users, kept), dtype=np.float32)
        self.user_factors = np.empty((n_users, kept, d - 1), dtype=np.float32)
        self.item_bias = np.empty((n_items, kept), dtype=np.float32)
        self.item_factors = np.empty((n_items, kept, d - 1), dtype=np.float32)
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
                self.user_bias[:, at], self.user_factors[:, at] = users[:, 0], users[:, 1:]
                self.item_bias[:, at], self.item_factors[:, at] = items[:, 0], items[:, 1:]
                self.user_mean[at], self.user_precision[at] = u_mean, u_prec
                self.alpha[at] = alpha
        self.sweeps = burn + kept
        self._index()
        self.fit_seconds = time.perf_counter() - start
        return self

    def summary(self) -> dict[str, Any]:
        """What the chain learned from the data, averaged over the kept samples: the noise
        standard deviation and the users' prior standard deviations (the regularisation an SVD
        would need to be told)."""
        out: dict[str, Any] = {
            "factors": int(self.item_factors.shape[2]),
            "sweeps": self.sweeps,
            "samples kept": len(self.alpha),
        }
        if len(self.alpha):
            scale = 1.0 / np.sqrt(self.user_precision)
            out["noise sd"] = round(float(np.mean(1.0 / np.sqrt(self.alpha))), 4)
            out["user bias prior sd"] = round(float(scale[:, 0].mean()), 4)
            out["user factor prior sd"] = round(float(scale[:, 1:].mean()), 4)
        return out

    # -- prediction ---------------------------------------------------------------------------
    def estimate(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unclipped predictions for pairs of training users (history rows) and known items:
        ``mu`` plus the mean over samples of ``b_u + b_i + p_u . q_i``."""
        rows = np.asarray(rows, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        out = self.user_bias[rows].mean(axis=1, dtype=np.float64)
        out += self.item_bias[items].mean(axis=1, dtype=np.float64)
        step = 8_192  # bounds the gathered (pairs x S x k) temporaries
        for start in range(0, len(rows), step):
            part = slice(start, start + step)
            users, movies = self.user_factors[rows[part]], self.item_factors[items[part]]
            out[part] += np.einsum("nsk,nsk->n", users, movies, dtype=np.float64) / users.shape[1]
        return self.mu + out

    def fold_in(
        self, items: np.ndarray, ratings: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """One user's biases (S) and factors (S x k) from ratings of item indices: per sample,
        the posterior mean given that sample's movie vectors, user prior and noise level;
        ``None`` when no rated item is known."""
        items = np.asarray(items, dtype=np.int64)
        keep = self.known_item[items]
        items, ratings = items[keep], np.asarray(ratings, dtype=np.float64)[keep]
        if len(items) == 0:
            return None
        # Per sample (S x n x d): batched matrix products, several times faster than einsum
        # for a long history (17 ms against ~60 ms for 1,700 ratings of the built-in data).
        factors = np.swapaxes(self.item_factors[items], 0, 1).astype(np.float64)
        design = np.concatenate([np.ones((*factors.shape[:2], 1)), factors], axis=2)
        targets = ratings[None, :] - self.mu - self.item_bias[items].T  # S x n
        # Each sample has its own noise precision: scale its data terms before adding the prior.
        transposed = np.swapaxes(design, 1, 2)
        gram = (transposed @ design) * self.alpha[:, None, None]
        rhs = (transposed @ targets[:, :, None])[:, :, 0] * self.alpha[:, None]
        matrix, rhs = _posterior(gram, rhs, self.user_mean, self.user_precision, 1.0)
        solution = np.linalg.solve(matrix, rhs[:, :, None])[:, :, 0]
        return solution[:, 0], solution[:, 1:]

    def predict_user(
        self, items: np.ndarray, ratings: np.ndarray, targets: np.ndarray | None = None,
        own_row: int | None = None,
    ) -> np.ndarray | None:  # fmt: skip
        """Unclipped predictions for ``targets`` (item indices, default all) of a user given by
        ``ratings`` of ``items``: the stored samples of training user ``own_row`` when given
        (no extra ratings), else a fold-in. ``None`` when no rated item is known."""
        if own_row is not None:
            bias, factors = self.user_bias[own_row], self.user_factors[own_row]
        else:
            found = self.fold_in(items, ratings)
            if found is None:
                return None
            bias, factors = found
        samples = factors.shape[0]
        # Mean over samples of q_i . p_u is one product with the samples laid side by side.
        vector = (np.asarray(factors, dtype=np.float32) / samples).reshape(-1)
        if targets is None:  # every item: a view of the stored arrays, no gathered copy
            movies, movie_bias = self.item_factors, self.item_bias_mean
        else:
            targets = np.asarray(targets, dtype=np.int64)
            movies, movie_bias = self.item_factors[targets], self.item_bias_mean[targets]
        dots = matvec(movies.reshape(len(movies), -1), vector)
        return self.mu + float(np.mean(bias)) + movie_bias + dots.astype(np.float64)

    def _index(self) -> None:
        self.item_bias_mean = self.item_bias.mean(axis=1, dtype=np.float64)

    # -- persistence --------------------------------------------------------------------------
    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "user_bias", "user_factors", "item_bias", "item_factors", "user_mean", "user_precision",
        "alpha", "known_item",
    )  # fmt: skip

    def save(self, directory: Path, prefix: str = "bmf") -> dict[str, Any]:
        """Write ``<prefix>_<array>.npy``; returns the metadata for the caller's JSON."""
        save_arrays(self, directory, prefix, self._ARRAYS)
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
        load_arrays(obj, directory, prefix, cls._ARRAYS)
        obj.history = history
        obj._index()
        return obj
