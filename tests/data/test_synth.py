"""Synthetic MovieLens data (core.data.synth): it loads, has the asked counts and a MovieLens shape,
is deterministic, refuses bad input and foreign folders, and carries a learnable signal."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.config import Settings
from core.data.loaders import load_catalog
from core.data.synth import (
    GENRES,
    HALF_STARS_FROM,
    NO_GENRES,
    SynthError,
    generate,
    is_synth_folder,
)
from core.errors import DataError, WorkbenchError
from core.evaluation.signals import subset_catalog
from core.signals.base import Query
from core.signals.ranking import make_ranker

# ~5% dense like ml-100k: at 300 movies x 10k ratings the head saturates (nearly every user has
# rated the top movies), which flattens any popularity curve.
USERS, MOVIES, RATINGS = 300, 1000, 15_000
SETTINGS = Settings(use_tmdb=False, use_plots=False)
FILES = ["README.txt", "links.csv", "movies.csv", "ratings.csv", "synth.json", "tags.csv"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "ml-synth"
    return out, generate(out, users=USERS, movies=MOVIES, ratings=RATINGS, seed=7)


@pytest.fixture(scope="module")
def catalog(synth):
    return load_catalog(synth[0], SETTINGS)


@pytest.fixture(scope="module")
def raw_ratings(synth) -> pd.DataFrame:
    """ratings.csv as written (file order)."""
    return pd.read_csv(synth[0] / "ratings.csv")


def test_summary_files_and_marker(synth):
    out, summary = synth
    assert (summary.users, summary.movies, summary.ratings, summary.tags) == (
        USERS, MOVIES, RATINGS, round(0.04 * RATINGS),
    )  # fmt: skip
    assert summary.seconds > 0 and summary.peak_rss_mb > 0 and summary.ratings_per_second > 0
    assert f"{RATINGS:,} ratings" in summary.line() and "peak RSS" in summary.line()
    assert json.loads(json.dumps(summary.to_dict()))["ratings"] == RATINGS
    assert sorted(p.name for p in out.iterdir()) == FILES
    marker = json.loads((out / "synth.json").read_text())
    assert marker["complete"] is True and marker["seed"] == 7 and is_synth_folder(out)
    assert "SYNTHETIC" in (out / "README.txt").read_text()
    headers = {name: (out / name).open().readline().strip() for name in FILES if ".csv" in name}
    assert headers == {
        "links.csv": "movieId,imdbId,tmdbId",
        "movies.csv": "movieId,title,genres",
        "ratings.csv": "userId,movieId,rating,timestamp",
        "tags.csv": "userId,movieId,tag,timestamp",
    }


def test_loads_cleanly_with_the_asked_counts(catalog):
    report = catalog.report
    assert report.layout == "csv"
    assert (report.n_users, report.n_movies, report.n_ratings, report.n_tags) == (
        USERS, MOVIES, RATINGS, round(0.04 * RATINGS),
    )  # fmt: skip
    # Nothing dropped or repaired; only some unpopular movies are unrated (as in MovieLens).
    assert set(report.counts) <= {"movies_without_ratings"}
    assert report.counts.get("movies_without_ratings", 0) < 0.2 * MOVIES
    assert not report.warnings


def test_movies_look_like_movielens(catalog, synth):
    movies = catalog.movies
    assert movies["year"].notna().all() and movies["year"].between(1902, 2023).all()
    raw = pd.read_csv(synth[0] / "movies.csv")
    assert raw["title"].is_unique and raw["title"].str.match(r"^.+ \(\d{4}\)$").all()
    assert raw["title"].str.contains(", The (", regex=False).any()  # MovieLens article style
    genres = movies["genres"].str.split("|")
    assert set(genres.explode()) <= {*GENRES, NO_GENRES}
    assert 1.8 < genres.str.len().mean() < 2.8
    assert movies["imdbId"].notna().all() and movies["imdbId"].is_unique
    assert movies["tmdbId"].notna().all() and movies["tmdbId"].is_unique
    assert (movies["tags"] != "").sum() > 50


def test_ratings_have_a_movielens_shape(catalog, raw_ratings):
    ratings = catalog.ratings
    assert not ratings.duplicated(["userId", "movieId"]).any()
    stars = ratings["rating"].to_numpy(dtype=np.float64)
    assert stars.min() >= 0.5 and stars.max() <= 5.0 and np.all(stars * 2 == np.round(stars * 2))
    shares = pd.Series(stars).value_counts(normalize=True)
    assert shares.idxmax() == 4.0 and 3.3 < stars.mean() < 3.7
    per_user = ratings["userId"].value_counts()
    assert per_user.min() >= 20 and per_user.max() > 4 * per_user.median()
    counts = np.sort(np.bincount(catalog.items_for(ratings["movieId"].to_numpy())))[::-1]
    assert counts[: MOVIES // 10].sum() > 0.4 * RATINGS  # long-tailed popularity
    # Written grouped by user, by movie within a user, with non-decreasing times.
    assert raw_ratings["userId"].is_monotonic_increasing
    assert (raw_ratings.groupby("userId")["movieId"].diff().dropna() > 0).all()
    assert (raw_ratings.groupby("userId")["timestamp"].diff().dropna() >= 0).all()
    years = pd.to_datetime(raw_ratings["timestamp"], unit="s").dt.year
    assert years.min() >= 1996 and years.max() <= 2023
    early = raw_ratings["timestamp"] < HALF_STARS_FROM
    assert early.any() and (raw_ratings.loc[early, "rating"] % 1 == 0).all()
    # Nobody rates a movie before the year it came out.
    year_of = dict(zip(catalog.movies["movieId"], catalog.movies["year"], strict=True))
    assert (years >= raw_ratings["movieId"].map(year_of)).all()


def test_tags_are_on_rated_movies_and_follow_genres(catalog):
    tags, ratings = catalog.tags, catalog.ratings
    assert not tags.duplicated(["userId", "movieId", "tag"]).any()
    pairs = set(zip(ratings["userId"], ratings["movieId"], strict=True))
    assert all(p in pairs for p in zip(tags["userId"], tags["movieId"], strict=True))
    assert tags["userId"].nunique() < 0.3 * USERS  # a minority of users tag
    genre_of = dict(zip(catalog.movies["movieId"], catalog.movies["genres"], strict=True))
    scifi = tags[tags["tag"].isin(["space", "aliens", "time travel", "robots"])]
    assert len(scifi) and scifi["movieId"].map(genre_of).str.contains("Sci-Fi").mean() > 0.8


def test_same_seed_same_bytes_in_chunks(tmp_path):
    def make(name: str, seed: int) -> dict[str, bytes]:
        out = tmp_path / name
        generate(out, users=60, movies=120, ratings=3000, seed=seed, chunk_ratings=1000)
        return {p.name: p.read_bytes() for p in out.glob("*.csv")}

    first, again, other = make("a", 1), make("b", 1), make("c", 2)
    assert first == again
    assert first["ratings.csv"] != other["ratings.csv"]
    assert first["ratings.csv"].count(b"\n") == 3001  # header + rows over several chunks


def test_edge_sizes(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no NaN from a genre without movies
        generate(tmp_path / "full", users=4, movies=6, ratings=24, seed=1)
        generate(tmp_path / "thin", users=30, movies=50, ratings=45, tags=0, seed=1)
    full = pd.read_csv(tmp_path / "full" / "ratings.csv")
    assert len(full) == 24 and full.groupby("userId").size().eq(6).all()
    thin = load_catalog(tmp_path / "thin", SETTINGS)
    assert thin.report.n_users == 30 and thin.report.n_ratings == 45 and thin.report.n_tags == 0


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"users": 0}, "users must be between 1"),
        ({"movies": 2.5}, "movies must be a whole number"),
        ({"ratings": True}, "ratings must be a whole number"),
        ({"ratings": 5}, "must be at least users"),
        ({"ratings": 10 * 20 + 1}, "cannot exceed users x movies"),
        ({"tags": -1}, "tags must be between 0"),
        ({"tags": 6 * 100 + 1}, "tags must be between 0"),
        ({"seed": -3}, "seed must be between 0"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, sizes, message):
    args = {"users": 10, "movies": 20, "ratings": 100, **sizes}
    with pytest.raises(SynthError, match=message) as err:
        generate(tmp_path / "out", **args)
    assert isinstance(err.value, WorkbenchError)
    assert not (tmp_path / "out").exists()  # nothing written on bad arguments


def test_refuses_foreign_folders_but_replaces_its_own(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="refusing to overwrite"):
        generate(foreign, users=5, movies=10, ratings=50)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    with pytest.raises(DataError, match="is a file"):
        generate(foreign / "notes.txt", users=5, movies=10, ratings=50)

    own = tmp_path / "synth"
    generate(own, users=5, movies=10, ratings=50, seed=1)
    generate(own, users=6, movies=10, ratings=60, seed=2)  # an earlier output is replaced
    assert json.loads((own / "synth.json").read_text())["users"] == 6
    (own / "extra.csv").write_text("x")  # ... but not once something else was added
    with pytest.raises(DataError, match="refusing to overwrite"):
        generate(own, users=5, movies=10, ratings=50)


def test_cli(capsys, tmp_path):
    out = tmp_path / "cli"
    args = ["synth", "--users", "40", "--movies", "80", "--ratings", "2000", "--out", str(out)]
    assert main([*args, "--seed", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["users"], summary["movies"], summary["ratings"], summary["tags"]) == (
        40, 80, 2000, 80,
    )  # fmt: skip
    assert summary["seconds"] > 0 and summary["peak_rss_mb"] > 0
    assert main([*args, "--tags", "10"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and "2,000 ratings, 10 tags" in captured.out
    assert main(["synth", "--users", "40", "--movies", "8", "--ratings", "2000", "--out",
                 str(tmp_path / "bad")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "error: ratings (2,000) cannot exceed users x movies" in err and "Traceback" not in err


def test_a_recommender_learns_from_it(catalog):
    """EASE beats most-popular on a random 20% holdout: who rated what carries taste."""
    ratings = catalog.ratings
    held = np.random.default_rng(0).random(len(ratings)) < 0.2
    train = subset_catalog(catalog, ratings[~held])
    ranker = make_ranker(train, SETTINGS).fit(train)
    items = train.items_for(train.ratings["movieId"].to_numpy())
    popularity = np.bincount(items, minlength=catalog.n_items).astype(np.float64)
    matrix = train.user_items
    truth = ratings[held].groupby("userId")["movieId"].agg(list)
    hits = {"ease": 0, "popular": 0}
    for user, movies in truth.items():
        row = train.user_of[int(user)]
        seen = matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]
        wanted = set(catalog.items_for(np.asarray(movies)).tolist())
        for name, scores in (
            ("ease", ranker.score(Query(user_id=int(user))).values.astype(np.float64)),
            ("popular", popularity.copy()),
        ):
            scores = np.where(np.isfinite(scores), scores, -np.inf)
            scores[seen] = -np.inf
            hits[name] += len(wanted & set(np.argsort(-scores)[:10].tolist()))
    assert hits["ease"] > 1.15 * hits["popular"], hits
