"""The latent movie world of synthetic data: release dates, genres, scenes, popularity, factors.

Everything per movie that the per-user rating chunks need; it writes nothing and knows no users.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from core.data.synth.movies import GENRE_SHARES, GENRES, movie_tags

FIRST_TIME = int(dt.datetime(1996, 1, 1, tzinfo=dt.UTC).timestamp())
LAST_TIME = int(dt.datetime(2023, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())
FIRST_YEAR, LAST_YEAR = 1902, 2023

#: Hidden audience niches ("scenes") besides the genres; each movie belongs to one. Genres
#: are broad (Drama is on 45% of movies); niches give the fine co-rating structure real data
#: has (series, eras, styles), which is what top-N recommenders learn. About one per
#: ``MOVIES_PER_SCENE`` movies, within ``SCENES_RANGE``.
MOVIES_PER_SCENE = 300
SCENES_RANGE = (4, 100)
#: Latent factor dimension of the rating model.
N_FACTORS = 16

# Movie popularity ~ (rank + 1 + offset * movies) ** -exponent.
_ZIPF_EXPONENT = 1.3
_ZIPF_OFFSET = 0.004
# Share of a genre/scene cluster's draws that go to off-topic movies: small but non-zero, so
# every cluster can reach every movie (no empty prefix) while staying mostly on-topic.
_OFF_TOPIC = 0.01


@dataclass
class World:
    """Everything about the movies that the per-user chunks need (index = release order)."""

    n: int
    movie_ids: np.ndarray  # int32, increasing
    release: np.ndarray  # int64 release timestamp, non-decreasing
    year: np.ndarray  # int16
    genres: np.ndarray  # bool (n, 19)
    scene: np.ndarray  # int16 scene (niche) of each movie
    log_pop: np.ndarray  # float64 log popularity
    bias: np.ndarray  # float32 movie rating bias
    factors: np.ndarray  # float32 (n, N_FACTORS)
    topic_map: np.ndarray  # float64 (topics, N_FACTORS): how topics become taste factors
    # float64 (clusters * n): cluster c's running share of selection weight, plus c (so one
    # searchsorted serves every cluster); row c of ``flat.reshape(clusters, n)`` rises from c
    # to c + 1. Cluster 0 is "mainstream", then one per genre, then the scenes.
    flat: np.ndarray
    tag_vocab: np.ndarray  # object array of tag strings
    tag_slots: np.ndarray  # int16 (n, TAG_SLOTS) indices into tag_vocab, best first
    n_scenes: int
    # Set by calibrate: scale of the taste term and the score thresholds between stars.
    dot_scale: float = 1.0
    half_cuts: np.ndarray | None = None  # 9 thresholds -> 0.5 .. 5.0
    whole_cuts: np.ndarray | None = None  # 4 thresholds -> 1 .. 5
    _weights: np.ndarray | None = None  # cache of :meth:`weights`

    @property
    def n_topics(self) -> int:
        """Genres + scenes (the dimensions of a taste)."""
        return len(GENRES) + self.n_scenes

    @property
    def n_clusters(self) -> int:
        """Mainstream + topics."""
        return 1 + self.n_topics

    def weights(self) -> np.ndarray:
        """float32 (clusters, n): each cluster's normalised selection weight per movie.

        Only the exact (Gumbel) fill needs it; computed on first use, then kept.
        """
        if self._weights is None:
            grid = self.flat.reshape(self.n_clusters, self.n)
            weights = np.empty(grid.shape, dtype=np.float32)
            weights[:, 0] = grid[:, 0] - np.arange(self.n_clusters)
            weights[:, 1:] = np.diff(grid, axis=1)
            self._weights = weights
        return self._weights

    def share(self, prefix: np.ndarray | int) -> np.ndarray:
        """Each cluster's share of selection weight in the first ``prefix`` movies."""
        grid = self.flat.reshape(self.n_clusters, self.n)
        return grid[:, np.asarray(prefix) - 1] - np.arange(self.n_clusters).reshape(
            (-1,) + (1,) * np.ndim(prefix)
        )


