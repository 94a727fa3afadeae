"""The batch input files of the command line: ``search --queries`` JSONL and ``predict --pairs``
CSV, read strictly, each problem named by its line.
"""

from __future__ import annotations

import codecs
import csv
import decimal
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from core.cli.parser import INT64_MAX, INT64_MIN
from core.errors import DataError

#: How many bad lines an error message names.
_SHOWN = 3


def _read_bytes(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise DataError(f"{what} file {path} does not exist.")
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataError(f"Cannot read {path}: {err.strerror}.") from err


def query_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """``(line number, record, problem)`` for each non-blank line of a JSONL query file.

    ``record`` is the JSON object with a text ``"query"``, or None with ``problem`` saying why
    the line cannot be used.
    """
    raw = _read_bytes(path, "Query")
    for number, line in enumerate(raw.splitlines(), 1):
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if line.strip():
            yield number, *_query_record(line)


def _query_record(line: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, f"not UTF-8 text (byte 0x{line[err.start]:02x} at column {err.start + 1})"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"not JSON ({err.msg} at column {err.colno})"
    except RecursionError:
        return None, "not JSON (nested too deeply)"
    if not isinstance(record, dict):
        return None, f'expected a JSON object like {{"query": "..."}}, got {_short(record)}'
    if "query" not in record:
        return None, 'no "query" field'
    if not isinstance(record["query"], str):
        return None, f'"query" must be text, got {_short(record["query"])}'
    return record, ""


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_pairs(path: Path) -> pd.DataFrame:
    """``userId, movieId`` (int64) of a pairs CSV.

    Rows with an empty or non-numeric id are skipped with a note naming their lines; an id
    that is fractional, not finite or outside the 64-bit range is an error, since rounding or
    wrapping it would answer for another user or movie.
    """
    raw = _read_bytes(path, "Pairs")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x}).") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    missing = [col for col in ("userId", "movieId") if col not in header]
    if missing:
        raise DataError(f"{path} needs columns userId,movieId (missing {missing}).")
    cols = [header.index("userId"), header.index("movieId")]
    pairs: list[tuple[int, int]] = []
    skipped: list[int] = []
    errors: list[str] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            pair, problem = _pair(row, cols)
            if problem:
                errors.append(f"line {reader.line_num}: {problem}")
            elif pair is None:
                skipped.append(reader.line_num)
            else:
                pairs.append(pair)
    except csv.Error as err:
        raise DataError(f"{path}:{reader.line_num}: {err}.") from None
    if errors:
        more = f" (and {len(errors) - _SHOWN:,} more)" if len(errors) > _SHOWN else ""
        raise DataError(f"{path}: " + ", ".join(errors[:_SHOWN]) + more + ".")
    if skipped:
        where = ", ".join(str(n) for n in skipped[:_SHOWN]) + (", ..." * (len(skipped) > _SHOWN))
        print(
            f"note: skipped {len(skipped)} rows with empty or non-numeric ids (line {where})",
            file=sys.stderr,
        )
    return pd.DataFrame(pairs, columns=["userId", "movieId"], dtype="int64")


def _pair(row: list[str], cols: list[int]) -> tuple[tuple[int, int] | None, str]:
    """The ``(userId, movieId)`` of a row, or None when an id is absent or not a number, and
    the problems that make the row an error."""
    ids, problems = [], []
    for name, col in zip(("userId", "movieId"), cols, strict=True):
        text = row[col] if col < len(row) else ""
        value, problem, fatal = _parse_id(text)
        ids.append(value)
        if fatal:
            problems.append(f"{name} {text.strip()!r} {problem}")
    user, movie = ids
    pair = None if user is None or movie is None else (user, movie)
    return pair, "; ".join(problems)


def _parse_id(text: str) -> tuple[int | None, str, bool]:
    """``(id, problem, fatal)``: an exact whole number, or why not (fatal unless just absent or
    not a number)."""
    try:
        number = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        return None, "is not a number", False
    if not number.is_finite():
        return None, "is not a finite number", True
    if number != number.to_integral_value():
        return None, "is not a whole number", True
    if number.adjusted() > 18 or not INT64_MIN <= int(number) <= INT64_MAX:
        return None, "is outside the range of ids (64-bit integers)", True
    return int(number), "", False
