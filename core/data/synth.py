"""Synthetic MovieLens-style data sets, for benchmarks and scale tests only.

:func:`generate` writes a folder in the CSV layout of ml-latest / ml-25m / ml-32m
(``movies.csv``, ``ratings.csv``, ``tags.csv``, ``links.csv``) that
:func:`core.data.loaders.load_catalog` reads like the real thing, at any size up to tens of millions
of ratings, in minutes and in bounded memory. The folder also gets a ``README.txt`` saying it
is synthetic and a ``synth.json`` marker with the parameters, so it is never mistaken for real
data and can be regenerated in place. Nothing in the app uses it unless pointed at it.

The shape follows MovieLens (numbers measured on ml-latest-small, see ``_HALF_STAR_SHARES``):

* **Movies** get a release year (skewed to recent decades), 1-6 of the 19 MovieLens genres
  (about 2.3 on average, or ``(no genres listed)``), a distinct made-up title in MovieLens form
  (``"Quiet River, The (1997)"``), a hidden "scene" (audience niche) and a Zipf-like popularity.
  movieIds grow with the release date, with gaps, as MovieLens ids roughly do.
* **Users** rate a long-tailed number of movies (log-normal; at least 20 each when the total
  allows, as in MovieLens). Which movies: a mixture of "mainstream" (popularity only) and the
  user's favourite genres and scenes, so *what* a user rated carries a taste signal a top-N
  recommender can learn; only movies released before the end of the user's activity.
* **Ratings** come from a latent-factor model: user bias + movie bias + a dot product of
  low-dimensional taste vectors (built from the genres and scenes plus a hidden part) + noise.
  The score is mapped to stars by fixed thresholds so the overall distribution matches
  MovieLens: whole stars before half stars existed (18 Feb 2003), half stars after (mode 4.0,
  mean about 3.5).
* **Timestamps** lie in 1996-2023; each user is active over a period (often a single session,
  sometimes years), rates in movieId order with non-decreasing times, and never before a
  movie's release.
* **Tags** come from a small share of users (heavy-tailed), on movies they rated, from a
  vocabulary tied to genres and scenes ("space", "twist ending", "atmospheric").

Scale: users are generated in chunks of about ``chunk_ratings`` ratings (vectorised NumPy per
chunk) and appended to the CSV files with pyarrow's writer, so memory does not grow with the
number of ratings. Output is byte-identical for a seed (same chunk size and NumPy version).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from core.errors import DataError, WorkbenchError

#: Progress callback (the engine's signature): a short message and the fraction done, 0..1.
Progress = Callable[[str, float], None]


class SynthError(WorkbenchError):
    """Arguments that cannot describe a synthetic data set (``str(err)`` says why)."""


#: The 19 MovieLens genres, in the order of the genre columns used below.
GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
NO_GENRES = "(no genres listed)"

#: Share of movies with each genre in ml-latest-small (drives how often a genre is drawn).
_GENRE_SHARES = np.array([
    0.188, 0.130, 0.063, 0.068, 0.386, 0.123, 0.045, 0.448, 0.080, 0.009, 0.100, 0.016, 0.034,
    0.059, 0.164, 0.101, 0.194, 0.039, 0.017,
])  # fmt: skip

#: Rating shares by star (0.5 .. 5.0) in ml-latest-small after half stars were introduced.
_HALF_STAR_SHARES = np.array(
    [0.0191, 0.0196, 0.0249, 0.0590, 0.0773, 0.1547, 0.1829, 0.2424, 0.1190, 0.1011]
)
#: Rating shares by star (1 .. 5) in ml-latest-small before (whole stars only).
_WHOLE_STAR_SHARES = np.array([0.0484, 0.1142, 0.3081, 0.3243, 0.2050])
#: Half-star ratings exist on MovieLens from this date on.
HALF_STARS_FROM = int(dt.datetime(2003, 2, 18, tzinfo=dt.UTC).timestamp())

FIRST_TIME = int(dt.datetime(1996, 1, 1, tzinfo=dt.UTC).timestamp())
LAST_TIME = int(dt.datetime(2023, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())
FIRST_YEAR, LAST_YEAR = 1902, 2023

#: MovieLens keeps users with at least this many ratings.
MIN_USER_RATINGS = 20
#: Default number of tags per rating (ml-25m has 4.4%, ml-latest-small 3.7%).
DEFAULT_TAG_RATE = 0.04
#: Hidden audience niches ("scenes") besides the genres; each movie belongs to one. Genres
#: are broad (Drama is on 45% of movies); niches give the fine co-rating structure real data
#: has (series, eras, styles), which is what top-N recommenders learn. About one per
#: ``MOVIES_PER_SCENE`` movies, within ``SCENES_RANGE``.
MOVIES_PER_SCENE = 300
SCENES_RANGE = (4, 100)
#: Latent factor dimension of the rating model.
N_FACTORS = 16
#: Candidate tags kept per movie (most characteristic first).
TAG_SLOTS = 6
#: Upper limits that keep the per-movie tables (clusters x movies floats) and ids reasonable.
MAX_MOVIES = 300_000
MAX_USERS = 20_000_000
MAX_RATINGS = 2_000_000_000
#: Default ratings per chunk: ~1M keeps the peak a few hundred MB and NumPy calls large.
CHUNK_RATINGS = 1_000_000

# Movie popularity ~ (rank + 1 + offset * movies) ** -exponent.
_ZIPF_EXPONENT = 1.3
_ZIPF_OFFSET = 0.004
# Selection clusters: 0 = mainstream (popularity only), then one per genre, then the scenes.
# User taste: share of "mainstream" draws ~ Beta(a, b); Dirichlet-like concentrations of the
# genre and scene preferences (small = peaked on a few); weight of scenes against genres.
# Tuned so that, at the ml-latest-small shape (610 users, 9,742 movies, 100k ratings) and a
# random 20% holdout, EASE's recall@10 is ~2x most-popular's, as on the real data (0.37 vs
# 0.18), with the top 10% of movies holding ~50-60% of the ratings (real: 60%).
_MAINSTREAM_BETA = (1.0, 12.0)
_GENRE_ALPHA = 0.04
_SCENE_ALPHA = 0.04
_SCENE_WEIGHT = 8.0
# Share of a genre/scene cluster's draws that go to off-topic movies: small but non-zero, so
# every cluster can reach every movie (no empty prefix) while staying mostly on-topic.
_OFF_TOPIC = 0.01

_RATING_LABELS = pa.array([f"{k / 2:.1f}" for k in range(1, 11)])  # "0.5" .. "5.0"
_RATING_TYPE = pa.dictionary(pa.int8(), pa.string())
_RATINGS_SCHEMA = pa.schema(
    [
        ("userId", pa.int32()),
        ("movieId", pa.int32()),
        ("rating", _RATING_TYPE),
        ("timestamp", pa.int64()),
    ]
)
# Files this module writes; a folder holding only these plus the marker may be overwritten.
_MARKER = "synth.json"
_OUTPUT_FILES = ("movies.csv", "ratings.csv", "tags.csv", "links.csv", "README.txt", _MARKER)

# --------------------------------------------------------------------------- vocabularies


def _words(text: str) -> tuple[str, ...]:
    """The distinct words of a block of text, in order (word lists read better as prose)."""
    return tuple(dict.fromkeys(text.split()))


_ADJECTIVES = _words("""
Quiet Silent Broken Hidden Golden Silver Crimson Scarlet Burning Frozen Distant Endless Last
Lost Wild Bitter Sweet Dark Bright Hollow Restless Wandering Sleeping Forgotten Secret Savage
Gentle Lonely Little Long Cold Warm Final Midnight Electric Paper Glass Iron Stone Velvet Blue
Red Black White Green Pale Faded Shining Falling Rising Fallen Stolen Perfect Strange Eternal
Fearless Reckless Brave Crooked Empty Open Narrow Deep Hungry Sacred Wicked Fragile Invisible
Borrowed Second Northern Southern Western Eastern Lucky Careless Painted Whispering Drowning
Tender Rusty Shattered Burning Marble Neon Amber Copper Winter Summer Autumn Spring Morning
Evening Twilight Desert Ocean Mountain Summer Thunder Lightning Bitterroot Gilded Wounded
Honest Dangerous Beautiful Ordinary Impossible Unfinished Unspoken Nameless Breathless
""")
_NOUNS = _words("""
River Road City Heart Storm Shadow Garden House Dream Night Sky Sea Island Train Bridge Kingdom
Mirror Window Letter Promise Secret Song Summer Winter Harbor Valley Forest Fire Rain Snow Moon
Sun Star Stranger Witness Soldier Queen King Daughter Son Brother Sister Mother Father Widow
Hunter Thief Angel Ghost Machine Engine Empire Frontier Horizon Tide Wave Wind Voice Silence
Echo Memory Lie Truth Game Hour Season Journey Return Escape Crossing Station Hotel Circus
Carnival Orchard Lighthouse Canyon Prairie Harvest Ballad Waltz Symphony Requiem Whisper Kiss
Affair Wedding Funeral Reunion Inheritance Verdict Alibi Ransom Contract Signal Code Cipher
Orbit Planet Comet Galaxy Colony Outpost Fortress Tower Castle Palace Cathedral Temple Labyrinth
Maze Tunnel Chamber Cellar Attic Kitchen Diner Motel Highway Avenue Boulevard Alley Rooftop
Pier Shore Reef Lagoon Glacier Volcano Jungle Swamp Meadow Field Vineyard Ranch Mine Quarry
Factory Office Courtroom Precinct Academy Campus Hospital Asylum Prison Border Exile Refuge
Heist Chase Gambit Bargain Wager Debt Fortune Treasure Crown Sword Arrow Shield Compass Lantern
""")
_NAMES = _words("""
Anna Ben Clara David Elena Frank Grace Henry Iris Jack Kate Leo Maria Nina Oscar Paul Rosa Sam
Tom Vera Walter Zoe Alice Arthur Billy Charlie Daisy Eddie Fiona George Hannah Isaac Julia Lucy
Max Molly Nora Oliver Peter Ruby Simon Toby Violet Wendy Martha Harold Louise Victor
""")
_PLACES = _words("""
Paris Lisbon Berlin Tokyo Harlem Brooklyn Texas Montana Alaska Havana Cairo Vienna Rome Venice
Dublin Chicago Memphis Nevada Marseille Shanghai Bombay Sicily Tangier Casablanca Oslo Prague
Budapest Istanbul Saigon Manila Sydney Yukon Arizona Dakota Oregon Vermont Tuscany Provence
""")
_GERUNDS = (
    "Chasing", "Finding", "Saving", "Losing", "Leaving", "Catching", "Crossing", "Breaking",
    "Waking", "Hunting", "Keeping", "Killing", "Raising", "Stealing", "Becoming", "Remembering",
    "Forgetting", "Waiting for", "Dancing with", "Running from",
)  # fmt: skip

#: Tags typical of each genre (lower case, as most MovieLens tags are).
_GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "Action": ("action", "explosions", "car chase", "martial arts", "fight scenes", "heist"),
    "Adventure": ("adventure", "treasure hunt", "journey", "swashbuckler", "exploration"),
    "Animation": ("animation", "pixar", "stop motion", "anime", "hand-drawn"),
    "Children": ("family", "kids", "talking animals", "fairy tale", "coming of age"),
    "Comedy": ("funny", "quirky", "dark comedy", "satire", "witty", "slapstick", "hilarious"),
    "Crime": ("crime", "gangsters", "mafia", "heist", "police", "organized crime"),
    "Documentary": ("documentary", "true story", "nature", "history", "interviews"),
    "Drama": ("drama", "emotional", "character study", "tearjerker", "bittersweet"),
    "Fantasy": ("fantasy", "magic", "dragons", "fairy tale", "mythology"),
    "Film-Noir": ("noir", "femme fatale", "black and white", "detective"),
    "Horror": ("horror", "scary", "gore", "zombies", "haunted house", "slasher", "creepy"),
    "IMAX": ("imax", "visually stunning", "3d"),
    "Musical": ("musical", "music", "singing", "dance", "broadway"),
    "Mystery": ("mystery", "twist ending", "whodunit", "puzzle", "detective"),
    "Romance": ("romance", "love story", "romantic", "chick flick", "relationships"),
    "Sci-Fi": ("sci-fi", "space", "aliens", "time travel", "dystopia", "robots", "cyberpunk"),
    "Thriller": ("thriller", "suspense", "tense", "psychological", "conspiracy", "serial killer"),
    "War": ("war", "world war ii", "military", "vietnam", "anti-war"),
    "Western": ("western", "cowboys", "gunfight", "wild west", "frontier"),
}
#: Tags any movie may get; scene ``h`` favours tags ``2h`` and ``2h + 1`` of this list.
_GENERAL_TAGS: tuple[str, ...] = (
    "atmospheric", "surreal", "thought-provoking", "philosophical", "visually appealing",
    "stylized", "great soundtrack", "musicians", "classic", "masterpiece", "cult film", "campy",
    "based on a book", "literary adaptation", "based on a true story", "biography", "indie",
    "low budget", "franchise", "sequel", "In Netflix queue", "overrated", "underrated",
    "predictable", "slow", "great acting", "quotable", "nonlinear", "beautiful", "boring",
)  # fmt: skip


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote and what it cost."""

    out: Path
    users: int
    movies: int
    ratings: int
    tags: int
    seed: int
    seconds: float
    peak_rss_mb: float  # peak resident memory of this process so far (ru_maxrss)

    @property
    def ratings_per_second(self) -> float:
        """Ratings written per second of wall time."""
        return self.ratings / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``out`` as a string, rates rounded)."""
        return {
            "out": str(self.out),
            "users": self.users,
            "movies": self.movies,
            "ratings": self.ratings,
            "tags": self.tags,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "ratings_per_second": round(self.ratings_per_second),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }

    def line(self) -> str:
        """One-line human summary for the CLI."""
        return (
            f"wrote {self.users:,} users, {self.movies:,} movies, {self.ratings:,} ratings, "
            f"{self.tags:,} tags to {self.out} in {self.seconds:.1f} s "
            f"({self.ratings_per_second:,.0f} ratings/s, peak RSS {self.peak_rss_mb:,.0f} MiB)"
        )


def generate(
    out: Path,
    *,
    users: int,
    movies: int,
    ratings: int,
    tags: int | None = None,
    seed: int = 42,
    progress: Progress | None = None,
    chunk_ratings: int = CHUNK_RATINGS,
) -> SynthSummary:
    """Write a synthetic MovieLens-CSV folder with exactly the requested counts.

    Args:
        out: folder to write; created if missing. It must be empty or hold an earlier output
            of this function (recognised by its ``synth.json``), which is replaced.
        users: number of users (ids 1..users, each with at least one rating; at least 20 when
            ``ratings >= 20 * users``).
        movies: number of movies (some of the least popular may end up unrated, as in
            MovieLens).
        ratings: number of distinct (user, movie) ratings, ``users <= ratings <= users *
            movies``.
        tags: number of tag rows; ``None`` for 4% of ``ratings``; at most ``6 * ratings``.
        seed: the same seed (and ``chunk_ratings``) gives byte-identical files.
        progress: optional callback receiving a message and the fraction done.
        chunk_ratings: about how many ratings to generate and write at a time (memory bound).

    Returns:
        The counts written, the wall time and the process's peak resident memory.

    Raises:
        SynthError: an argument is not a valid size, or the sizes contradict each other.
        DataError: ``out`` is a file, or a non-empty folder that is not an earlier synth output.
    """
    started = time.perf_counter()
    n_tags = _validate(users, movies, ratings, tags, seed, chunk_ratings)
    out = Path(out).expanduser()
    _prepare_folder(out)
    params = {"users": users, "movies": movies, "ratings": ratings, "tags": n_tags, "seed": seed,
              "chunk_ratings": chunk_ratings}  # fmt: skip
    # The marker goes first, marked incomplete, so an interrupted run can be overwritten.
    _write_marker(out, params, complete=False)
    say = progress or (lambda _message, _fraction: None)

    say("Making movies", 0.0)
    world = _make_world(movies, np.random.default_rng([seed, 0]))
    _write_movies(out, world, np.random.default_rng([seed, 1]))

    say("Sizing users", 0.02)
    plan_rng = np.random.default_rng([seed, 2])
    per_user = _user_counts(users, movies, ratings, plan_rng)
    per_user_tags = _tag_counts(per_user, n_tags, plan_rng)
    _calibrate(world, per_user, np.random.default_rng([seed, 3]))

    bounds = _chunk_bounds(per_user, chunk_ratings)
    written = written_tags = 0
    with (
        (out / "ratings.csv").open("wb") as ratings_file,
        (out / "tags.csv").open("w", newline="") as tags_file,
    ):
        ratings_file.write(b"userId,movieId,rating,timestamp\n")
        tags_file.write("userId,movieId,tag,timestamp\n")
        ratings_file.flush()
        writer = pacsv.CSVWriter(
            ratings_file,
            _RATINGS_SCHEMA,
            write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"),
        )
        for number, (start, end) in enumerate(itertools.pairwise(bounds)):
            rng = np.random.default_rng([seed, 4, number])
            chunk = _make_chunk(world, per_user[start:end], rng)
            writer.write_table(_ratings_table(world, start, chunk))
            tag_frame = _make_tags(world, start, chunk, per_user_tags[start:end], rng)
            tag_frame.to_csv(tags_file, header=False, index=False, lineterminator="\n")
            written += len(chunk.items)
            written_tags += len(tag_frame)
            say(f"Writing ratings ({written:,} of {ratings:,})", 0.05 + 0.95 * written / ratings)
        writer.close()
    # Internal consistency, cheap to check and fatal to get wrong silently.
    if written != ratings or written_tags != n_tags:  # pragma: no cover - a bug if reached
        raise RuntimeError(f"wrote {written} ratings / {written_tags} tags, planned "
                           f"{ratings} / {n_tags}")  # fmt: skip

    seconds = time.perf_counter() - started
    summary = SynthSummary(
        out=out,
        users=users,
        movies=movies,
        ratings=ratings,
        tags=n_tags,
        seed=seed,
        seconds=seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    _write_marker(out, params, complete=True, summary=summary)
    return summary


def is_synth_folder(folder: Path) -> bool:
    """True when ``folder`` holds a marker written by :func:`generate` (complete or not)."""
    try:
        marker = json.loads((Path(folder) / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("generator") == "core.data.synth"


# --------------------------------------------------------------------------- checks and files


def _validate(
    users: int, movies: int, ratings: int, tags: int | None, seed: int, chunk_ratings: int
) -> int:
    """Check the sizes; return the number of tags to write."""

    def whole(name: str, value: object, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise SynthError(f"{name} must be a whole number, got {value!r}.")
        if not low <= int(value) <= high:
            raise SynthError(f"{name} must be between {low:,} and {high:,}, got {int(value):,}.")
        return int(value)

    users = whole("users", users, 1, MAX_USERS)
    movies = whole("movies", movies, 1, MAX_MOVIES)
    ratings = whole("ratings", ratings, 1, MAX_RATINGS)
    whole("seed", seed, 0, 2**63 - 1)
    whole("chunk_ratings", chunk_ratings, 1_000, 100_000_000)
    if ratings < users:
        raise SynthError(
            f"ratings ({ratings:,}) must be at least users ({users:,}): every user rates at "
            "least one movie."
        )
    if ratings > users * movies:
        raise SynthError(
            f"ratings ({ratings:,}) cannot exceed users x movies ({users * movies:,}): a user "
            "rates a movie at most once."
        )
    if tags is None:
        return round(DEFAULT_TAG_RATE * ratings)
    return whole("tags", tags, 0, TAG_SLOTS * ratings)


def _prepare_folder(out: Path) -> None:
    """Create ``out``, or clear an earlier synth output in it; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give a folder for the synthetic data.")
    if out.is_dir():
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            foreign = [name for name in entries if name not in _OUTPUT_FILES]
            if not is_synth_folder(out) or foreign:
                shown = ", ".join(entries[:8]) + (" ..." if len(entries) > 8 else "")
                raise DataError(
                    f"{out} is not empty ({shown}) and is not an earlier `python -m core synth` "
                    "output; refusing to overwrite it. Choose a new or empty folder."
                )
            for name in entries:
                (out / name).unlink()
    out.mkdir(parents=True, exist_ok=True)


