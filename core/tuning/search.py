"""Build-time tuning: coarse-to-fine searches on the two validation problems.

Stages, each keeping the previous stage's choice: (1) EASE's regularisation, a line search in
steps of x2.5 from the default while it helps overall taste; then, for overall taste with what
comes next no worse than the defaults, (2) the weight of the taste factors, kept only for a
clear gain, (3) the content weights by coordinate ascent and (4) the ranker's recency and
dislike handling; then, for both problems equally with overall taste held, (5) the weight of
recent taste and the recency grid again. A change must beat the current choice by
:data:`MIN_GAIN` and by more than its per-user noise (validation figures of a few hundred
users are noisy; ties keep the default). A time budget cuts stages short.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.signals import fit_content
from core.evaluation.splits import sample_users
from core.progress import Progress, no_progress
from core.signals.registry import SIGNALS, component
from core.tuning.choices import Tuning
from core.tuning.problems import (
    QUERY_FIELDS,
    Problem,
    fit_limited,
    splits,
    with_ranker,
)

#: Users whose validation ratings are scored (a seeded sample on bigger data sets).
TUNE_USERS = 1000
#: Seconds tuning may take before it stops trying more settings (the stage in progress ends).
BUDGET_SECONDS = 60.0
#: Ratio between neighbouring EASE lambdas tried, and how many steps from the default at most.
LAMBDA_FACTOR = 2.5
LAMBDA_STEPS = 3
#: Profile recency ``(decay, floor)`` tried (``(0, 0)`` = off), and dislike weights.
RECENCY: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (20.0, 0.5), (5.0, 0.5), (2.0, 0.5), (5.0, 0.3), (2.0, 0.3), (10.0, 0.0),
    (3.0, 0.0),
)  # fmt: skip
DISLIKE: tuple[float, ...] = (0.5, 1.0)
#: Weights tried per signal, relative to the collaborative signal's.
WEIGHT_LADDER: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5)
#: Relative gain of the objective a change must bring to replace the current choice, and how
#: many standard errors of its paired per-user differences the gain must exceed.
MIN_GAIN = 0.002
NOISE_SE = 0.5
#: EASE's lambda needs more: it is compared on the most rated movies only, and on ml-latest-small
#: a lambda that won by under one standard error there lost on held-out ratings.
LAMBDA_NOISE_SE = 2.0
#: Fewer users with validation ratings than this: the defaults stand.
MIN_USERS = 20
#: What a shortfall below a floor costs in :func:`balanced` (in effect a constraint).
SHORTFALL_COST = 100.0
#: How much overall taste (relative) the what-comes-next stage may give back. None: validation
#: understates that cost (held out, recent taste cost ml-100k 1.7 times what validation said,
#: and with taste factors in the blend ml-latest-small lost 1% for a validation cost under
#: 0.25%; docs/experiments/serving.md, "Taste factors").
TASTE_SLACK = 0.0
#: The blend signals tuned for overall taste after taste factors, in this order (recent taste
#: comes last).
CONTENT_FIRST = ("genre_tag", "semantic", "popularity", "crew", "metadata")
#: Taste factors are tried first, and kept only for a clear gain over the defaults: where they
#: help (ml-100k) validation gained 4%; on ml-latest-small it gained about 1%, and the content
#: weights then chosen around them cost 2.5% held out (docs/experiments/serving.md, "Taste
#: factors").
FACTORS_MIN_GAIN = 0.02
FACTORS_NOISE_SE = 2.0
#: Validation models train on at most this many ratings (a seeded sample of users beyond).
MAX_RATINGS = 2_000_000


def default_weights() -> dict[str, float]:
    """The registry's default blend weights."""
    return {name: float(component(name).default_weight or 0.0) for name in SIGNALS}