def make_world(n: int, rng: np.random.Generator) -> World:
    """Draw the movies: release dates, genres, scenes, popularity, biases, factors, tags."""
    # Release years skew recent (MovieLens: median around 2000-2008); day within the year.
    age = np.floor(rng.exponential(22.0, n)).astype(np.int64)
    year = np.clip(LAST_YEAR - age, FIRST_YEAR, LAST_YEAR)
    year_start = _year_starts()[year - FIRST_YEAR]
    release = year_start + rng.integers(0, 365 * 86400, n)
    # Index = release order, so a user's candidate movies are always a prefix (see make_chunk)
    # and sorting by movieId is sorting by release.
    order = np.argsort(release, kind="stable")
    release, year = release[order], year[order].astype(np.int16)
    # Ids from 1 with occasional gaps (MovieLens ids skip removed movies).
    movie_ids = np.cumsum(rng.geometric(0.7, n))
    movie_ids = (movie_ids - movie_ids[0] + 1).astype(np.int32)

    # 1-6 genres (mean ~2.3 as in MovieLens), picked by weight without replacement
    # (Gumbel top-k); 0.35% of movies have none, as in ml-latest-small.
    count = np.minimum(1 + rng.poisson(1.3, n), 6)
    keys = np.log(GENRE_SHARES)[None, :] + rng.gumbel(size=(n, len(GENRES)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    genres = rank < count[:, None]
    genres[rng.random(n) < 0.0035] = False
    n_scenes = int(np.clip(round(n / MOVIES_PER_SCENE), *SCENES_RANGE))
    scene = rng.integers(0, n_scenes, n).astype(np.int16)

    # Zipf-like popularity over a random ranking; the offset flattens the head so the top
    # movie is rated by a third to a half of the users, not by nearly all (as in MovieLens).
    pop_rank = rng.permutation(n)
    log_pop = -_ZIPF_EXPONENT * np.log(pop_rank + 1.0 + _ZIPF_OFFSET * n)
    log_pop += rng.normal(0.0, 0.3, n)  # no two catalogues with the exact same curve

    # Topic vector: genres share one unit, the scene adds one; taste factors come from topics
    # through a random map plus a hidden part, so ratings follow genres but not only genres.
    # (Computed per part: a dense movies x topics matrix would dominate the peak memory.)
    n_topics = len(GENRES) + n_scenes
    topic_map = rng.normal(0.0, 1.0, (n_topics, N_FACTORS))
    genre_share = genres / np.maximum(genres.sum(axis=1, keepdims=True), 1)
    factors = genre_share @ topic_map[: len(GENRES)] + topic_map[len(GENRES) + scene]
    factors = (factors + rng.normal(0.0, 0.8, (n, N_FACTORS))).astype(np.float32)
    # Popular movies are rated a little higher on average, as in MovieLens.
    z_pop = (log_pop - log_pop.mean()) / (log_pop.std() + 1e-9)
    bias = (rng.normal(0.0, 0.35, n) + 0.15 * z_pop).astype(np.float32)

    # Selection weights per cluster: popularity, times a small factor for off-topic movies that
    # gives them _OFF_TOPIC of the cluster's total weight.
    pop = np.exp(log_pop - log_pop.max())
    on_mass = np.concatenate([pop @ genres, np.bincount(scene, weights=pop, minlength=n_scenes)])
    off_mass = pop.sum() - on_mass
    # A cluster without on-topic movies (tiny catalogues) falls back to plain popularity.
    off_weight = np.where(on_mass > 0, _OFF_TOPIC * on_mass / np.maximum(off_mass, 1e-300), 1.0)
    weights = np.empty((1 + n_topics, n))
    weights[0] = pop
    np.multiply(off_weight[:, None], pop[None, :], out=weights[1:])
    genre_of, movie_of = np.nonzero(genres.T)
    weights[1 + genre_of, movie_of] = pop[movie_of]
    weights[1 + len(GENRES) + scene, np.arange(n)] = pop
    cum = np.cumsum(weights, axis=1, out=weights)
    cum /= cum[:, -1:]
    cum += np.arange(1 + n_topics)[:, None]
    flat = cum.ravel()

    vocab, slots = movie_tags(genres, scene, n_scenes, rng)
    return World(
        n=n, movie_ids=movie_ids, release=release, year=year, genres=genres, scene=scene,
        log_pop=log_pop, bias=bias, factors=factors, topic_map=topic_map, flat=flat,
        tag_vocab=vocab, tag_slots=slots, n_scenes=n_scenes,
    )  # fmt: skip


def _year_starts() -> np.ndarray:
    return np.array(
        [dt.datetime(y, 1, 1, tzinfo=dt.UTC).timestamp() for y in range(FIRST_YEAR, LAST_YEAR + 2)],
        dtype=np.int64,
    )
