"""How many ratings and tags each synthetic user gets, and how users are cut into chunks.

Counts only: which movies a user rates is :mod:`core.data.synth.ratings`.
"""

from __future__ import annotations

import math

import numpy as np

from core.data.synth.movies import TAG_SLOTS

#: MovieLens keeps users with at least this many ratings.
MIN_USER_RATINGS = 20


def _allocate(total: int, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights``, each at most its cap.

    Water-filling: users at their cap drop out and the rest is shared again; the last units go
    by largest remainder. Assumes ``total <= caps[weights > 0].sum()``.
    """
    alloc = np.zeros(len(weights), dtype=np.int64)
    remaining = int(total)
    while remaining > 0:
        active = np.flatnonzero((alloc < caps) & (weights > 0))
        share = remaining * weights[active] / weights[active].sum()
        add = np.minimum(np.floor(share).astype(np.int64), caps[active] - alloc[active])
        if add.sum() == 0:  # every share is below one: hand out the remainder
            order = np.argsort(-(share - np.floor(share)), kind="stable")[:remaining]
            add = np.zeros(len(active), dtype=np.int64)
            add[order] = 1
        alloc[active] += add
        remaining -= int(add.sum())
    return alloc


def user_counts(users: int, movies: int, ratings: int, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: a floor of 20 (or what the total allows) plus a log-normal share."""
    floor = min(MIN_USER_RATINGS, ratings // users, movies)
    # sigma 1.45 gives MovieLens's ratio of mean to median activity (~165 / ~70 with floor 20).
    weights = rng.lognormal(0.0, 1.45, users)
    # The busiest ml-32m user rated ~40% of the movies; allow more only when the total needs it.
    cap = min(movies, max(math.ceil(0.4 * movies), math.ceil(ratings / users)))
    caps = np.full(users, cap - floor, dtype=np.int64)
    return floor + _allocate(ratings - floor * users, weights, caps)


def tag_counts(per_user: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Tags per user: ~8% of users tag (heavy-tailed, more from heavy raters), as in MovieLens."""
    if total == 0:
        return np.zeros(len(per_user), dtype=np.int64)
    caps = per_user * TAG_SLOTS
    weights = rng.lognormal(0.0, 1.5, len(per_user)) * np.sqrt(per_user)
    taggers = rng.random(len(per_user)) < 0.08
    if not taggers.any() or caps[taggers].sum() < total:
        taggers[:] = True  # too few taggers for the requested number: everyone tags
    return _allocate(total, np.where(taggers, weights, 0.0), caps)


def chunk_bounds(per_user: np.ndarray, chunk_ratings: int) -> np.ndarray:
    """User index bounds of chunks holding about ``chunk_ratings`` ratings each."""
    ends = np.cumsum(per_user)
    cuts = np.searchsorted(ends, np.arange(chunk_ratings, ends[-1], chunk_ratings), side="left")
    return np.unique(np.concatenate([[0], cuts + 1, [len(per_user)]]))