def tune(
    catalog: Catalog,
    settings: Settings,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    budget: float = BUDGET_SECONDS,
    progress: Progress = no_progress,
) -> Tuning:
    """Choose the collaborative model's settings and the blend weights for ``catalog``."""
    started = time.perf_counter()
    out = Tuning(tuned=True)
    ratings = _sample_ratings(catalog, seed, out)
    problems = _problems(catalog, ratings, seed)
    users = len(problems[0].users) if problems else 0
    if users < MIN_USERS:
        return _untuned(f"too few users with validation ratings ({users}) to tune on")
    out.users = users
    deadline = started + budget
    defaults = {f: float(getattr(settings.ranker, f)) for f in QUERY_FIELDS}
    weights = default_weights()

    progress("the collaborative model", 0.05)
    settings = _tune_lambda(problems, settings, out, deadline)
    progress("content signals on validation", 0.4)
    for problem in problems:
        problem.set_content(fit_content(problem.part, settings, embeddings), settings.genre_weight)
    with ThreadPoolExecutor(max_workers=len(problems)) as pool:  # NumPy releases the GIL
        # First overall taste, what comes next no worse than the defaults: the taste
        # factors, the content weights and the profile's recency.
        judge = Judge(problems, defaults, weights, pool, aims=(1.0, 0.0))
        progress("taste factors", 0.55)
        _tune_factors(judge, out, deadline)
        progress("blend weights", 0.6)
        _tune_weights(judge, out, deadline, signals=CONTENT_FIRST)
        progress("recency and dislikes", 0.7)
        _tune_params(judge, out, deadline)
        # Then what comes next, overall taste kept at what it reached (TASTE_SLACK).
        taste = judge.relative(judge.current)[0]
        judge.retarget(aims=(0.5, 0.5), floors=(taste * (1 - TASTE_SLACK), 1.0))
        progress("recent taste", 0.8)
        _tune_weights(judge, out, deadline, signals=("recent",), stage="recent taste")
        _tune_params(judge, out, deadline, stage="recency, with recent taste")
    out.ranker = {**out.ranker, **{k: v for k, v in judge.params.items() if v != defaults[k]}}
    total = sum(judge.weights.values()) or 1.0
    out.weights = {name: round(w / total, 4) for name, w in judge.weights.items()}
    out.validation = {
        p.label: {"defaults": round(float(b.mean()), 4), "tuned": round(float(v.mean()), 4)}
        for p, b, v in zip(problems, judge.base, judge.current, strict=True)
    }
    out.seconds = round(time.perf_counter() - started, 1)
    return out


def balanced(
    relative: list[float], aims: tuple[float, ...] | None = None,
    floors: tuple[float, ...] | None = None,
) -> float:  # fmt: skip
    """The objective of a setting from each problem's metric relative to the defaults':
    their mean weighted by ``aims`` (equal by default), less :data:`SHORTFALL_COST` times
    every shortfall below ``floors`` (the defaults, 1.0, by default). In effect a problem may
    not fall below its floor whatever the other gains: on held-out tests such trades cost
    more than validation said (docs/experiments/serving.md, "Build-time tuning")."""
    if not relative:
        return 0.0
    aims = aims or tuple(1.0 / len(relative) for _ in relative)
    floors = floors or tuple(1.0 for _ in relative)
    gain = sum(a * r for a, r in zip(aims, relative, strict=True))
    shortfall = sum(max(0.0, f - r) for f, r in zip(floors, relative, strict=True))
    return float(gain - SHORTFALL_COST * shortfall)


class Choice(NamedTuple):
    """A :class:`Judge`'s choice at one moment (:meth:`Judge.snapshot`)."""

    params: dict[str, float]
    weights: dict[str, float]
    values: list[np.ndarray]  # per problem, per-user metric
    best: float  # its objective


