"""Synthetic MovieLens-style data sets for benchmarks and scale tests: :func:`generate`.

Only writes new folders (or replaces its own earlier output); nothing in the app uses it unless
pointed at it. One module per step: :mod:`.movies`, :mod:`.world`, :mod:`.plan`,
:mod:`.ratings`, :mod:`.writer`; the data's shape and tuning: docs/experiments/data.md.
"""

from __future__ import annotations

import itertools
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv

from core.data.synth.movies import GENRES, NO_GENRES, TAG_SLOTS
from core.data.synth.plan import (
    MIN_USER_RATINGS,
    chunk_bounds,
    tag_counts,
    user_counts,
)
from core.data.synth.ratings import HALF_STARS_FROM, calibrate, make_chunk, make_tags
from core.data.synth.world import World, make_world
from core.data.synth.writer import (
    RATINGS_SCHEMA,
    is_synth_folder,
    prepare_folder,
    ratings_table,
    write_marker,
    write_movies,
)
from core.errors import WorkbenchError
from core.progress import Progress, no_progress

__all__ = [
    "CHUNK_RATINGS",
    "DEFAULT_TAG_RATE",
    "GENRES",
    "HALF_STARS_FROM",
    "MIN_USER_RATINGS",
    "NO_GENRES",
    "SynthError",
    "SynthSummary",
    "generate",
    "is_synth_folder",
]

#: Default number of tags per rating (ml-25m has 4.4%, ml-latest-small 3.7%).
DEFAULT_TAG_RATE = 0.04
#: Upper limits that keep the per-movie tables (clusters x movies floats) and ids reasonable.
MAX_MOVIES = 300_000
MAX_USERS = 20_000_000
MAX_RATINGS = 2_000_000_000
#: Default ratings per chunk: ~1M keeps the peak a few hundred MB and NumPy calls large.
CHUNK_RATINGS = 1_000_000


class SynthError(WorkbenchError):
    """Arguments that cannot describe a synthetic data set (``str(err)`` says why)."""


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

    The folder has the CSV layout of ml-latest / ml-25m / ml-32m, which
    :func:`core.data.loaders.load_catalog` reads like the real thing, at any size up to tens of
    millions of ratings in bounded memory (users are generated and appended in chunks).

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
    prepare_folder(out)
    params = {"users": users, "movies": movies, "ratings": ratings, "tags": n_tags, "seed": seed,
              "chunk_ratings": chunk_ratings}  # fmt: skip
    # The marker goes first, marked incomplete, so an interrupted run can be overwritten.
    write_marker(out, params, complete=False)
    say = progress or no_progress

    say("Making movies", 0.0)
    world = make_world(movies, np.random.default_rng([seed, 0]))
    write_movies(out, world, np.random.default_rng([seed, 1]))

    say("Sizing users", 0.02)
    per_user, per_user_tags = _plan_users(world, users, movies, ratings, n_tags, seed)
    written, written_tags = _write_chunks(
        out,
        world,
        per_user,
        per_user_tags,
        seed=seed,
        chunk_ratings=chunk_ratings,
        say=say,
        total=ratings,
    )
    # Internal consistency, cheap to check and fatal to get wrong silently.
    if written != ratings or written_tags != n_tags:  # pragma: no cover - a bug if reached
        raise RuntimeError(f"wrote {written} ratings / {written_tags} tags, planned "
                           f"{ratings} / {n_tags}")  # fmt: skip

    summary = SynthSummary(
        out=out,
        users=users,
        movies=movies,
        ratings=ratings,
        tags=n_tags,
        seed=seed,
        seconds=time.perf_counter() - started,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    write_marker(out, params, complete=True, seconds=summary.seconds)
    return summary


def _plan_users(
    world: World, users: int, movies: int, ratings: int, n_tags: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ratings and tags per user, and the star calibration of ``world`` from a pilot sample.

    Each step has its own random stream (``[seed, 2]`` and ``[seed, 3]``), so the files depend
    only on the seed and the sizes.
    """
    plan_rng = np.random.default_rng([seed, 2])
    per_user = user_counts(users, movies, ratings, plan_rng)
    per_user_tags = tag_counts(per_user, n_tags, plan_rng)
    calibrate(world, per_user, np.random.default_rng([seed, 3]))
    return per_user, per_user_tags


def _write_chunks(
    out: Path,
    world: World,
    per_user: np.ndarray,
    per_user_tags: np.ndarray,
    *,
    seed: int,
    chunk_ratings: int,
    say: Progress,
    total: int,
) -> tuple[int, int]:
    """Generate and append ``ratings.csv`` and ``tags.csv`` chunk by chunk (bounded memory).

    ``total`` (the planned number of ratings) only scales the progress reports. Returns the
    numbers of ratings and tag rows written.
    """
    bounds = chunk_bounds(per_user, chunk_ratings)
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
            RATINGS_SCHEMA,
            write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"),
        )
        for number, (start, end) in enumerate(itertools.pairwise(bounds)):
            rng = np.random.default_rng([seed, 4, number])
            chunk = make_chunk(world, per_user[start:end], rng)
            writer.write_table(ratings_table(world, start, chunk))
            tag_frame = make_tags(world, start, chunk, per_user_tags[start:end], rng)
            tag_frame.to_csv(tags_file, header=False, index=False, lineterminator="\n")
            written += len(chunk.items)
            written_tags += len(tag_frame)
            say(f"Writing ratings ({written:,} of {total:,})", 0.05 + 0.95 * written / total)
        writer.close()
    return written, written_tags


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
