"""The "Predicted rating" component: SVD, item kNN, user kNN and Bayesian MF blended by learned
weights.

:class:`RatingModel` (the engine's ``"svd"`` component) fits its components, learns a stacking
regression on a per-user validation split, and predicts/folds in like :class:`SVDRating`; it
must not hold a component's own maths (see ``svd``, ``knn`` and ``bayes``).

The blend is a ridge regression of the ratings on the three predictions, each weight allowed to
vary with the user's and the movie's number of ratings (feature-weighted linear stacking). It is
learned inside :meth:`RatingModel.fit` on a per-user validation split carved from the training
ratings; then the components are refitted on all of them. Cross-validated figures: see
``docs/experiments/signals.md`` (``python -m core evaluate --parts rating``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from core.config import RatingSettings, Settings
from core.data.catalog import Catalog
from core.evaluation.splits import stratified_split
from core.signals.base import Query, Scorer, Scores, known_fields, read_meta, save_json
from core.signals.history import RatingHistory
from core.signals.rating.bayes import BayesianMF
from core.signals.rating.knn import ItemKNNBaseline, UserKNNBaseline, co_rating_pairs
from core.signals.rating.svd import SVD_FOLD_IN_FLOOR, SVDRating

#: Fewer validation ratings than this: keep the plain average (no weights are learned).
MIN_VALIDATION = 30

#: Folds of the cross-validation (on the validation ratings) that chooses the blend's form.
BLEND_FOLDS = 5

#: Components in blend order (the SVD is always there; the others when feasible and enabled).
COMPONENTS = ("svd", "knn", "user_knn", "bmf")
COMPONENT_LABELS = {
    "svd": "SVD, tuned",
    "knn": "item kNN with baselines",
    "user_knn": "user kNN with baselines",
    "bmf": "Bayesian MF (Gibbs sampling)",
}


class RatingModel(Scorer):
    """Predicted rating: SVD, item kNN and user kNN with baselines and Bayesian MF, blended by
    weights learned on validation data (the engine's ``"svd"`` component; same API as
    :class:`SVDRating`).

    Fallbacks are SVD's, with ``was_impossible`` set: an unknown user without usable ratings gets
    ``mu + b_i`` ("unknown user: item mean"), an unknown or unrated movie ``mu + b_u``, both the
    global mean. Estimates are clipped to the rating scale.

    After :meth:`fit`: ``svd`` (an :class:`SVDRating`), ``knn`` (:class:`ItemKNNBaseline`) and
    ``user_knn`` (:class:`UserKNNBaseline`) and ``bmf`` (:class:`BayesianMF`), each ``None`` when
    skipped (see ``notes``);
    ``components`` (the names in use), ``features``/``weights`` (the stacking regression),
    ``support`` (its support-feature ranges), ``validation`` (RMSE of each component, their
    average and the blend on the validation split) and ``fit_seconds``.
    """

    name = "svd"
    label = "Predicted rating"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        fold_in_reg: float | None = None,
        fold_in_floor: float = SVD_FOLD_IN_FLOOR,
    ) -> None:
        settings = settings or Settings()
        self.settings = settings
        self.params: RatingSettings = settings.rating
        self.svd = SVDRating(settings, fold_in_reg=fold_in_reg, fold_in_floor=fold_in_floor)
        self.knn: ItemKNNBaseline | None = None
        self.user_knn: UserKNNBaseline | None = None
        self.bmf: BayesianMF | None = None
        self.features: list[str] = ["intercept", "svd"]
        self.weights = np.array([0.0, 1.0])
        # log(1 + n) support of users / movies: [lowest, highest, centre] seen in validation.
        self.support: dict[str, list[float]] = {}
        self.item_count = np.empty(0, dtype=np.int64)
        self.validation: dict[str, float] = {}
        self.blend_choice: dict[str, Any] = {}
        self.choices: dict[str, Any] = {}
        self.notes: list[str] = []
        self.fit_seconds = 0.0

    # -- delegated state ----------------------------------------------------------------------
    @property
    def history(self) -> RatingHistory:
        """The training ratings (shared by all components)."""
        return self.svd.history

    @property
    def mu(self) -> float:
        """Global mean rating (SVD's)."""
        return self.svd.mu

    @property
    def scale(self) -> tuple[float, float]:
        """The rating scale predictions are clipped to."""
        return self.svd.scale

    @property
    def known_item(self) -> np.ndarray:
        """Items the model saw ratings of (others get the unknown-movie fallback)."""
        return self.svd.known_item

    @property
    def components(self) -> list[str]:
        """Names of the components in use, in blend order."""
        found = {"svd": self.svd, "knn": self.knn, "user_knn": self.user_knn, "bmf": self.bmf}
        return [name for name in COMPONENTS if found[name] is not None]

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, catalog: Catalog) -> RatingModel:
        """Learn blend weights on a validation split, then fit the components on everything."""
        start = time.perf_counter()
        p = self.params
        self.n_items = catalog.n_items
        self.notes = []
        self.validation = {}
        self.blend_choice = {}
        self.support = {}
        use = self._feasible(catalog)
        self.knn = self.user_knn = self.bmf = None
        if len(use) > 1:
            train, valid = stratified_split(catalog.ratings, p.valid_fraction, p.random_state)
            if len(valid) >= MIN_VALIDATION:
                self._fit_components(_with_ratings(catalog, train), use)
                self._learn_weights(valid)
            else:
                self._set_weights(use, None)
                self.notes.append(f"only {len(valid)} validation ratings: plain average")
            refit = p.refit and len(catalog.ratings) <= p.refit_max_ratings
            if p.refit and not refit:
                self.notes.append(
                    f"components fitted once, on {1 - p.valid_fraction:.0%} of the ratings "
                    f"(more than refit_max_ratings {p.refit_max_ratings:,})"
                )
            if refit or len(valid) < MIN_VALIDATION:
                self._fit_components(catalog, use)
        else:
            self._fit_components(catalog, use)
            self._set_weights(use, None)
        self._count()
        self.fit_seconds = time.perf_counter() - start
        self.choices = self._choices()
        return self

    def _choices(self) -> dict[str, Any]:
        """What was chosen at build time and on what evidence (JSON-ready, for the manifest):
        the components, each one's and the blend's validation RMSE, the blend's form with the
        cross-validated RMSE of every candidate, and the noise and prior scales the Bayesian
        MF sampled from the data."""
        out: dict[str, Any] = {
            "components": self.components,
            "validation RMSE": {
                k.removeprefix("rmse_"): round(v, 5) if k != "n" else int(v)
                for k, v in self.validation.items()
            },
            "blend": self.blend_choice or {"chosen": "plain average"},
            "notes": list(self.notes),
        }
        if self.bmf is not None:
            out["bmf"] = self.bmf.summary()
        return out

    def _feasible(self, catalog: Catalog) -> list[str]:
        """Components to use: SVD, and the neighbourhood models unless off or too big."""
        p = self.params
        use = ["svd"]
        stats = catalog.rating_stats["n_ratings"].to_numpy()
        matrix = catalog.user_items
        checks = (
            ("knn", p.knn, "rated movies", int((stats > 0).sum()), p.knn_max_items,
             co_rating_pairs(matrix)),
            ("user_knn", p.user_knn, "users", matrix.shape[0], p.knn_max_users,
             float((stats.astype(np.float64) ** 2).sum())),
        )  # fmt: skip
        for name, wanted, what, size, max_size, pairs in checks:
            if not wanted or (name == "user_knn" and "knn" not in use):
                continue  # the user-based model runs on the item model's baselines
            if size > max_size:
                self.notes.append(f"{name} skipped: {size:,} {what} > {max_size:,}")
            elif pairs > p.knn_max_pairs:
                self.notes.append(
                    f"{name} skipped: {pairs:.2g} co-rating pairs > {p.knn_max_pairs:.2g}"
                )
            else:
                use.append(name)
        if p.bmf:
            if len(catalog.ratings) > p.bmf_max_ratings:
                self.notes.append(
                    f"bmf skipped: {len(catalog.ratings):,} ratings > {p.bmf_max_ratings:,}"
                )
            else:
                use.append("bmf")
        return use

    def _fit_components(self, catalog: Catalog, use: Sequence[str]) -> None:
        self.svd = SVDRating(
            self.settings, fold_in_reg=self.svd.fold_in_reg, fold_in_floor=self.svd.fold_in_floor
        ).fit(catalog)
        self.knn = ItemKNNBaseline(self.params).fit(self.svd.history) if "knn" in use else None
        self.user_knn = None
        if self.knn is not None and "user_knn" in use:
            self.user_knn = UserKNNBaseline(self.params).fit(self.knn)
        self.bmf = None
        if "bmf" in use:
            self.bmf = BayesianMF(self.params).fit(self.svd.history)

    def _count(self) -> None:
        self.item_count = np.bincount(self.history.matrix.indices, minlength=self.n_items)

    def _set_weights(self, names: Sequence[str], support: bool | None) -> None:
        """Feature names for ``names`` and the plain average as weights."""
        self.features = ["intercept", *names]
        if support:
            self.features += [f"{n}*user_support" for n in names]
            self.features += [f"{n}*item_support" for n in names]
            self.features += ["user_support", "item_support"]
        self.weights = np.zeros(len(self.features))
        self.weights[1 : 1 + len(names)] = 1.0 / len(names)

    def _learn_weights(self, valid: pd.DataFrame) -> None:
        """Ridge regression of the validation ratings on the (clipped) component predictions,
        pulled towards the plain average, with or without support interactions (feature-
        weighted linear stacking, Sill et al. 2009: each component's weight may vary with
        log(1 + ratings) of the user and of the movie, centred and clipped to the range seen
        here, so a new user with 5 ratings does not extrapolate). Which of those (support only
        if ``blend_support``) and which pull from ``blend_ridges`` is chosen by
        ``BLEND_FOLDS``-fold cross-validation on these same validation ratings, then refitted
        on all of them; the candidates' scores go to ``choices``."""
        names = self.components
        users = valid["userId"].to_numpy(dtype=np.int64)
        movies = valid["movieId"].to_numpy(dtype=np.int64)
        estimates, possible = self._estimates(users, movies)
        estimates = [e[possible] for e in estimates]
        target = valid["rating"].to_numpy(dtype=np.float64)[possible]
        n_user, n_item = support_counts(self.history, users[possible], movies[possible])
        ranges = {}
        for key, count in (("user", n_user), ("item", n_item)):
            log = np.log1p(count)
            ranges[key] = [float(log.min()), float(log.max()), float(log.mean())]
        fold = np.random.default_rng(self.params.random_state).permutation(len(target))
        fold %= BLEND_FOLDS
        scores: dict[str, float] = {}
        best: tuple[float, bool, float] | None = None
        for support in (False, True) if self.params.blend_support else (False,):
            self.support = ranges if support else {}
            self._set_weights(names, support)
            design = self._design(estimates, n_user, n_item)
            for ridge in self.params.blend_ridges:
                score = self._cross_validate(design, target, ridge, fold)
                scores[_blend_label(support, ridge)] = round(score, 5)
                if best is None or score < best[0] - 1e-9:
                    best = (score, support, ridge)
        assert best is not None, "blend_ridges is empty"
        score, support, ridge = best
        self.support = ranges if support else {}
        self._set_weights(names, support)
        design = self._design(estimates, n_user, n_item)
        self.weights = self._ridge(design, target, ridge)
        lo, hi = self.scale
        count = len(names)
        self.validation = {"n": float(len(target))}
        for column, name in enumerate(names, start=1):
            self.validation[f"rmse_{name}"] = _rmse(design[:, column], target)
        average = np.clip(design[:, 1 : 1 + count].mean(axis=1), lo, hi)
        self.validation["rmse_average"] = _rmse(average, target)
        self.validation["rmse_blend"] = _rmse(np.clip(design @ self.weights, lo, hi), target)
        self.validation["cv_rmse_blend"] = score
        self.blend_choice = {
            "chosen": _blend_label(support, ridge),
            "support": support,
            "ridge": ridge,
            f"{BLEND_FOLDS}-fold RMSE of each candidate": scores,
        }

    def _ridge(self, design: np.ndarray, target: np.ndarray, ridge: float) -> np.ndarray:
        """Weights pulled towards the plain average (``self.weights`` as set by
        :meth:`_set_weights`) by ``ridge``; the intercept is free."""
        penalty = np.eye(design.shape[1]) * ridge
        penalty[0, 0] = 0.0
        prior = self.weights
        return np.linalg.solve(design.T @ design + penalty, design.T @ target + penalty @ prior)

    def _cross_validate(
        self, design: np.ndarray, target: np.ndarray, ridge: float, fold: np.ndarray
    ) -> float:
        """RMSE of the clipped blend over ``fold``'s parts, each predicted by weights learned
        on the others."""
        lo, hi = self.scale
        error = np.empty(len(target))
        for part in range(BLEND_FOLDS):
            held = fold == part
            weights = self._ridge(design[~held], target[~held], ridge)
            error[held] = np.clip(design[held] @ weights, lo, hi) - target[held]
        return float(np.sqrt(np.mean(error**2))) if len(error) else 0.0

    def _design(
        self, estimates: Sequence[np.ndarray], n_user: np.ndarray | float, n_item: np.ndarray
    ) -> np.ndarray:
        """The stacking regression's columns (``features``) for the components' estimates
        (clipped here) and the training ratings of each pair's user and movie."""
        lo, hi = self.scale
        columns = [np.clip(np.asarray(e, dtype=np.float64), lo, hi) for e in estimates]
        design = [np.ones(len(columns[0])), *columns]
        if self.support:
            supports = []
            for key, count in (("user", n_user), ("item", n_item)):
                low, high, centre = self.support[key]
                log = np.log1p(np.broadcast_to(np.asarray(count, np.float64), columns[0].shape))
                supports.append(np.clip(log, low, high) - centre)
            user, item = supports
            design += [c * user for c in columns] + [c * item for c in columns] + [user, item]
        return np.column_stack(design)

    def _blend(
        self, estimates: Sequence[np.ndarray], n_user: np.ndarray | float, items: np.ndarray
    ) -> np.ndarray:
        """Clipped blend of the components' estimates for pairs with ``items`` (indices)."""
        lo, hi = self.scale
        design = self._design(estimates, n_user, self.item_count[items])
        return np.clip(design @ self.weights, lo, hi)

    def _estimates(
        self, user_ids: np.ndarray, movie_ids: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Every component's estimates for many pairs, and the mask of pairs the neighbourhood
        models can predict (training user, rated movie); elsewhere they repeat SVD's fallback."""
        users = np.asarray(user_ids, dtype=np.int64)
        movies = np.asarray(movie_ids, dtype=np.int64)
        svd_est = np.asarray(self.svd.estimate(users, movies), dtype=np.float64)
        rows, items, possible = self._pairs(users, movies)
        out = [svd_est]
        for model in (self.knn, self.user_knn, self.bmf):
            if model is not None:
                est = svd_est.copy()
                est[possible] = model.estimate(rows[possible], items[possible])
                out.append(est)
        return out, possible

    def _pairs(
        self, users: np.ndarray, movies: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """History rows and item indices of (user, movie) pairs, and the mask of those with a
        training user and a rated movie (elsewhere rows and items are placeholders)."""
        known_users = self.history.user_ids
        rows = np.clip(np.searchsorted(known_users, users), 0, max(len(known_users) - 1, 0))
        user_ok = known_users[rows] == users if len(known_users) else np.zeros(len(users), bool)
        items = self.svd.items_of(movies)
        item_ok = items >= 0
        item_ok[item_ok] = self.known_item[items[item_ok]]
        return rows, items, user_ok & item_ok

    # -- per-user predictions -----------------------------------------------------------------
    def _neighbourhood_user(
        self,
        user_id: int | None,
        ratings: Mapping[int, float] | None,
        targets: np.ndarray | None = None,
    ) -> tuple[list[np.ndarray], int] | None:
        """The components' but SVD's predictions of ``targets`` (item indices, default all) for
        a user and/or extra ratings, and how many ratings they rest on; ``None`` for an unknown
        user without usable ratings."""
        if len(self.components) == 1:
            return None
        items, values, _ = self.history.merged(user_id, dict(ratings or {}))
        used = int(self.known_item[items].sum()) if len(items) else 0
        if used == 0:
            return None
        if targets is not None and len(targets) > self.n_items // 4:
            # Many targets: every item without gathering copies of the neighbour lists.
            found = self._neighbourhood_user(user_id, ratings)
            return ([o[targets] for o in found[0]], used) if found is not None else None
        own = self.history.user_row(user_id)
        out = []
        if self.knn is not None:
            out.append(cast(np.ndarray, self.knn.predict_user(items, values, targets)))
        if self.user_knn is not None:
            out.append(cast(np.ndarray, self.user_knn.predict_user(items, values, targets, own)))
        if self.bmf is not None:
            # A training user without extra ratings keeps the sampled vectors; else fold in.
            row = own if not ratings else None
            out.append(cast(np.ndarray, self.bmf.predict_user(items, values, targets, row)))
        return out, used

    def user_vector(
        self, user_id: int | None, ratings: Mapping[int, float] | None = None
    ) -> tuple[float, np.ndarray, str, list[str]] | None:
        """The SVD component's ``(b_u, p_u, how, notes)`` (see :meth:`SVDRating.user_vector`)."""
        return self.svd.user_vector(user_id, ratings)

    def predict(
        self,
        user_id: int | None,
        movie_ids: Sequence[int] | np.ndarray,
        ratings: Mapping[int, float] | None = None,
    ) -> pd.DataFrame:
        """Predicted ratings in Surprise's manner: ``movieId, est, was_impossible, reason``.

        ``ratings`` ({movieId: rating}) are folded into every component without retraining
        (they override the stored history of ``user_id``). Fallbacks as :class:`SVDRating`.
        """
        frame = self.svd.predict(user_id, movie_ids, ratings)
        possible = ~frame["was_impossible"].to_numpy()
        if possible.any() and len(self.components) > 1:
            ids = frame["movieId"].to_numpy(dtype=np.int64)[possible]
            items = self.svd.items_of(ids)
            found = self._neighbourhood_user(user_id, ratings, items)
            if found is not None:
                others, used = found
                est = frame["est"].to_numpy(dtype=np.float64).copy()
                est[possible] = self._blend([est[possible], *others], used, items)
                frame["est"] = est
        return frame

    def estimate(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """Clipped estimates for many (user, movie) pairs of training users at once (for
        evaluation); unknown users or movies get the fallbacks of :meth:`predict`."""
        if len(self.components) == 1:
            return self.svd.estimate(user_ids, movie_ids)
        users = np.asarray(user_ids, dtype=np.int64)
        movies = np.asarray(movie_ids, dtype=np.int64)
        estimates, possible = self._estimates(users, movies)
        n_user, _ = support_counts(self.history, users[possible], movies[possible])
        items = self.svd.items_of(movies[possible])
        out = estimates[0].copy()
        out[possible] = self._blend([e[possible] for e in estimates], n_user, items)
        return out

    def score(self, query: Query) -> Scores:
        """Predicted rating of every rated movie for ``query.user_id`` / ``query.ratings``.

        As :meth:`SVDRating.score`: unrated movies are NaN; an unknown user without ratings gets
        the non-personal ``mu + b_i`` with a note; seeds and text are not used.
        """
        scores = self.svd.score(query)
        if len(self.components) == 1 or not scores.has_opinion:
            return scores
        if self.svd.user_vector(query.user_id, query.ratings) is None:
            return scores  # SVD's non-personal fallback
        known = np.flatnonzero(self.known_item)
        found = self._neighbourhood_user(query.user_id, query.ratings)
        if found is None:
            return scores
        others, used = found
        values = np.full(self.n_items, np.nan, dtype=np.float32)
        svd_values = scores.values[known].astype(np.float64)
        values[known] = self._blend([svd_values, *(o[known] for o in others)], used, known)
        return Scores(values, scores.note)

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"predicted 4.5★"`` for each item with a prediction."""
        values = self.score(query).values[np.asarray(items, dtype=np.int64)]
        return [f"predicted {v:.1f}★" if np.isfinite(v) else None for v in values.tolist()]

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """SVD's files (``svd_*``, with the rating history), ``knn_*.npy``, ``user_knn_*.npy``
        and ``rating.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.svd.save(directory)
        save_json(
            directory / "rating.json",
            {
                "kind": "rating",
                "params": dataclasses.asdict(self.params),
                "components": self.components,
                "features": self.features,
                "weights": self.weights.tolist(),
                "support": self.support,
                "knn": self.knn.save(directory) if self.knn else None,
                "user_knn": self.user_knn.save(directory) if self.user_knn else None,
                "bmf": self.bmf.save(directory) if self.bmf else None,
                "validation": self.validation,
                "choices": self.choices,
                "notes": self.notes,
                "n_items": self.n_items,
                "fit_seconds": self.fit_seconds,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> RatingModel:
        """Read what :meth:`save` wrote; ``ValueError`` if the folder holds something else
        (a bare :class:`SVDRating` folder included: it predates the ensemble)."""
        meta = read_meta(directory / "rating.json", "rating")
        svd = SVDRating.load(directory)
        params = known_fields(RatingSettings, meta["params"])
        obj = cls(Settings(svd=svd.params, rating=params))
        obj.svd = svd
        obj.features = list(meta["features"])
        obj.weights = np.asarray(meta["weights"], dtype=np.float64)
        obj.support = {k: [float(x) for x in v] for k, v in meta.get("support", {}).items()}
        obj.validation = {k: float(v) for k, v in meta.get("validation", {}).items()}
        obj.choices = dict(meta.get("choices", {}))
        obj.blend_choice = dict(obj.choices.get("blend", {}))
        obj.notes = list(meta.get("notes", []))
        obj.n_items = int(meta["n_items"])
        obj.fit_seconds = float(meta.get("fit_seconds", 0.0))
        if meta.get("knn") is not None:
            obj.knn = ItemKNNBaseline.load(directory, meta["knn"], params, svd.history)
        if meta.get("user_knn") is not None and obj.knn is not None:
            obj.user_knn = UserKNNBaseline.load(directory, meta["user_knn"], params, obj.knn)
        if meta.get("bmf") is not None:
            obj.bmf = BayesianMF.load(directory, meta["bmf"], params, svd.history)
        obj._count()
        return obj


def component_estimates(
    model: RatingModel, user_ids: np.ndarray, movie_ids: np.ndarray
) -> dict[str, np.ndarray]:
    """Each component's clipped estimates for many pairs (its own where it can predict, SVD's
    fallbacks elsewhere), by component name: for evaluation tables."""
    estimates, _ = model._estimates(user_ids, movie_ids)
    lo, hi = model.scale
    return {
        name: np.clip(est, lo, hi) for name, est in zip(model.components, estimates, strict=True)
    }


def support_counts(
    history: RatingHistory, user_ids: np.ndarray, movie_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Training ratings of each pair's user and movie (0 when unknown)."""
    per_user = np.diff(history.matrix.indptr)
    per_item = np.bincount(history.matrix.indices, minlength=history.matrix.shape[1])
    users = np.asarray(user_ids, dtype=np.int64)
    rows = np.clip(np.searchsorted(history.user_ids, users), 0, max(len(history.user_ids) - 1, 0))
    user_ok = history.user_ids[rows] == users if len(history.user_ids) else users < 0
    order = np.argsort(history.movie_ids)
    movies = np.asarray(movie_ids, dtype=np.int64)
    at = np.clip(np.searchsorted(history.movie_ids[order], movies), 0, max(len(order) - 1, 0))
    item_ok = history.movie_ids[order][at] == movies if len(order) else movies < 0
    n_user = np.where(user_ok, per_user[rows] if len(per_user) else 0, 0)
    n_item = np.where(item_ok, per_item[order[at]] if len(per_item) else 0, 0)
    return n_user, n_item


def _with_ratings(catalog: Catalog, ratings: pd.DataFrame) -> Catalog:
    """The same movies and tags with only some ratings (a training part)."""
    return Catalog(catalog.name, catalog.movies, ratings.reset_index(drop=True), catalog.tags,
                   catalog.report)  # fmt: skip


def _blend_label(support: bool, ridge: float) -> str:
    return f"{'support-weighted' if support else 'linear'}, ridge {ridge:g}"


def _rmse(est: np.ndarray, truth: np.ndarray) -> float:
    if len(truth) == 0:
        return 0.0
    return float(np.sqrt(np.mean((np.asarray(est) - np.asarray(truth)) ** 2)))
