"""Byte-level checks of data files before they are parsed: binary junk, encodings, line numbers.

MovieLens CSV files are UTF-8. These helpers refuse files that are not text at all, repair
the odd byte that is not UTF-8 (read as cp1252, the usual culprit of a spreadsheet save) while
keeping the line numbers to report, find the records an unclosed quote swallowed, and strip
control characters from text fields.
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
import threading
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from core.errors import DataError

# How much of a file the binary sniff looks at, and the count and share of control bytes (other
# than tab, newline, carriage return) above which it is not text: text files have none or a
# handful, random bytes about 12%.
_SNIFF_BYTES = 1 << 16
_MAX_CONTROLS = 16
_MAX_CONTROL_SHARE = 0.01
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13)) + b"\x7f"
_MAGIC = {
    b"\x1f\x8b": "a gzip-compressed file; decompress it first",
    b"PK\x03\x04": "a zip archive; extract it first",
    b"\xff\xfe": "UTF-16 text; save it again as UTF-8",
    b"\xfe\xff": "UTF-16 text; save it again as UTF-8",
    b"PAR1": "a Parquet file, not CSV",
}
#: Characters stripped from text fields (tab, newline and carriage return become spaces).
CONTROL_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
#: Characters that mean nothing in text read from people (a request, or data shown back): the
#: controls above, the C1 controls and the bidirectional overrides that can make echoed text
#: read backwards. Tab, newline and carriage return are left to each caller's whitespace rule.
INVISIBLE_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"

_fallback = threading.local()


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the bytes that are not UTF-8 as cp1252 (latin-1 for the
    five bytes cp1252 leaves undefined) and remember where they were."""
    assert isinstance(err, UnicodeDecodeError)
    _fallback.positions.append(err.start)
    text = "".join(
        bytes([b]).decode("cp1252", errors="ignore") or chr(b)
        for b in err.object[err.start : err.end]
    )
    return text, err.end


codecs.register_error("core-cp1252-fallback", _cp1252_fallback)


def check_text_file(path: Path) -> None:
    """Raise a :class:`DataError` when ``path`` starts like a binary file rather than text."""
    with path.open("rb") as fh:
        sample = fh.read(_SNIFF_BYTES)
    for magic, what in _MAGIC.items():
        if sample.startswith(magic):
            raise DataError(f"{path.name} is {what}.")
    if not sample:
        return
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > max(_MAX_CONTROLS, _MAX_CONTROL_SHARE * len(sample)):
        raise DataError(
            f"{path.name} is not a text file ({controls:,} control bytes in its first "
            f"{len(sample):,}); expected a MovieLens CSV."
        )


def decode_with_fallback(raw: bytes) -> tuple[str, list[int]]:
    """UTF-8 text of ``raw`` (a BOM dropped) and the 1-based lines whose bytes were not UTF-8.

    Only the offending bytes are read as cp1252, so valid UTF-8 elsewhere stays intact.
    """
    _fallback.positions = []
    try:
        text = raw.decode("utf-8-sig", errors="core-cp1252-fallback")
        positions = _fallback.positions
    finally:
        del _fallback.positions
    lines: list[int] = []
    start, line = 0, 1
    for pos in positions:
        line += raw.count(b"\n", start, pos)
        start = pos
        if not lines or lines[-1] != line:
            lines.append(line)
    return text, lines


def line_numbers(source: Path | bytes, texts: Iterable[str]) -> list[int | None]:
    """1-based line where each row text (as pyarrow reports it) first stands as a whole line."""
    found: list[int | None] = []
    with _buffer(source) as data:
        for text in texts:
            needle = text.encode("utf-8", errors="surrogateescape")
            found.append(_find_line(data, needle))
    return found


def _find_line(data: bytes | mmap.mmap, needle: bytes) -> int | None:
    starts = [
        pos + 1  # just after the newline that ends the line before
        for pos in (data.find(b"\n" + needle + end) for end in (b"\n", b"\r"))
        if pos >= 0
    ]
    if data[: len(needle) + 1].rstrip(b"\r\n") == needle:
        starts.append(0)
    elif not starts and len(data) > len(needle) and data[-len(needle) - 1 :] == b"\n" + needle:
        starts.append(len(data) - len(needle))
    if not starts:
        return None
    start = min(starts)
    chunk = 1 << 24
    return 1 + sum(data[i : min(i + chunk, start)].count(b"\n") for i in range(0, start, chunk))


class _buffer:
    """``bytes`` as is, or a file memory-mapped read-only (empty files need no map)."""

    def __init__(self, source: Path | bytes) -> None:
        self.source = source
        self.fh = self.map = None

    def __enter__(self) -> bytes | mmap.mmap:
        if isinstance(self.source, bytes):
            return self.source
        self.fh = self.source.open("rb")
        if self.source.stat().st_size == 0:
            return b""
        self.map = mmap.mmap(self.fh.fileno(), 0, access=mmap.ACCESS_READ)
        return self.map

    def __exit__(self, *_exc: object) -> None:
        if self.map is not None:
            self.map.close()
        if self.fh is not None:
            self.fh.close()


def multiline_records(text: str, delimiter: str = ",") -> list[tuple[int, int]]:
    """``(first line, number of lines)`` of each record that spans several lines.

    In MovieLens files such a record is an unclosed quote that swallowed the following lines;
    Python's csv module splits records the way pyarrow does and keeps line numbers.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    spans, last = [], 0
    # A swallowing quote makes one field of up to the whole file; the limit is process-wide.
    limit = csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        for _ in reader:
            if reader.line_num > last + 1:
                spans.append((last + 1, reader.line_num - last))
            last = reader.line_num
    except csv.Error:  # count the rest of the file as one record
        lines = text.count("\n") + (not text.endswith("\n"))
        spans.append((last + 1, lines - last))
    finally:
        csv.field_size_limit(limit)
    return spans


def strip_controls(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text with control characters removed (tabs and newlines become spaces), and a boolean
    mask of the values that had any."""
    text = values.astype("string")
    has = text.str.contains(CONTROL_PATTERN + r"|[\t\n\r]", regex=True).fillna(False)
    has = has.astype(bool)
    if has.any():
        fixed = text[has].str.replace(r"[\t\n\r]", " ", regex=True)
        text = text.copy()
        text[has] = fixed.str.replace(CONTROL_PATTERN, "", regex=True)
    return text, has
