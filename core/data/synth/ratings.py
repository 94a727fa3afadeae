"""Synthetic ratings per chunk of users: taste, picked movies, timestamps, scores, stars, tags.

Vectorised NumPy per chunk; it never touches files (:mod:`core.data.synth.writer` does).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.synth.movies import GENRE_SHARES, GENRES, TAG_SLOTS
from core.data.synth.plan import MIN_USER_RATINGS
from core.data.synth.world import FIRST_TIME, LAST_TIME, N_FACTORS, World

#: Rating shares by star (0.5 .. 5.0) in ml-latest-small after half stars were introduced.
HALF_STAR_SHARES = np.array(
    [0.0191, 0.0196, 0.0249, 0.0590, 0.0773, 0.1547, 0.1829, 0.2424, 0.1190, 0.1011]
)
#: Rating shares by star (1 .. 5) in ml-latest-small before (whole stars only).
WHOLE_STAR_SHARES = np.array([0.0484, 0.1142, 0.3081, 0.3243, 0.2050])
#: Half-star ratings exist on MovieLens from this date on.
HALF_STARS_FROM = int(dt.datetime(2003, 2, 18, tzinfo=dt.UTC).timestamp())

# Selection clusters: 0 = mainstream (popularity only), then one per genre, then the scenes.
# User taste: share of "mainstream" draws ~ Beta(a, b); Dirichlet-like concentrations of the
# genre and scene preferences (small = peaked on a few); weight of scenes against genres.
# Why these values (tuned against ml-latest-small): docs/experiments/data.md ("Taste tuning").
_MAINSTREAM_BETA = (1.0, 12.0)
_GENRE_ALPHA = 0.04
_SCENE_ALPHA = 0.04
_SCENE_WEIGHT = 8.0


@dataclass
class Chunk:
    """One chunk's ratings, sorted by user then movie (index = release order)."""

    user: np.ndarray  # int64 local user index (0 .. users in chunk - 1)
    items: np.ndarray  # int64 movie index
    stamps: np.ndarray  # int64
    base: np.ndarray  # float32 user bias + movie bias + noise
    dot: np.ndarray  # float32 taste dot product (unscaled; see World.dot_scale)

    def score(self, world: World) -> np.ndarray:
        """Latent rating score; stars come from it through the calibrated thresholds."""
        return self.base + np.float32(world.dot_scale) * self.dot


def make_chunk(world: World, per_user: np.ndarray, rng: np.random.Generator) -> Chunk:
    """A block of users with ``per_user`` ratings each: their movies, times and scores."""
    n_users = len(per_user)
    # Taste: a mainstream share plus peaked preferences over genres and scenes (Dirichlet with
    # small concentration, so most users favour a few of them).
    taste = np.empty((n_users, world.n_clusters))
    taste[:, 0] = rng.beta(*_MAINSTREAM_BETA, n_users)
    genre_pref = rng.gamma(_GENRE_ALPHA * len(GENRES) * GENRE_SHARES / GENRE_SHARES.sum(),
                           size=(n_users, len(GENRES)))  # fmt: skip
    scene_pref = rng.gamma(_SCENE_ALPHA, size=(n_users, world.n_scenes))
    topics = np.concatenate([genre_pref, scene_pref * _SCENE_WEIGHT], axis=1) + 1e-12
    topics /= topics.sum(axis=1, keepdims=True)
    taste[:, 1:] = (1.0 - taste[:, :1]) * topics
    # Rating model of the users: bias and factors (taste topics mapped like the movies').
    bias = rng.normal(0.0, 0.45, n_users).astype(np.float32)
    factors = (topics @ world.topic_map + rng.normal(0.0, 0.8, (n_users, N_FACTORS))).astype(
        np.float32
    )

    start, end = _activity(per_user, rng)
    # Candidates: movies released before the user's last rating, but at least 3x the user's
    # count (pushing the end later) so no user has to rate nearly all of a small prefix.
    prefix = np.searchsorted(world.release, end, side="right")
    prefix = np.maximum(prefix, np.minimum(world.n, 3 * per_user))
    end = np.maximum(end, world.release[prefix - 1])  # later only if the prefix was extended
    start = np.minimum(start, end)

    user, items = _pick_movies(world, taste, prefix, per_user, rng)
    stamps = _timestamps(world, user, items, start, end, rng)
    base, dot = _scores(world, bias, factors, user, items, rng)
    return Chunk(user=user, items=items, stamps=stamps, base=base, dot=dot)


