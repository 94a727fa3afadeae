"""Robust reading of MovieLens files: delimited tables via pyarrow, small text files, the genome.

Readers count what they skip in the :class:`~core.data.catalog.LoadReport`; they do not clean
or cross-check values (that is :mod:`core.data.clean`).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.data.catalog import LoadReport
from core.data.rawtext import (
    check_text_file,
    decode_with_fallback,
    line_numbers,
    multiline_records,
)
from core.errors import DataError

#: Genome tags at least this relevant are added to a movie's tags ...
GENOME_MIN_RELEVANCE = 0.8
#: ... at most this many per movie, most relevant first.
GENOME_MAX_TAGS = 20
#: How many offending line numbers the load report names per problem.
_FIRST_LINES = 3

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
    skipped and counted as ``<file>_malformed_lines``. Rows spanning lines (an unclosed quote
    swallowed the lines after it) are dropped and every line they held is counted as
    ``<file>_rows_lost_to_unclosed_quote``; ``text_values`` lets pyarrow read quoted values
    across lines (text files) so those rows can be found. Bytes that are not UTF-8 are read as
    cp1252 and counted as ``<file>_lines_not_utf8``. The report's ``details`` name the first
    lines of each. A value that does not parse as its number type makes that column be read
    again as text and coerced, so bad ids become <NA> (counted later) instead of failing the
    whole file.
    """
    if names:
        check_text_file(path)
    header = names or check_header(path, delimiter, required, list(columns))
    present = {col: typ for col, typ in columns.items() if col in header}
    report.files_read.append(path.name)
    shape = _Shape(path.name, header, delimiter, names, text_values)
    source: Path | bytes = path
    try:
        table, bad, as_text = _read_with_text_fallback(source, present, shape)
    except _NotUtf8:
        text, lines = decode_with_fallback(path.read_bytes())
        source = text.encode("utf-8", errors="surrogateescape")
        report.count(f"{path.name}_lines_not_utf8", len(lines))
        report.details.append(
            f"{path.name}: {_lines(len(lines))} not UTF-8 (at {_at(lines)}); "
            "their odd bytes were read as cp1252"
        )
        table, bad, as_text = _read_with_text_fallback(source, present, shape)
    # Plain files too: a stray quote there swallows lines just the same (two of them pair up
    # into one row whose value spans lines; one alone makes a skipped row of many lines).
    table = _drop_swallowed_rows(table, bad, source, path.name, delimiter, report)
    if bad.count and not table.num_rows:
        raise DataError(
            f"None of the {bad.count:,} lines of {path.name} has the expected "
            f"{len(header)} {_sep_name(delimiter)} fields; is the separator right?"
        )
    _report_malformed(bad, source, path.name, report)
    # self_destruct frees each arrow column once converted, halving the peak for 32M ratings.
    frame = table.to_pandas(
        types_mapper=_ARROW_TO_PANDAS.get, split_blocks=True, self_destruct=True
    )
    del table
    for col in as_text:
        frame[col] = to_number(frame[col])
    for col in columns:
        if col not in frame:
            frame[col] = pd.array([pd.NA] * len(frame), dtype=_ARROW_TO_PANDAS[columns[col]])
    return frame[list(columns)]


@dataclass(frozen=True)
class _Shape:
    """How a delimited file is laid out."""

    name: str
    header: list[str]
    delimiter: str
    names: list[str] | None
    text_values: bool


@dataclass
class _BadRows:
    """Rows pyarrow skipped: how many, and the first few as ``(line or None, text)``."""

    count: int = 0
    first: list[tuple[int | None, str]] = field(default_factory=list)
    # Skipped rows that span several lines: an unclosed quote swallowed the lines after it.
    multiline: list[str] = field(default_factory=list)


class _NotUtf8(Exception):
    """The file holds bytes that are not UTF-8 (pyarrow refuses them)."""