def _write_marker(
    out: Path, params: dict[str, int], *, complete: bool, summary: SynthSummary | None = None
) -> None:
    marker: dict[str, Any] = {"generator": "core.data.synth", "complete": complete, **params}
    if summary is not None:
        marker["seconds"] = round(summary.seconds, 3)
    (out / _MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    (out / "README.txt").write_text(
        "SYNTHETIC DATA - not MovieLens, not real people or movies.\n\n"
        "Written by `python -m core synth` (core/synth.py) for benchmarks and scale tests, in the\n"
        "CSV layout of ml-latest / ml-25m / ml-32m. Titles, ids, ratings and tags are random;\n"
        "imdbId and tmdbId lie in ranges no real title uses, so enrichment never joins real\n"
        f"text by id. Parameters: {json.dumps(params)}\n"
    )


# --------------------------------------------------------------------------- movies


@dataclass
class _World:
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
    # Set by _calibrate: scale of the taste term and the score thresholds between stars.
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


def _make_world(n: int, rng: np.random.Generator) -> _World:
    """Draw the movies: release dates, genres, scenes, popularity, biases, factors, tags."""
    # Release years skew recent (MovieLens: median around 2000-2008); day within the year.
    age = np.floor(rng.exponential(22.0, n)).astype(np.int64)
    year = np.clip(LAST_YEAR - age, FIRST_YEAR, LAST_YEAR)
    year_start = _year_starts()[year - FIRST_YEAR]
    release = year_start + rng.integers(0, 365 * 86400, n)
    # Index = release order, so a user's candidate movies are always a prefix (see _make_chunk)
    # and sorting by movieId is sorting by release.
    order = np.argsort(release, kind="stable")
    release, year = release[order], year[order].astype(np.int16)
    # Ids from 1 with occasional gaps (MovieLens ids skip removed movies).
    movie_ids = np.cumsum(rng.geometric(0.7, n))
    movie_ids = (movie_ids - movie_ids[0] + 1).astype(np.int32)

    # 1-6 genres (mean ~2.3 as in MovieLens), picked by weight without replacement
    # (Gumbel top-k); 0.35% of movies have none, as in ml-latest-small.
    count = np.minimum(1 + rng.poisson(1.3, n), 6)
    keys = np.log(_GENRE_SHARES)[None, :] + rng.gumbel(size=(n, len(GENRES)))
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

    vocab, slots = _movie_tags(genres, scene, n_scenes, rng)
    return _World(
        n=n, movie_ids=movie_ids, release=release, year=year, genres=genres, scene=scene,
        log_pop=log_pop, bias=bias, factors=factors, topic_map=topic_map, flat=flat,
        tag_vocab=vocab, tag_slots=slots, n_scenes=n_scenes,
    )  # fmt: skip


def _year_starts() -> np.ndarray:
    return np.array(
        [dt.datetime(y, 1, 1, tzinfo=dt.UTC).timestamp() for y in range(FIRST_YEAR, LAST_YEAR + 2)],
        dtype=np.int64,
    )


def _movie_tags(
    genres: np.ndarray, scene: np.ndarray, n_scenes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Vocabulary and each movie's ``TAG_SLOTS`` candidate tags, most characteristic first.

    A tag of one of the movie's genres weighs 4, a tag of its scene 3, any other general tag
    0.8; slots are drawn by weight without replacement (Gumbel top-k), in blocks of movies to
    keep the (movies x vocabulary) key matrix small.
    """
    vocab = list(dict.fromkeys([t for g in GENRES for t in _GENRE_TAGS[g]] + list(_GENERAL_TAGS)))
    index = {t: i for i, t in enumerate(vocab)}
    genre_tags = np.zeros((len(GENRES), len(vocab)))
    for g, name in enumerate(GENRES):
        genre_tags[g, [index[t] for t in _GENRE_TAGS[name]]] = 1.0
    general = np.array([index[t] for t in _GENERAL_TAGS])
    scene_tags = np.zeros((n_scenes, len(vocab)))
    for h in range(n_scenes):
        scene_tags[h, general[[2 * h % len(general), (2 * h + 1) % len(general)]]] = 1.0
    base = np.zeros(len(vocab))
    base[general] = 0.8
    slots = np.empty((len(genres), TAG_SLOTS), dtype=np.int16)
    as_float = genres.astype(np.float64)  # a bool @ float product skips BLAS (10x slower)
    for start in range(0, len(genres), 20_000):
        stop = min(start + 20_000, len(genres))
        weight = base + 4.0 * np.minimum(as_float[start:stop] @ genre_tags, 1.0)
        weight = np.maximum(weight, 3.0 * scene_tags[scene[start:stop]])
        with np.errstate(divide="ignore"):
            keys = np.log(weight) + rng.gumbel(size=weight.shape)
        top = np.argpartition(-keys, TAG_SLOTS - 1, axis=1)[:, :TAG_SLOTS]
        best_first = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
        slots[start:stop] = np.take_along_axis(top, best_first, axis=1)
    return np.array(vocab, dtype=object), slots


def _titles(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct made-up titles in MovieLens form (trailing article: ``"River, The"``).

    All combinations of a few word-list patterns (~170k) are enumerated and sampled without
    replacement; beyond that, sequels ("Quiet River 2") keep titles distinct.
    """
    nouns = _NOUNS
    space: list[str] = []
    for a in _ADJECTIVES:
        for noun in nouns:
            space += [f"{a} {noun}", f"{a} {noun}, The", f"{a} {noun}, A"]
    for first in nouns:
        space += [f"{first} of the {second}" for second in nouns if second != first]
    space += [f"{name}'s {noun}" for name in _NAMES for noun in nouns]
    space += [f"{noun} in {place}" for noun in nouns for place in _PLACES]
    space += [f"{verb} the {noun}" for verb in _GERUNDS for noun in nouns]
    space = list(dict.fromkeys(space))
    picked = rng.choice(len(space), size=min(n, len(space)), replace=False)
    titles = [space[i] for i in picked.tolist()]
    sequel = 2
    while len(titles) < n:
        more = rng.choice(len(space), size=min(n - len(titles), len(space)), replace=False)
        titles += [_sequel(space[i], sequel) for i in more.tolist()]
        sequel += 1
    return titles


def _sequel(title: str, number: int) -> str:
    head, comma, article = title.partition(", ")
    return f"{head} {number}{comma}{article}"


def _write_movies(out: Path, world: _World, rng: np.random.Generator) -> None:
    """``movies.csv`` and ``links.csv`` (ids in ranges no real IMDb / TMDB title has yet)."""
    titles = _titles(world.n, rng)
    names = np.array(GENRES, dtype=object)
    genre_text = [
        "|".join(names[row]) if row.any() else NO_GENRES for row in world.genres
    ]  # GENRES is alphabetical, as MovieLens lists them
    pd.DataFrame(
        {
            "movieId": world.movie_ids,
            "title": [f"{t} ({y})" for t, y in zip(titles, world.year.tolist(), strict=True)],
            "genres": genre_text,
        }
    ).to_csv(out / "movies.csv", index=False, lineterminator="\n")
    imdb = 90_000_000 + np.sort(rng.choice(9_000_000, size=world.n, replace=False))
    tmdb = 5_000_000 + np.sort(rng.choice(4_000_000, size=world.n, replace=False))
    pd.DataFrame(
        {"movieId": world.movie_ids, "imdbId": [f"{i:07d}" for i in imdb.tolist()], "tmdbId": tmdb}
    ).to_csv(out / "links.csv", index=False, lineterminator="\n")


# --------------------------------------------------------------------------- users


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


def _user_counts(users: int, movies: int, ratings: int, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: a floor of 20 (or what the total allows) plus a log-normal share."""
    floor = min(MIN_USER_RATINGS, ratings // users, movies)
    # sigma 1.45 gives MovieLens's ratio of mean to median activity (~165 / ~70 with floor 20).
    weights = rng.lognormal(0.0, 1.45, users)
    # The busiest ml-32m user rated ~40% of the movies; allow more only when the total needs it.
    cap = min(movies, max(math.ceil(0.4 * movies), math.ceil(ratings / users)))
    caps = np.full(users, cap - floor, dtype=np.int64)
    return floor + _allocate(ratings - floor * users, weights, caps)


def _tag_counts(per_user: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Tags per user: ~8% of users tag (heavy-tailed, more from heavy raters), as in MovieLens."""
    if total == 0:
        return np.zeros(len(per_user), dtype=np.int64)
    caps = per_user * TAG_SLOTS
    weights = rng.lognormal(0.0, 1.5, len(per_user)) * np.sqrt(per_user)
    taggers = rng.random(len(per_user)) < 0.08
    if not taggers.any() or caps[taggers].sum() < total:
        taggers[:] = True  # too few taggers for the requested number: everyone tags
    return _allocate(total, np.where(taggers, weights, 0.0), caps)


def _chunk_bounds(per_user: np.ndarray, chunk_ratings: int) -> np.ndarray:
    """User index bounds of chunks holding about ``chunk_ratings`` ratings each."""
    ends = np.cumsum(per_user)
    cuts = np.searchsorted(ends, np.arange(chunk_ratings, ends[-1], chunk_ratings), side="left")
    return np.unique(np.concatenate([[0], cuts + 1, [len(per_user)]]))


@dataclass
class _Chunk:
    """One chunk's ratings, sorted by user then movie (index = release order)."""

    user: np.ndarray  # int64 local user index (0 .. users in chunk - 1)
    items: np.ndarray  # int64 movie index
    stamps: np.ndarray  # int64
    base: np.ndarray  # float32 user bias + movie bias + noise
    dot: np.ndarray  # float32 taste dot product (unscaled; see _World.dot_scale)

    def score(self, world: _World) -> np.ndarray:
        """Latent rating score; stars come from it through the calibrated thresholds."""
        return self.base + np.float32(world.dot_scale) * self.dot


def _make_chunk(world: _World, per_user: np.ndarray, rng: np.random.Generator) -> _Chunk:
    """A block of users with ``per_user`` ratings each: their movies, times and scores."""
    n_users = len(per_user)
    # Taste: a mainstream share plus peaked preferences over genres and scenes (Dirichlet with
    # small concentration, so most users favour a few of them).
    taste = np.empty((n_users, world.n_clusters))
    taste[:, 0] = rng.beta(*_MAINSTREAM_BETA, n_users)
    genre_pref = rng.gamma(_GENRE_ALPHA * len(GENRES) * _GENRE_SHARES / _GENRE_SHARES.sum(),
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
    return _Chunk(user=user, items=items, stamps=stamps, base=base, dot=dot)


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
    world: _World,
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
    world: _World,
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
    world: _World,
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
    world: _World,
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


def _calibrate(world: _World, per_user: np.ndarray, rng: np.random.Generator) -> None:
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
    pilot = _make_chunk(world, sample, rng)
    world.dot_scale = float(0.6 / max(float(pilot.dot.std()), 1e-9))
    scores = pilot.score(world).astype(np.float64)
    world.half_cuts = np.quantile(scores, np.cumsum(_HALF_STAR_SHARES)[:-1])
    world.whole_cuts = np.quantile(scores, np.cumsum(_WHOLE_STAR_SHARES)[:-1])


def _stars(world: _World, chunk: _Chunk) -> np.ndarray:
    """Rating code 0..9 (0.5 .. 5.0 stars): whole stars before 18 Feb 2003, half after."""
    assert world.half_cuts is not None and world.whole_cuts is not None
    score = chunk.score(world)
    half = np.searchsorted(world.half_cuts, score)  # 0..9
    whole = 2 * np.searchsorted(world.whole_cuts, score) + 1  # 1, 3, .. 9
    return np.where(chunk.stamps < HALF_STARS_FROM, whole, half).astype(np.int8)


def _ratings_table(world: _World, first_user: int, chunk: _Chunk) -> pa.Table:
    """The chunk as an arrow table in ``ratings.csv`` form (stars as "4.0", like MovieLens)."""
    rating = pa.DictionaryArray.from_arrays(pa.array(_stars(world, chunk)), _RATING_LABELS)
    return pa.table(
        {
            "userId": (chunk.user + first_user + 1).astype(np.int32),
            "movieId": world.movie_ids[chunk.items],
            "rating": rating,
            "timestamp": chunk.stamps,
        },
        schema=_RATINGS_SCHEMA,
    )


def _make_tags(
    world: _World,
    first_user: int,
    chunk: _Chunk,
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
