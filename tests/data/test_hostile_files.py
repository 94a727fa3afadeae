"""Hostile data files: every row the loader drops or repairs is counted and its line named.

Unclosed quotes, bytes that are not UTF-8, NUL and control characters, binary junk; each case
is a tiny folder written into ``tmp_path``.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from core.data.catalog import Catalog
from core.data.loaders import load_catalog
from core.errors import DataError

HEADER = "movieId,title,genres\n"
# Twelve movies on lines 2-13 (the header is line 1).
MOVIE_LINES = [f"{i},Movie {i} (1990),Drama\n" for i in range(1, 13)]
RATINGS = "userId,movieId,rating,timestamp\n" + "".join(
    f"{u},{m},4.0,{u * 100 + m}\n" for u in (1, 2) for m in range(1, 13)
)


def folder(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return tmp_path


def movies_with(**lines: str) -> str:
    """The twelve movies with some file lines replaced: ``movies_with(l7="...")``."""
    rows = list(MOVIE_LINES)
    for key, text in lines.items():
        rows[int(key[1:]) - 2] = text
    return HEADER + "".join(rows)


def load(path: Path) -> Catalog:
    return load_catalog(path, enrich=False)


BROKEN = '6,"Broken (1996),Drama\n'


@pytest.mark.parametrize(
    ("movies", "lost"),
    [
        # The quote never closes: lines 7 to 13, the end of the file, are swallowed.
        (movies_with(l7=BROKEN), 7),
        # It closes at the opening quote of a quoted title on line 10: lines 7-10 are one
        # record with too many fields.
        (movies_with(l7=BROKEN, l10='9,"Movie 9, The (1999)",Drama\n'), 4),
        # It closes at the end of line 8, giving a record of the right shape whose title
        # holds a newline.
        (movies_with(l7=BROKEN, l8='7,Movie 7 (1997)",Drama\n'), 2),
    ],
)
def test_unclosed_quote_counts_every_line_it_ate(tmp_path, movies, lost):
    catalog = load(folder(tmp_path, {"movies.csv": movies, "ratings.csv": RATINGS}))
    report = catalog.report
    assert report.counts["movies.csv_rows_lost_to_unclosed_quote"] == lost
    assert "movies.csv_malformed_lines" not in report.counts
    assert report.n_movies == 12 - lost
    assert report.counts["ratings_unknown_movie"] == 2 * lost
    expected = f"movies.csv: {lost} rows lost to an unclosed quote starting at line 7"
    assert expected in report.details and expected in report.summary()
    assert not catalog.movies["title"].str.contains("\n").any()


def test_stray_quote_in_ratings_counts_every_line_it_ate(tmp_path):
    # Line 4 opens a quote that never closes: it and the 21 lines after it are lost.
    lines = RATINGS.splitlines(keepends=True)
    ratings = "".join(lines[:3]) + '1,3,"4.0,103\n' + "".join(lines[4:])
    report = load(folder(tmp_path, {"movies.csv": movies_with(), "ratings.csv": ratings})).report
    assert report.counts["ratings.csv_rows_lost_to_unclosed_quote"] == 22
    assert "ratings.csv_malformed_lines" not in report.counts
    assert report.n_ratings == 2
    assert "ratings.csv: 22 rows lost to an unclosed quote starting at line 4" in report.details


def test_unclosed_quote_in_tags_is_counted(tmp_path):
    tags = 'userId,movieId,tag,timestamp\n1,1,ok,1\n1,2,"open,2\n1,3,eaten,3\n1,4,gone,4\n'
    catalog = load(
        folder(tmp_path, {"movies.csv": movies_with(), "ratings.csv": RATINGS, "tags.csv": tags})
    )
    assert catalog.report.counts["tags.csv_rows_lost_to_unclosed_quote"] == 3
    assert "tags.csv: 3 rows lost to an unclosed quote starting at line 3" in (
        catalog.report.details
    )
    assert catalog.tags["tag"].tolist() == ["ok"]


def test_nul_and_control_characters_are_removed_and_counted(tmp_path):
    movies = movies_with(l3="2,Nul\x00 Title\x07 (1990),Drama\x1b\n")
    movies = movies.replace("4,Movie 4 (1990)", "4,Tab\tTitle (1990)")
    tags = "userId,movieId,tag,timestamp\n1,1,ok,1\n1,2,bad\x00tag,2\n1,3,\x01\x02,3\n"
    catalog = load(
        folder(tmp_path, {"movies.csv": movies, "ratings.csv": RATINGS, "tags.csv": tags})
    )
    titles = catalog.movies.set_index("movieId")["title"]
    assert titles[2] == "Nul Title" and titles[4] == "Tab Title"
    assert catalog.movies.set_index("movieId").loc[2, "genres"] == "Drama"
    assert sorted(catalog.tags["tag"]) == ["badtag", "ok"]
    counts = catalog.report.counts
    assert counts["movies_control_characters"] == 2
    assert counts["tags_control_characters"] == 2 and counts["tags_empty"] == 1
    for column in ("title", "genres", "tags"):
        assert not catalog.movies[column].str.contains(r"[\x00-\x1f\x7f]").any()


@pytest.mark.parametrize(
    ("raw_title", "shown"),
    [
        (b"Movi\xe9 8", "Movié 8"),  # latin-1 / cp1252 e-acute
        (b"Caf\xe9 \x93Noir\x94", "Café “Noir”"),  # cp1252 curly quotes
        (b"Odd \x81 byte", "Odd \x81 byte"),  # undefined in cp1252: read as latin-1
    ],
)
def test_bytes_that_are_not_utf8_are_read_as_cp1252_and_named(tmp_path, raw_title, shown):
    movies = movies_with(l9="8,PLACEHOLDER (1998),Drama\n").encode()
    movies = movies.replace(b"PLACEHOLDER", raw_title)
    movies += "13,Death Note: Desu nôto (2006),Anime\n".encode()  # valid UTF-8 stays intact
    catalog = load(folder(tmp_path, {"movies.csv": movies, "ratings.csv": RATINGS}))
    titles = catalog.movies.set_index("movieId")["title"]
    assert titles[8] == shown and titles[13] == "Death Note: Desu nôto"
    report = catalog.report
    assert report.counts["movies.csv_lines_not_utf8"] == 1
    assert any(d.startswith("movies.csv: 1 line not UTF-8 (at line 9)") for d in report.details)


def test_ratings_not_utf8_are_counted_without_noise(tmp_path, capfd):
    ratings = RATINGS.encode() + b"3,1\xe9,4.0,1\n3,2,4.0\xff,1,extra\n3,3,4.0,1\n"
    catalog = load(folder(tmp_path, {"movies.csv": movies_with(),
                                     "ratings.csv": ratings}))  # fmt: skip
    counts = catalog.report.counts
    assert counts["ratings.csv_lines_not_utf8"] == 2
    assert counts["ratings_bad_ids"] == 1 and counts["ratings.csv_malformed_lines"] == 1
    assert catalog.report.n_ratings == 25
    assert "ratings.csv: 1 line with the wrong number of fields (at line 27), skipped" in (
        catalog.report.details
    )
    _, err = capfd.readouterr()
    assert "Traceback" not in err and "Exception ignored" not in err


def test_malformed_lines_are_named(tmp_path):
    ratings = RATINGS + "3,1,4.0,1,extra\n3,2\n3,3,4.0,1\n3,4\n3,5\n"
    catalog = load(folder(tmp_path, {"movies.csv": movies_with(),
                                     "ratings.csv": ratings}))  # fmt: skip
    assert catalog.report.counts["ratings.csv_malformed_lines"] == 4
    assert (
        "ratings.csv: 4 lines with the wrong number of fields (at lines 26, 27, 29, ...), skipped"
        in catalog.report.details
    )


_RANDOM = random.Random(7).randbytes(5000)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"ratings.csv": _RANDOM}, "ratings.csv is not a text file"),
        ({"ratings.csv": b"userId,movieId,rating,timestamp\n" + _RANDOM}, "not a text file"),
        ({"movies.csv": _RANDOM}, "movies.csv is not a text file"),
        ({"ratings.csv": gzip.compress(RATINGS.encode())}, "gzip-compressed file"),
        ({"ratings.csv": RATINGS.encode("utf-16")}, "UTF-16 text; save it again as UTF-8"),
        ({"ratings.csv": b"PK\x03\x04" + _RANDOM}, "zip archive"),
    ],
)
def test_binary_junk_is_refused_cleanly(tmp_path, capfd, files, message):
    data = {"movies.csv": movies_with(), "ratings.csv": RATINGS, **files}
    with pytest.raises(DataError, match=message):
        load(folder(tmp_path, data))
    out, err = capfd.readouterr()
    assert not out and not err


@pytest.mark.parametrize("name", ["u.data", "u.item"])
def test_binary_junk_in_ml100k_is_refused(tmp_path, capfd, name):
    files = {"u.data": "1\t1\t4\t100\n", "u.item": "1|Toy Story (1995)|" + "|0" * 21 + "\n"}
    files[name] = _RANDOM
    with pytest.raises(DataError, match=f"{name} is not a text file"):
        load(folder(tmp_path, files))
    assert capfd.readouterr() == ("", "")


def test_unclosed_quote_swallowing_a_large_file_is_counted(tmp_path):
    # Far beyond the csv module's default 128 KB field limit.
    lines = "".join(f"1,{1 + i % 12},tag number {i},{i}\n" for i in range(20_000))
    tags = 'userId,movieId,tag,timestamp\n1,1,ok,1\n1,2,"open,2\n' + lines
    catalog = load(
        folder(tmp_path, {"movies.csv": movies_with(), "ratings.csv": RATINGS, "tags.csv": tags})
    )
    assert catalog.report.counts["tags.csv_rows_lost_to_unclosed_quote"] == 20_001
    assert "tags.csv: 20,001 rows lost to an unclosed quote starting at line 3" in (
        catalog.report.details
    )


def test_quote_swallowing_every_movie_says_so(tmp_path):
    movies = HEADER + '1,"Open (1990),Drama\n' + "".join(MOVIE_LINES[1:])
    with pytest.raises(DataError, match="12 rows lost to an unclosed quote starting at line 2"):
        load(folder(tmp_path, {"movies.csv": movies, "ratings.csv": RATINGS}))