def _activity(per_user: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Start and end time of each user's activity in 1996-2023.

    About half the MovieLens users rate everything in one sitting (median span ~1 hour in
    ml-latest-small); the rest come back over months or years. Heavy users stay longer.
    """
    n = len(per_user)
    one_sitting = rng.random(n) < 0.55
    span = np.where(
        one_sitting,
        rng.lognormal(np.log(1200.0), 1.0, n),
        rng.lognormal(np.log(30 * 86400.0), 1.8, n),
    ) * np.sqrt(per_user / MIN_USER_RATINGS)
    span = np.clip(np.maximum(span, 20.0 * per_user), 60.0, LAST_TIME - FIRST_TIME).astype(np.int64)
    start = FIRST_TIME + (rng.random(n) * (LAST_TIME - FIRST_TIME - span)).astype(np.int64)
    return start, start + span


def _pick_movies(
    world: World,
    taste: np.ndarray,
    prefix: np.ndarray,
    per_user: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct movies per user, drawn by taste-weighted popularity within the user's prefix.

    Each draw picks a cluster from the user's taste, then a movie from that cluster's
    popularity restricted to the prefix: one ``searchsorted`` on the clusters' stacked,
    normalised running sums serves every draw of the chunk. Repeats are dropped and the
    shortfall redrawn (keeping draws in order, this is sampling without replacement), each
    round oversampling by the user's last acceptance rate. Users for whom that would cost more
    draws than their prefix has movies -- niche fans who exhausted their niche's popular
    movies -- are finished exactly with Gumbel top-k over the prefix instead.

    Returns the local user index and movie index of each rating, sorted by user then movie.
    """
    n_users, n = len(per_user), world.n
    cum_taste = np.cumsum(taste, axis=1)
    cum_taste /= cum_taste[:, -1:]
    taste_flat = (np.arange(n_users)[:, None] + cum_taste).ravel()
    # Fraction of each cluster's weight inside each user's prefix: the draw's upper bound.
    inside = world.share(prefix)  # (clusters, users)

    keys = np.empty(0, dtype=np.int64)  # user * n + movie of accepted draws, in draw order
    settled = []  # keys of users who need no more draws (kept out of the repeated dedup)
    have = np.zeros(n_users, dtype=np.int64)
    accept = np.ones(n_users)  # share of last round's draws that were new movies
    # Users rating a large share of their prefix go straight to the exact method.
    exact = per_user > 0.3 * prefix
    for _round in range(8):
        need = np.where(exact, 0, per_user - have)
        draws = np.ceil((need + 2) * 1.25 / accept).astype(np.int64) * (need > 0)
        # A draw costs about as much as one movie of the exact method: switch when cheaper.
        exact |= draws > prefix // 2
        draws[exact] = 0
        if not draws.any():
            break
        who = np.repeat(np.arange(n_users), draws)
        cluster = np.searchsorted(taste_flat, who + rng.random(len(who)), side="right")
        cluster = np.clip(cluster - who * world.n_clusters, 0, world.n_clusters - 1)
        target = cluster + rng.random(len(who)) * inside[cluster, who]
        movie = _sorted_search(world.flat, target) - cluster * n
        movie = np.clip(movie, 0, prefix[who] - 1)
        keys = _first_distinct(np.concatenate([keys, who * n + movie]), n, per_user)
        drawn = draws > 0
        before = have.copy()
        have[drawn] = np.bincount(keys // n, minlength=n_users)[drawn]
        accept[drawn] = np.maximum(have[drawn] - before[drawn], 0.5) / draws[drawn]
        active = (have < per_user)[keys // n]
        settled.append(keys[~active])
        keys = keys[active]
    keys = np.concatenate([*settled, keys])
    short = np.flatnonzero(have < per_user)
    if len(short):
        keys = np.sort(keys)
        extra = _gumbel_fill(world, taste, prefix, per_user, have, keys, short, rng)
        keys = np.concatenate([keys, extra])
    keys = np.sort(keys)
    return keys // n, keys % n


def _sorted_search(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``searchsorted(table, values, side="right")``, several times faster for large random
    ``values``: searching them in sorted order keeps the table's cache lines warm."""
    order = np.argsort(values)
    found = np.empty(len(values), dtype=np.int64)
    found[order] = np.searchsorted(table, values[order], side="right")
    return found


def _first_distinct(keys: np.ndarray, n: int, per_user: np.ndarray) -> np.ndarray:
    """Keep the first occurrence of each key, then each user's first ``per_user`` ones.

    ``keys`` is in draw order; the result stays in draw order (by user).
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    kept = np.sort(order[first])  # positions of first occurrences, in draw order
    keys = keys[kept]
    user = keys // n
    by_user = np.argsort(user, kind="stable")  # draw order within each user
    user_sorted = user[by_user]
    starts = np.searchsorted(user_sorted, user_sorted, side="left")
    rank = np.arange(len(user_sorted)) - starts
    return keys[by_user[rank < per_user[user_sorted]]]


def _gumbel_fill(
    world: World,
    taste: np.ndarray,
    prefix: np.ndarray,
    per_user: np.ndarray,
    have: np.ndarray,
    keys: np.ndarray,
    short: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The missing movies of the ``short`` users, exactly: Gumbel top-k over each prefix.

    ``keys`` (sorted ``user * n + movie``) are the movies already taken. Users are handled in
    blocks so the (users x movies) probability matrix is one BLAS product of bounded size.
    """
    n = world.n
    weights = world.weights()
    starts = np.searchsorted(keys, short * n)
    out = []
    block = max(1, 4_000_000 // n)
    for lo in range(0, len(short), block):
        users = short[lo : lo + block]
        width = int(prefix[users].max())
        # A user's draw distribution: the taste mixture of each cluster's prefix-normalised
        # weights (what the rejection rounds sample from).
        mix = (taste[users] / world.share(prefix[users]).T).astype(np.float32)
        with np.errstate(divide="ignore"):
            scores = np.log(mix @ weights[:, :width]) + rng.gumbel(size=(len(users), width))
        for row, u in enumerate(users.tolist()):
            row_scores = scores[row, : prefix[u]]
            pos = int(starts[lo + row])
            row_scores[keys[pos : pos + have[u]] - u * n] = -np.inf
            need = int(per_user[u] - have[u])
            out.append(u * n + np.argpartition(-row_scores, need - 1)[:need])
    return np.concatenate(out)


def _timestamps(
    world: World,
    user: np.ndarray,
    items: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Non-decreasing times per user (in movie order), never before a movie's release."""
    span = (end - start)[user]
    offset = (rng.random(len(user)) * span).astype(np.int64)
    # Sort each user's random offsets: user index in the high bits keeps users apart.
    offset = np.sort((user << 34) + offset) - (user << 34)
    stamps = start[user] + offset
    # Not before release (plus up to a few weeks for it to reach the viewer, within the user's
    # activity), then monotone again.
    seen = world.release[items] + rng.integers(0, 30 * 86400, len(items))
    stamps = np.maximum(stamps, np.minimum(seen, end[user]))
    return np.maximum.accumulate((user << 34) + stamps) - (user << 34)


def _scores(
    world: World,
    bias: np.ndarray,
    factors: np.ndarray,
    user: np.ndarray,
    items: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Latent rating score parts: user bias + movie bias + noise, and the taste dot product."""
    dot = np.empty(len(user), dtype=np.float32)
    for lo in range(0, len(user), 250_000):  # bounded temporaries
        hi = min(lo + 250_000, len(user))
        dot[lo:hi] = np.einsum("ij,ij->i", factors[user[lo:hi]], world.factors[items[lo:hi]])
    base = bias[user] + world.bias[items]
    base += rng.normal(0.0, 0.75, len(user)).astype(np.float32)
    return base, dot


def calibrate(world: World, per_user: np.ndarray, rng: np.random.Generator) -> None:
    """Fix the taste scale and the star thresholds from a pilot sample of the same model.

    The taste term is scaled to a standard deviation of 0.6 (user and movie biases 0.45 and
    0.35, noise 0.75: MovieLens-like spreads of user and movie means, plus a clear taste
    signal). The thresholds are the pilot scores' quantiles at the MovieLens rating shares, so
    the written distribution matches MovieLens whatever the sizes. The pilot (~200k ratings of
    users drawn like the real ones) is never written.
    """
    # Whole users in random order up to ~200k ratings: heavy users weigh in the pilot as in the
    # output (they rate more of the long tail, which scores lower).
    shuffled = per_user[rng.permutation(len(per_user))]
    sample = shuffled[: max(1, int(np.searchsorted(np.cumsum(shuffled), 200_000)))]
    pilot = make_chunk(world, sample, rng)
    world.dot_scale = float(0.6 / max(float(pilot.dot.std()), 1e-9))
    scores = pilot.score(world).astype(np.float64)
    world.half_cuts = np.quantile(scores, np.cumsum(HALF_STAR_SHARES)[:-1])
    world.whole_cuts = np.quantile(scores, np.cumsum(WHOLE_STAR_SHARES)[:-1])


def stars(world: World, chunk: Chunk) -> np.ndarray:
    """Rating code 0..9 (0.5 .. 5.0 stars): whole stars before 18 Feb 2003, half after."""
    assert world.half_cuts is not None and world.whole_cuts is not None
    score = chunk.score(world)
    half = np.searchsorted(world.half_cuts, score)  # 0..9
    whole = 2 * np.searchsorted(world.whole_cuts, score) + 1  # 1, 3, .. 9
    return np.where(chunk.stamps < HALF_STARS_FROM, whole, half).astype(np.int8)


def make_tags(
    world: World,
    first_user: int,
    chunk: Chunk,
    per_user_tags: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Tag rows of a chunk: each tagger tags random movies they rated, minutes after rating.

    A user's ``k``-th pass over their movies uses the next tag slot, so (user, movie, tag)
    never repeats (a user tags at most ``TAG_SLOTS`` times per rated movie).
    """
    taggers = np.flatnonzero(per_user_tags)
    if not len(taggers):
        return pd.DataFrame(columns=["userId", "movieId", "tag", "timestamp"])
    counts = np.bincount(chunk.user, minlength=len(per_user_tags))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    events = per_user_tags[taggers]
    who = np.repeat(taggers, events)
    nth = np.arange(len(who)) - np.repeat(np.cumsum(events) - events, events)
    # A random order of each tagger's ratings: sort their rows by a random key.
    rows = np.concatenate([np.arange(starts[u], starts[u] + counts[u]) for u in taggers.tolist()])
    owner = chunk.user[rows]
    rows = rows[np.lexsort((rng.random(len(rows)), owner))]
    tagger_start = np.concatenate([[0], np.cumsum(counts[taggers])[:-1]])
    slot_of_user = np.repeat(tagger_start, events)
    position = slot_of_user + nth % counts[who]
    row = rows[position]
    # The first tag slot is fixed per (user, movie), skewed to the most characteristic tag;
    # later passes take the following slots, so the tags of one pair stay distinct.
    first_slot = np.minimum(rng.geometric(0.45, len(rows)) - 1, TAG_SLOTS - 1)
    slot = (first_slot[position] + nth // counts[who]) % TAG_SLOTS
    items = chunk.items[row]
    stamps = np.minimum(chunk.stamps[row] + rng.integers(5, 3600, len(row)), LAST_TIME)
    frame = pd.DataFrame(
        {
            "userId": (who + first_user + 1).astype(np.int32),
            "movieId": world.movie_ids[items],
            "tag": world.tag_vocab[world.tag_slots[items, slot]],
            "timestamp": stamps,
        }
    )
    return frame.sort_values(["userId", "movieId", "timestamp"], kind="stable")
