"""Robust reading of MovieLens files: delimited tables via pyarrow, small text files, the genome.

Readers count what they skip in the :class:`~core.data.catalog.LoadReport`; they do not clean
or cross-check values (that is :mod:`core.data.clean`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.data.catalog import LoadReport
from core.errors import DataError

#: Genome tags at least this relevant are added to a movie's tags ...
GENOME_MIN_RELEVANCE = 0.8
#: ... at most this many per movie, most relevant first.
GENOME_MAX_TAGS = 20

# Nullable pandas dtype for each arrow type we read into.
_ARROW_TO_PANDAS = {
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.float32(): pd.Float32Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}

#: Column types of a ratings file (ml-100k, ml-1m and the CSV layouts all share them).
RATING_TYPES = {
    "userId": pa.int32(),
    "movieId": pa.int32(),
    "rating": pa.float32(),
    "timestamp": pa.int64(),
}


def read_csv(
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
    header = names or check_header(path, delimiter, required, list(columns))
    present = {col: typ for col, typ in columns.items() if col in header}
    report.files_read.append(path.name)
    table, bad_lines, as_text = _read_with_text_fallback(
        path, present, header, delimiter, names, text_values
    )
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
        frame[col] = to_number(frame[col])
    report.count(f"{path.name}_malformed_lines", bad_lines)
    for col in columns:
        if col not in frame:
            frame[col] = pd.array([pd.NA] * len(frame), dtype=_ARROW_TO_PANDAS[columns[col]])
    return frame[list(columns)]


def _read_table(
    path: Path,
    types: dict[str, pa.DataType],
    delimiter: str,
    names: list[str] | None,
    text_values: bool,
) -> tuple[pa.Table, int]:
    """One pyarrow read of the ``types`` columns; malformed lines are skipped and counted."""
    bad_lines = 0

    def count_bad(_row: object) -> str:
        nonlocal bad_lines
        bad_lines += 1
        return "skip"

    table = pacsv.read_csv(
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
    return table, bad_lines


def _read_with_text_fallback(
    path: Path,
    present: dict[str, pa.DataType],
    header: list[str],
    delimiter: str,
    names: list[str] | None,
    text_values: bool,
) -> tuple[pa.Table, int, list[str]]:
    """Read the file, re-reading as text each number column that holds a non-number.

    Returns the table, the count of malformed lines and the columns read as text.
    """
    types = dict(present)
    as_text: list[str] = []  # number columns holding some non-number, read as text
    while True:
        try:
            table, bad_lines = _read_table(path, types, delimiter, names, text_values)
            return table, bad_lines, as_text
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


def _sep_name(delimiter: str) -> str:
    return {",": "comma-separated", "\t": "tab-separated", ":": "'::'-separated"}.get(
        delimiter, f"{delimiter!r}-separated"
    )


def check_header(
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


def read_lines(path: Path, report: LoadReport) -> pd.Series:
    """Non-blank lines of a small text file; UTF-8, else latin-1 (ml-100k / ml-1m)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    report.files_read.append(path.name)
    lines = pd.Series(text.splitlines(), dtype="string")
    return lines[lines.str.strip() != ""].reset_index(drop=True)


def split_lines(lines: pd.Series, pattern: str, report: LoadReport, kind: str) -> pd.DataFrame:
    """Fields of each line matched by ``pattern``; lines that do not match are counted."""
    parts = lines.str.extract(pattern)
    ok = parts.notna().all(axis=1)
    report.count(f"{kind}.dat_malformed_lines", int((~ok).sum()))
    return parts[ok].reset_index(drop=True)


def to_number(values: pd.Series) -> pd.Series:
    """Text to nullable float (non-numbers become <NA>); exact for ids and timestamps < 2**53."""
    return pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype("Float64")


def read_genome(scores: Path, names: Path, report: LoadReport) -> pd.DataFrame | None:
    """Genome tags relevant to each movie (``movieId, tag, relevance``), or None on bad files.

    genome-scores.csv has a row per (movie, tag) -- 15M rows in ml-25m -- so it is streamed in
    blocks and only the relevant rows are kept.
    """
    try:
        check_header(scores, ",", ("movieId", "tagId", "relevance"), ())
        check_header(names, ",", ("tagId", "tag"), ())
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