class Judge:
    """Scores candidate settings on every problem and keeps the best so far.

    A candidate replaces the current choice when it raises :func:`balanced` by
    :data:`MIN_GAIN` and the gain is larger than its noise: the paired per-user differences
    of the problems' relative metrics, summed, must exceed :data:`NOISE_SE` standard errors
    (a few hundred users' validation figures move by chance; ties keep the simpler choice)."""

    def __init__(
        self, problems: list[Problem], params: Mapping[str, float],
        weights: Mapping[str, float], pool: ThreadPoolExecutor | None = None,
        aims: tuple[float, ...] | None = None, noise_se: float = NOISE_SE,
    ) -> None:  # fmt: skip
        self.problems = problems
        self.noise_se = noise_se
        self.pool = pool
        self.params = dict(params)
        self.weights = dict(weights)
        self.aims, self.floors = aims, None
        self.base = self._values(self.params, self.weights)
        self.means = [float(b.mean()) for b in self.base]
        self.current = self.base
        self.last = self.base  # the values of the latest candidate considered
        self.best = self.objective(self.current)

    def relative(self, values: list[np.ndarray]) -> list[float]:
        """Each problem's mean metric relative to the defaults'."""
        return [float(v.mean()) / m if m > 0 else 1.0
                for v, m in zip(values, self.means, strict=True)]  # fmt: skip

    def retarget(self, aims: tuple[float, ...], floors: tuple[float, ...]) -> None:
        """Judge by other aims and floors from here on (the current choice stays)."""
        self.aims, self.floors = aims, floors
        self.best = self.objective(self.current)

    def _values(
        self, params: Mapping[str, float], weights: Mapping[str, float]
    ) -> list[np.ndarray]:
        def run(problem: Problem) -> np.ndarray:
            return problem.user_values(params, weights)

        if self.pool is None:
            return [run(p) for p in self.problems]
        return list(self.pool.map(run, self.problems))

    def objective(self, values: list[np.ndarray]) -> float:
        return balanced(self.relative(values), self.aims, self.floors)

    def consider(self, params: Mapping[str, float], weights: Mapping[str, float]) -> float:
        """Score a candidate; adopt it when it is better beyond noise. Returns its objective."""
        values = self._values(params, weights)
        self.last = values
        value = self.objective(values)
        if value > self.best * (1 + MIN_GAIN) and self._beyond_noise(values):
            self.params, self.weights = dict(params), dict(weights)
            self.current, self.best = values, value
        return value

    def snapshot(self) -> Choice:
        """The current choice, for :meth:`restore`."""
        return Choice(dict(self.params), dict(self.weights), self.current, self.best)

    def restore(self, choice: Choice) -> None:
        """Go back to a :meth:`snapshot`."""
        self.params, self.weights = dict(choice.params), dict(choice.weights)
        self.current, self.best = choice.values, choice.best

    def clearly_better(self, than: Choice, min_gain: float, noise_se: float) -> bool:
        """Whether the current choice beats an earlier one by ``min_gain`` (relative) and by
        more than ``noise_se`` standard errors of the paired per-user differences."""
        return self.best > than.best * (1 + min_gain) and self._beyond_noise(
            self.current, than.values, noise_se
        )

    def _beyond_noise(
        self, values: list[np.ndarray], against: list[np.ndarray] | None = None,
        noise_se: float | None = None,
    ) -> bool:  # fmt: skip
        gain, variance = 0.0, 0.0
        aims = self.aims or tuple(1.0 for _ in values)
        against = self.current if against is None else against
        for new, old, mean, aim in zip(values, against, self.means, aims, strict=True):
            if mean <= 0 or len(new) < 2 or aim <= 0:
                continue
            diff = aim * (new - old) / mean
            gain += float(diff.mean())
            variance += float(diff.var(ddof=1)) / len(diff)
        noise_se = self.noise_se if noise_se is None else noise_se
        return gain > noise_se * np.sqrt(variance)


def _untuned(note: str) -> Tuning:
    return Tuning(tuned=False, notes=[note])


def _sample_ratings(catalog: Catalog, seed: int, out: Tuning) -> pd.DataFrame:
    """The ratings validation models train on: all, or a seeded sample of whole users."""
    ratings = catalog.ratings
    if len(ratings) <= MAX_RATINGS:
        return ratings
    users = ratings["userId"].unique()
    share = MAX_RATINGS / len(ratings)
    chosen = sample_users(np.sort(users), max(1, int(len(users) * share)), seed)
    out.notes.append(f"validation models trained on {len(chosen):,} sampled users' ratings")
    return ratings[ratings["userId"].isin(chosen)]


def _problems(catalog: Catalog, ratings: pd.DataFrame, seed: int) -> list[Problem]:
    parts = splits(ratings, seed)
    common: set[int] | None = None
    for *_, valid in parts.values():
        users = set(valid["userId"].unique().tolist())
        common = users if common is None else common & users
    users = sample_users(np.array(sorted(common or ()), dtype=np.int64), TUNE_USERS, seed)
    return [Problem.make(label, metric, k, catalog, train, valid, users)
            for label, (metric, k, train, valid) in parts.items()]  # fmt: skip


