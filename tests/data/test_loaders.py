"""Tests for :mod:`core.data.loaders`: every layout, every kind of bad input, the real data sets.

Tiny folders are written into ``tmp_path`` per test; the real ml-latest-small folder and the
built-in snapshot are checked for their published counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.catalog import MOVIE_COLUMNS, RATING_COLUMNS, TAG_COLUMNS, Catalog
from core.data.layouts import dataset_name
from core.data.loaders import load_catalog
from core.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]
ML_LATEST_SMALL = REPO_ROOT.parent / "shared" / "data" / "ml-latest-small"

MOVIES_CSV = """movieId,title,genres
3,"Usual Suspects, The (1995)",Crime|Mystery|Thriller
1,Toy Story (1995),Adventure|Animation|Children
2,"Death Note: Desu nôto (2006–2007)",(no genres listed)
4,Cosmos ,Documentary
"""
RATINGS_CSV = """userId,movieId,rating,timestamp
1,1,4.0,100
1,3,5.0,101
2,1,3.5,102
2,2,0.5,103
"""


def write(folder: Path, files: dict[str, str], encoding: str = "utf-8") -> Path:
    """Write text files into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding=encoding)
    return folder


def load(folder: Path) -> Catalog:
    return load_catalog(folder, enrich=False)


def assert_schema(catalog: Catalog) -> None:
    """Exact columns, order and dtypes; movies sorted by id."""
    for frame, columns in (
        (catalog.movies, MOVIE_COLUMNS),
        (catalog.ratings, RATING_COLUMNS),
        (catalog.tags, TAG_COLUMNS),
    ):
        assert list(frame.columns) == list(columns)
        assert {c: str(t) for c, t in frame.dtypes.items()} == columns
    assert catalog.movies["movieId"].is_monotonic_increasing
    assert catalog.movies.index.equals(pd.RangeIndex(len(catalog.movies)))
    for col, dtype in MOVIE_COLUMNS.items():
        if dtype == "string":
            assert not catalog.movies[col].isna().any(), col


# --------------------------------------------------------------------------- CSV layout


def test_csv_layout_reads_clean_folder(tmp_path: Path) -> None:
    tags = "userId,movieId,tag,timestamp\n1,1,Pixar,5\n2,1,pixar ,6\n2,1,Fun,7\n1,3,twist,8\n"
    links = "movieId,imdbId,tmdbId\n1,0114709,862\n3,0114814,\n"
    folder = write(
        tmp_path / "My Data",
        {
            "movies.csv": MOVIES_CSV,
            "ratings.csv": RATINGS_CSV,
            "tags.csv": tags,
            "links.csv": links,
        },
    )
    catalog = load(folder)
    assert_schema(catalog)
    movies = catalog.movies.set_index("movieId")
    assert movies.loc[3, "title"] == "Usual Suspects, The"
    assert movies.loc[3, "display_title"] == "The Usual Suspects"
    assert movies.loc[2, "year"] == 2006 and movies.loc[2, "title"] == "Death Note: Desu nôto"
    assert pd.isna(movies.loc[4, "year"]) and movies.loc[4, "title"] == "Cosmos"
    assert movies.loc[1, "tags"] == "pixar|fun"  # lower-cased, deduplicated, most used first
    assert movies.loc[1, "imdbId"] == 114709 and movies.loc[1, "tmdbId"] == 862
    assert pd.isna(movies.loc[3, "tmdbId"]) and pd.isna(movies.loc[2, "imdbId"])
    report = catalog.report
    assert report.layout == "csv"
    assert (report.n_users, report.n_movies, report.n_ratings, report.n_tags) == (2, 4, 4, 4)
    assert report.counts == {"movies_without_ratings": 1, "movies_without_year": 1}
    assert report.files_read == ["movies.csv", "ratings.csv", "tags.csv", "links.csv"]
    assert report.text_coverage["tags"] == 2
    assert catalog.name.startswith("my-data-") and catalog.name == dataset_name(folder)
    assert catalog.user_items.shape == (2, 4)


def test_malformed_lines_are_counted(tmp_path: Path) -> None:
    ratings = RATINGS_CSV + "3,1,4.0,104,extra\n3,2\n"
    catalog = load(write(tmp_path / "d", {"movies.csv": MOVIES_CSV, "ratings.csv": ratings}))
    assert catalog.report.counts["ratings.csv_malformed_lines"] == 2
    assert catalog.report.n_ratings == 4


