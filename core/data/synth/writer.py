"""Files of a synthetic folder: movies.csv / links.csv, the ratings CSV writer, marker, README.

Writes what it is given; all randomness comes from the caller's generators.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from core.data.synth.movies import GENRES, NO_GENRES, make_titles
from core.data.synth.ratings import Chunk, stars
from core.data.synth.world import World
from core.errors import DataError

_RATING_LABELS = pa.array([f"{k / 2:.1f}" for k in range(1, 11)])  # "0.5" .. "5.0"
_RATING_TYPE = pa.dictionary(pa.int8(), pa.string())
RATINGS_SCHEMA = pa.schema(
    [
        ("userId", pa.int32()),
        ("movieId", pa.int32()),
        ("rating", _RATING_TYPE),
        ("timestamp", pa.int64()),
    ]
)
# Files this module writes; a folder holding only these plus the marker may be overwritten.
MARKER = "synth.json"
OUTPUT_FILES = ("movies.csv", "ratings.csv", "tags.csv", "links.csv", "README.txt", MARKER)
#: ``generator`` values of markers this package wrote: "core.synth" before the move into
#: ``core.data``, and for a while "core.data.synth"; both are recognised so old folders reload.
MARKER_GENERATORS = ("core.synth", "core.data.synth")


def is_synth_folder(folder: Path) -> bool:
    """True when ``folder`` holds a marker written by :func:`generate` (complete or not)."""
    try:
        marker = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("generator") in MARKER_GENERATORS


def prepare_folder(out: Path) -> None:
    """Create ``out``, or clear an earlier synth output in it; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give a folder for the synthetic data.")
    if out.is_dir():
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            foreign = [name for name in entries if name not in OUTPUT_FILES]
            if not is_synth_folder(out) or foreign:
                shown = ", ".join(entries[:8]) + (" ..." if len(entries) > 8 else "")
                raise DataError(
                    f"{out} is not empty ({shown}) and is not an earlier `python -m core synth` "
                    "output; refusing to overwrite it. Choose a new or empty folder."
                )
            for name in entries:
                (out / name).unlink()
    out.mkdir(parents=True, exist_ok=True)


def write_marker(
    out: Path, params: dict[str, int], *, complete: bool, seconds: float | None = None
) -> None:
    """``synth.json`` (parameters, whether the run finished, its seconds) and ``README.txt``."""
    marker: dict[str, Any] = {"generator": MARKER_GENERATORS[0], "complete": complete, **params}
    if seconds is not None:
        marker["seconds"] = round(seconds, 3)
    (out / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    (out / "README.txt").write_text(
        "SYNTHETIC DATA - not MovieLens, not real people or movies.\n\n"
        "Written by `python -m core synth` (core/synth.py) for benchmarks and scale tests, in the\n"
        "CSV layout of ml-latest / ml-25m / ml-32m. Titles, ids, ratings and tags are random;\n"
        "imdbId and tmdbId lie in ranges no real title uses, so enrichment never joins real\n"
        f"text by id. Parameters: {json.dumps(params)}\n"
    )


def write_movies(out: Path, world: World, rng: np.random.Generator) -> None:
    """``movies.csv`` and ``links.csv`` (ids in ranges no real IMDb / TMDB title has yet)."""
    titles = make_titles(world.n, rng)
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


def ratings_table(world: World, first_user: int, chunk: Chunk) -> pa.Table:
    """The chunk as an arrow table in ``ratings.csv`` form (stars as "4.0", like MovieLens)."""
    rating = pa.DictionaryArray.from_arrays(pa.array(stars(world, chunk)), _RATING_LABELS)
    return pa.table(
        {
            "userId": (chunk.user + first_user + 1).astype(np.int32),
            "movieId": world.movie_ids[chunk.items],
            "rating": rating,
            "timestamp": chunk.stamps,
        },
        schema=RATINGS_SCHEMA,
    )