def _tune_lambda(
    problems: list[Problem], settings: Settings, out: Tuning, deadline: float
) -> Settings:
    """EASE's lambda by overall taste of the collaborative signal alone: the default, then
    x2.5 steps in the direction that helps (other rankers keep their settings). Leaves each
    problem's ranker fitted with the choice."""
    from core.signals.ranking import EASERanker

    taste = problems[0]
    first = fit_limited(taste.part, settings)
    if not isinstance(first, EASERanker):
        out.notes.append("collaborative model ALS (a large catalogue): its settings kept")
        for problem in problems:
            problem.set_collab(first if problem is taste else fit_limited(problem.part, settings))
        return settings
    trials: list[dict[str, object]] = []
    out.trials["collaborative model"] = trials
    lam0 = float(settings.ranker.ease_lambda)
    taste.set_collab(first)
    judge = Judge([taste], {}, {"collab": 1.0}, noise_se=LAMBDA_NOISE_SE)
    trials.append({"setting": {"ease_lambda": lam0}, "value": round(judge.means[0], 4)})
    best_lam, best_ranker = lam0, first
    for factor in (LAMBDA_FACTOR, 1 / LAMBDA_FACTOR):
        lam = lam0
        for _ in range(LAMBDA_STEPS):
            if time.perf_counter() > deadline:
                out.notes.append("lambda search cut short by the time budget")
                break
            lam *= factor
            ranker = fit_limited(taste.part, with_ranker(settings, ease_lambda=lam))
            taste.set_collab(ranker)
            before = judge.best
            judge.consider({}, {"collab": 1.0})
            trials.append({"setting": {"ease_lambda": lam},
                           "value": round(float(judge.last[0].mean()), 4)})  # fmt: skip
            if judge.best == before:
                break
            best_lam, best_ranker = lam, ranker
        if best_lam != lam0:
            break  # it helped in this direction; no need to try the other
    chosen = with_ranker(settings, ease_lambda=best_lam)
    taste.set_collab(best_ranker)
    for problem in problems[1:]:
        problem.set_collab(fit_limited(problem.part, chosen))
    if best_lam != lam0:
        out.ranker["ease_lambda"] = round(best_lam, 2)
    return chosen


def _tune_factors(judge: Judge, out: Tuning, deadline: float) -> None:
    """The taste factors' weight, kept only when the blend with them is clearly better
    (:data:`FACTORS_MIN_GAIN`, :data:`FACTORS_NOISE_SE`) than without."""
    if "factors" not in judge.weights:
        return
    before = judge.snapshot()
    _tune_weights(judge, out, deadline, rounds=1, signals=("factors",), stage="taste factors")
    if judge.weights["factors"] != before.weights["factors"] and not judge.clearly_better(
        before, FACTORS_MIN_GAIN, FACTORS_NOISE_SE
    ):
        judge.restore(before)
        out.notes.append(
            f"taste factors left out: no clear gain on validation (under {FACTORS_MIN_GAIN:.0%}"
            f" or within {FACTORS_NOISE_SE:g} standard errors)"
        )


def _tune_params(
    judge: Judge, out: Tuning, deadline: float, stage: str = "recency and dislikes"
) -> None:
    """The ranker's query-time recency and dislike weight (each combination of the grids)."""
    trials: list[dict[str, object]] = []
    out.trials[stage] = trials
    for decay, floor in RECENCY:
        for dislike in DISLIKE:
            if time.perf_counter() > deadline:
                out.notes.append(f"{stage}: cut short by the time budget")
                return
            candidate = {"recency_decay": decay, "recency_floor": floor, "dislike_weight": dislike}
            value = judge.consider(candidate, judge.weights)
            trials.append({"setting": candidate, "value": round(value, 4)})


def _tune_weights(
    judge: Judge, out: Tuning, deadline: float, rounds: int = 2, stage: str = "blend weights",
    signals: tuple[str, ...] | None = None,
) -> None:  # fmt: skip
    """Coordinate ascent over :data:`WEIGHT_LADDER` for ``signals`` (``None``: all but the
    collaborative one, whose weight stays: only ratios matter)."""
    collab = judge.weights.get("collab", 0.0) or 1.0
    trials: list[dict[str, object]] = []
    out.trials[stage] = trials
    order = signals if signals is not None else tuple(judge.weights)
    names = [n for n in order if n != "collab" and n in judge.weights]
    for _ in range(rounds):
        before = judge.best
        for name in names:
            for step in WEIGHT_LADDER:
                if time.perf_counter() > deadline:
                    out.notes.append(f"{stage}: cut short by the time budget")
                    return
                weight = step * collab
                if abs(weight - judge.weights[name]) < 1e-9:
                    continue
                value = judge.consider(judge.params, {**judge.weights, name: weight})
                trials.append({"setting": {name: round(weight, 4)}, "value": round(value, 4)})
        if judge.best == before:
            break