def test_bad_ratings_are_counted_and_dropped(tmp_path: Path) -> None:
    ratings = (
        RATINGS_CSV
        + "3,1,0.0,1\n3,2,5.5,1\n3,3,3.3,1\n4,1,-1,1\n"  # out of scale / off the half-star step
        + ",1,4.0,1\nabc,2,4.0,1\n5,1.5,4.0,1\n"  # missing, non-numeric and fractional ids
        + "6,1,,1\n6,2,good,1\n"  # missing and non-numeric ratings
        + "7,99,4.0,1\n"  # unknown movie
        + "8,1,4.0,\n"  # missing timestamp: kept with 0
    )
    catalog = load(write(tmp_path / "d", {"movies.csv": MOVIES_CSV, "ratings.csv": ratings}))
    counts = catalog.report.counts
    assert counts["ratings_out_of_scale"] == 4
    assert counts["ratings_bad_ids"] == 3
    assert counts["ratings_bad_values"] == 2
    assert counts["ratings_unknown_movie"] == 1
    assert counts["ratings_missing_timestamp"] == 1
    assert catalog.report.n_ratings == 5
    assert_schema(catalog)
    assert catalog.ratings["rating"].between(0.5, 5).all()
    assert catalog.ratings.loc[catalog.ratings["userId"] == 8, "timestamp"].tolist() == [0]


@pytest.mark.parametrize("sorted_file", [True, False])
def test_duplicate_ratings_keep_latest(tmp_path: Path, sorted_file: bool) -> None:
    rows = ["1,1,2.0,100", "1,1,4.0,300", "1,1,3.0,200", "1,3,5.0,50", "2,1,1.0,10", "2,1,1.5,10"]
    if not sorted_file:
        rows = rows[3:] + rows[:3]
    ratings = "userId,movieId,rating,timestamp\n" + "\n".join(rows) + "\n"
    catalog = load(write(tmp_path / "d", {"movies.csv": MOVIES_CSV, "ratings.csv": ratings}))
    assert catalog.report.counts["duplicate_ratings_dropped"] == 3
    kept = catalog.ratings.set_index(["userId", "movieId"])["rating"]
    assert kept[(1, 1)] == 4.0  # latest timestamp
    assert kept[(2, 1)] == 1.5  # same time: the later line
    assert len(kept) == 3


def test_bad_movies_and_tags_are_counted(tmp_path: Path) -> None:
    movies = MOVIES_CSV + "1,Toy Story again (1995),Comedy\nx,Broken (2000),Drama\n5,,Drama\n"
    tags = "userId,movieId,tag,timestamp\n1,1,ok,1\n1,1,  ,2\n1,77,lost,3\n,1,noid,4\n1,3,late,\n"
    catalog = load(
        write(tmp_path / "d", {"movies.csv": movies, "ratings.csv": RATINGS_CSV, "tags.csv": tags})
    )
    counts = catalog.report.counts
    assert counts["duplicate_movies_dropped"] == 1
    assert counts["movies_bad_ids"] == 1
    assert counts["movies_without_title"] == 1
    assert counts["tags_empty"] == 1 and counts["tags_unknown_movie"] == 1
    assert counts["tags_bad_ids"] == 1 and counts["tags_missing_timestamp"] == 1
    assert catalog.report.n_tags == 2
    movies = catalog.movies.set_index("movieId")
    assert movies.loc[1, "title"] == "Toy Story"  # the first of the repeated ids wins
    assert movies.loc[5, "title"] == "" and movies.loc[5, "display_title"] == "Untitled (movie 5)"


def test_semicolon_csv_is_reported(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "d",
        {"movies.csv": MOVIES_CSV, "ratings.csv": RATINGS_CSV.replace(",", ";")},
    )
    with pytest.raises(DataError, match=r"ratings\.csv is separated by semicolons"):
        load(folder)


def test_semicolon_rows_under_comma_header_are_reported(tmp_path: Path) -> None:
    body = RATINGS_CSV.splitlines()
    ratings = body[0] + "\n" + "\n".join(line.replace(",", ";") for line in body[1:]) + "\n"
    folder = write(tmp_path / "d", {"movies.csv": MOVIES_CSV, "ratings.csv": ratings})
    with pytest.raises(DataError, match=r"separator"):
        load(folder)