def _read_table(
    source: Path | bytes, types: dict[str, pa.DataType], shape: _Shape
) -> tuple[pa.Table, _BadRows]:
    """One pyarrow read of the ``types`` columns; malformed lines are skipped and counted."""
    bad = _BadRows()

    def count_bad(row: pacsv.InvalidRow) -> str:
        bad.count += 1
        if "\n" in row.text:
            bad.multiline.append(row.text)
        elif len(bad.first) < _FIRST_LINES:
            bad.first.append((row.number, row.text))
        return "skip"

    # A row that is not UTF-8 cannot be handed to count_bad; pyarrow then prints "Exception
    # ignored" and a traceback through sys.unraisablehook, which is caught here instead.
    unraisable: list[BaseException | None] = []
    previous, sys.unraisablehook = sys.unraisablehook, lambda u: unraisable.append(u.exc_value)
    try:
        table = pacsv.read_csv(
            pa.BufferReader(source) if isinstance(source, bytes) else source,
            read_options=pacsv.ReadOptions(
                column_names=shape.names,
                block_size=1 << 24,
                use_threads=not shape.text_values,  # serial reads know each row's line
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=shape.delimiter,
                invalid_row_handler=count_bad,
                newlines_in_values=shape.text_values,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=list(types),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as err:
        if unraisable or "invalid UTF8" in str(err):
            raise _NotUtf8 from err
        raise
    finally:
        sys.unraisablehook = previous
    if unraisable:
        raise _NotUtf8
    return table, bad


def _read_with_text_fallback(
    source: Path | bytes, present: dict[str, pa.DataType], shape: _Shape
) -> tuple[pa.Table, _BadRows, list[str]]:
    """Read the file, re-reading as text each number column that holds a non-number.

    Returns the table, the skipped rows and the columns read as text.
    """
    types = dict(present)
    as_text: list[str] = []  # number columns holding some non-number, read as text
    while True:
        try:
            table, bad = _read_table(source, types, shape)
            return table, bad, as_text
        except pa.ArrowInvalid as err:
            # "In CSV column #1: CSV conversion error to int32: invalid value 'abc'": read that
            # column as text and coerce it, so the bad values become <NA> and are counted.
            found = re.search(r"In CSV column #(\d+):(?: Row #\d+:)? CSV conversion", str(err))
            header = shape.header
            column = header[int(found[1])] if found and int(found[1]) < len(header) else None
            if column not in types or types[column] == pa.string():
                kind = _sep_name(shape.delimiter)
                message = f"{shape.name} could not be parsed as a {kind} file: {err}"
                raise DataError(message) from err
            types[column] = pa.string()
            as_text.append(column)


def _drop_swallowed_rows(
    table: pa.Table,
    bad: _BadRows,
    source: Path | bytes,
    name: str,
    delimiter: str,
    report: LoadReport,
) -> pa.Table:
    """Drop rows whose text spans lines (an unclosed quote) and count every line they hold."""
    spans = [
        pc.fill_null(pc.match_substring_regex(table.column(col), r"[\n\r]"), False)
        for col in table.column_names
        if pa.types.is_string(table.schema.field(col).type)
    ]
    swallowed = functools.reduce(pc.or_, spans) if spans else None
    if not bad.multiline and (swallowed is None or not pc.any(swallowed).as_py()):
        return table
    raw = source if isinstance(source, bytes) else source.read_bytes()
    records = multiline_records(decode_with_fallback(raw)[0], delimiter)
    bad.count -= len(bad.multiline)
    lost = sum(n for _, n in records)
    if not records:  # not expected: the csv module splits records as pyarrow does
        multi = pc.sum(swallowed).as_py() if swallowed is not None else 0
        lost = len(bad.multiline) + (multi or 0)
    report.count(f"{name}_rows_lost_to_unclosed_quote", lost)
    where = f" starting at {_at([line for line, _ in records])}" if records else ""
    report.details.append(
        f"{name}: {lost:,} row{'s' if lost != 1 else ''} lost to an unclosed quote{where}"
    )
    if swallowed is not None:
        table = table.filter(pc.invert(swallowed))
    return table


def _report_malformed(bad: _BadRows, source: Path | bytes, name: str, report: LoadReport) -> None:
    """Count malformed lines and name the first of them."""
    report.count(f"{name}_malformed_lines", bad.count)
    if not bad.count:
        return
    known = [n for n, _ in bad.first if n is not None]
    unknown = [text for n, text in bad.first if n is None]
    lines = sorted(known + [n for n in line_numbers(source, unknown) if n is not None])
    where = f" (at {_at(lines, bad.count)})" if lines else ""
    report.details.append(
        f"{name}: {_lines(bad.count)} with the wrong number of fields{where}, skipped"
    )


def _lines(n: int) -> str:
    return f"{n:,} line{'s' if n != 1 else ''}"


def _at(lines: Sequence[int], total: int = 0) -> str:
    """``"line 7"``, ``"lines 7, 9, 12, ..."`` (the dots when ``total`` lines are more)."""
    shown = ", ".join(str(n) for n in lines[:_FIRST_LINES])
    more = ", ..." if max(total, len(lines)) > _FIRST_LINES else ""
    return f"line {shown}" if max(total, len(lines)) == 1 else f"lines {shown}{more}"


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
    check_text_file(path)
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
    """Non-blank lines of a small text file: UTF-8, with the bytes that are not read as cp1252
    (ml-100k and ml-1m are latin-1; their accented letters are the same in cp1252)."""
    check_text_file(path)
    text, not_utf8 = decode_with_fallback(path.read_bytes())
    if not_utf8:
        report.details.append(
            f"{path.name}: {_lines(len(not_utf8))} not UTF-8 (at {_at(not_utf8)}), "
            "read as latin-1/cp1252"
        )
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