def test_missing_column_is_reported(tmp_path: Path) -> None:
    ratings = "userId,movieId,timestamp\n1,1,5\n"
    folder = write(tmp_path / "d", {"movies.csv": MOVIES_CSV, "ratings.csv": ratings})
    with pytest.raises(DataError, match=r"ratings\.csv is missing required column.*rating"):
        load(folder)


def test_missing_movie_title_column_is_reported(tmp_path: Path) -> None:
    movies = "movieId,name,genres\n1,Toy Story (1995),Comedy\n"
    folder = write(tmp_path / "d", {"movies.csv": movies, "ratings.csv": RATINGS_CSV})
    with pytest.raises(DataError, match=r"movies\.csv is missing required column\(s\) title"):
        load(folder)


def test_bad_genome_files_only_warn(tmp_path: Path) -> None:
    files = {
        "movies.csv": MOVIES_CSV,
        "ratings.csv": RATINGS_CSV,
        "genome-scores.csv": "movie;tag;relevance\n1;1;0.9\n",
        "genome-tags.csv": "tagId,tag\n1,funny\n",
    }
    catalog = load(write(tmp_path / "d", files))
    assert any(w.startswith("Genome tags skipped") for w in catalog.report.warnings)
    assert catalog.report.n_ratings == 4


def test_missing_file_is_reported(tmp_path: Path) -> None:
    folder = write(tmp_path / "d", {"movies.csv": MOVIES_CSV})
    with pytest.raises(DataError, match=r"missing ratings\.csv"):
        load(folder)
    with pytest.raises(DataError, match=r"not found"):
        load(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"does not look like a MovieLens folder.*movies.csv"):
        load(write(tmp_path / "other", {"notes.txt": "hello"}))


def test_no_usable_ratings_is_an_error(tmp_path: Path) -> None:
    ratings = "userId,movieId,rating,timestamp\n1,99,4.0,1\n1,1,9.0,1\n"
    folder = write(tmp_path / "d", {"movies.csv": MOVIES_CSV, "ratings.csv": ratings})
    with pytest.raises(DataError, match=r"No usable ratings.*unknown movie: 1"):
        load(folder)


def test_nested_folder_is_found(tmp_path: Path) -> None:
    write(tmp_path / "outer" / "ml-small", {"movies.csv": MOVIES_CSV, "ratings.csv": RATINGS_CSV})
    catalog = load(tmp_path / "outer")
    assert catalog.report.n_ratings == 4
    assert any("subfolder ml-small" in w for w in catalog.report.warnings)


def test_genome_tags_are_added(tmp_path: Path) -> None:
    genome_tags = "tagId,tag\n" + "".join(f"{i},g{i:02d}\n" for i in range(1, 26)) + "26,Pixar\n"
    scores = ["movieId,tagId,relevance"]
    scores += [f"1,{i},{0.8 + i / 1000:.3f}" for i in range(1, 26)]  # 25 relevant tags
    scores += ["1,26,0.99", "3,1,0.5", "3,2,0.85", "99,1,0.9"]
    folder = write(
        tmp_path / "d",
        {
            "movies.csv": MOVIES_CSV,
            "ratings.csv": RATINGS_CSV,
            "tags.csv": "userId,movieId,tag,timestamp\n1,1,fun,1\n",
            "genome-tags.csv": genome_tags,
            "genome-scores.csv": "\n".join(scores) + "\n",
        },
    )
    movies = load(folder).movies.set_index("movieId")
    toy = movies.loc[1, "tags"].split("|")
    assert toy[:3] == ["fun", "pixar", "g25"]  # user tags first, then genome by relevance
    assert len(toy) == 1 + 20  # at most 20 genome tags
    assert movies.loc[3, "tags"] == "g02"


# --------------------------------------------------------------------------- other layouts


def test_ml100k_layout(tmp_path: Path) -> None:
    flags = ["0"] * 19

    def item(movie_id: int, title: str, date: str, genres: list[int]) -> str:
        row = list(flags)
        for g in genres:
            row[g] = "1"
        return "|".join([str(movie_id), title, date, "", "http://us.imdb.com/x", *row])

    items = "\n".join(
        [
            item(1, "Toy Story (1995)", "01-Jan-1995", [3, 4, 5]),
            item(2, "Café au lait (1993)", "01-Jan-1993", [5]),
            item(3, "unknown", "01-Jan-1996", [0]),
            "4|Broken line",
        ]
    )
    data = "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t3.5\t881250951\n2\t3\t0\t1\n2\t2\t4\t2\n"
    folder = tmp_path / "ml-100k"
    write(folder, {"u.item": items + "\n"}, encoding="latin-1")
    write(folder, {"u.data": data})
    catalog = load(folder)
    assert_schema(catalog)
    report = catalog.report
    assert report.layout == "ml-100k" and report.rating_scale == (1.0, 5.0)
    assert report.counts["ratings_out_of_scale"] == 2  # 3.5 and 0 on a whole-star scale
    assert report.counts["u.item_malformed_lines"] == 1
    movies = catalog.movies.set_index("movieId")
    assert movies.loc[1, "genres"] == "Animation|Children|Comedy"
    assert movies.loc[2, "title"] == "Café au lait"
    assert movies.loc[3, "year"] == 1996 and movies.loc[3, "genres"] == "(no genres listed)"


def test_ml1m_and_ml10m_layouts(tmp_path: Path) -> None:
    movies = "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Amélie (2001)::Comedy|Romance\n"
    ratings = "1::1::5::978300760\n1::2::3::978302109\n2::1::4::978301968\nbad line\n"
    folder = tmp_path / "ml-1m"
    write(folder, {"movies.dat": movies}, encoding="latin-1")
    write(folder, {"ratings.dat": ratings})
    catalog = load(folder)
    assert_schema(catalog)
    assert catalog.report.layout == "ml-1m" and catalog.report.rating_scale == (1.0, 5.0)
    assert catalog.report.counts == {"ratings.dat_malformed_lines": 1}
    assert catalog.movies["title"].tolist() == ["Toy Story", "Amélie"]
    assert catalog.movies["genres"].iloc[0] == "Animation|Children|Comedy"  # modern spelling

    folder = tmp_path / "ml-10m"
    write(folder, {"movies.dat": movies, "ratings.dat": ratings.replace("::3::", "::3.5::")})
    write(folder, {"tags.dat": "1::1::pixar::1\n2::1::Pixar::2\n1::2::Paris: France::3\n"})
    catalog = load(folder)
    assert catalog.report.layout == "ml-10m" and catalog.report.rating_scale == (0.5, 5.0)
    assert catalog.report.n_ratings == 3 and catalog.report.n_tags == 3
    assert catalog.movies["tags"].tolist() == ["pixar", "paris: france"]


def test_progress_messages(tmp_path: Path) -> None:
    calls: list[tuple[str, float]] = []
    folder = write(tmp_path / "d", {"movies.csv": MOVIES_CSV, "ratings.csv": RATINGS_CSV})
    load_catalog(folder, enrich=False, progress=lambda m, f: calls.append((m, f)))
    assert "Reading ratings.csv" in [m for m, _ in calls]
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)


# --------------------------------------------------------------------------- real data


def test_builtin_data() -> None:
    catalog = load_catalog(None, enrich=False)
    assert_schema(catalog)
    report = catalog.report
    assert (report.n_users, report.n_movies, report.n_ratings) == (671, 9066, 100_004)
    assert catalog.name == "builtin" and report.layout == "builtin"
    assert not catalog.movies["display_title"].str.endswith(" ").any()


@pytest.mark.skipif(
    not ML_LATEST_SMALL.is_dir(), reason=f"ml-latest-small not found at {ML_LATEST_SMALL}"
)
def test_ml_latest_small() -> None:
    catalog = load_catalog(ML_LATEST_SMALL, enrich=False)
    assert_schema(catalog)
    report = catalog.report
    assert (report.n_users, report.n_movies, report.n_ratings, report.n_tags) == (
        610,
        9742,
        100_836,
        3683,
    )
    assert report.counts.get("movies_without_ratings") == 18
    assert not any(k.endswith("malformed_lines") or "bad" in k for k in report.counts)
    assert np.isin(catalog.ratings["movieId"], catalog.movie_ids).all()
    assert catalog.movies["tmdbId"].notna().sum() > 9700
