"""Shared pytest fixtures: a tiny catalogue and the sentence encoder, loaded once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures import make_tiny_catalog  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
ML_LATEST_SMALL = SHARED / "ml-latest-small"
TOMT = SHARED / "tomt-movies" / "train.jsonl"

needs_shared = pytest.mark.skipif(
    not (ML_LATEST_SMALL / "ratings.csv").exists(),
    reason=f"real MovieLens data not found at {ML_LATEST_SMALL} (no ../shared beside this clone)",
)


@pytest.fixture(scope="session")
def tiny_catalog():
    """A 20-movie catalogue with a sci-fi and a romance taste group (do not mutate)."""
    return make_tiny_catalog()


@pytest.fixture(scope="session")
def encoder():
    """The sentence encoder, loaded once for the whole test session."""
    from core.signals.encoder import Encoder

    return Encoder()


def write_movielens_csv(folder: Path) -> Path:
    """Write the tiny catalogue as a MovieLens CSV folder (movies, ratings, tags, links)."""
    from tests.fixtures import make_movies, make_ratings, make_tags

    folder.mkdir(parents=True, exist_ok=True)
    movies = make_movies()
    titles = [
        f"{t} ({y})" if str(y) != "<NA>" else str(t)
        for t, y in zip(movies["title"], movies["year"], strict=True)
    ]
    movies.assign(title=titles)[["movieId", "title", "genres"]].to_csv(
        folder / "movies.csv", index=False
    )
    make_ratings().to_csv(folder / "ratings.csv", index=False)
    make_tags().to_csv(folder / "tags.csv", index=False)
    movies[["movieId", "imdbId", "tmdbId"]].to_csv(folder / "links.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def tiny_settings(tmp_path_factory):
    """Settings writing artifacts into a temporary folder, without the offline text sources."""
    from core.config import Settings

    root = tmp_path_factory.mktemp("artifacts")
    return Settings(artifacts_dir=root, cache_dir=root / "_cache", use_tmdb=False, use_plots=False)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """A MovieLens-CSV folder holding the tiny catalogue."""
    return write_movielens_csv(tmp_path_factory.mktemp("data") / "tiny-ml")


@pytest.fixture(scope="session")
def tiny_engine(tiny_data_dir, tiny_settings):
    """An engine built once per session on the tiny folder (do not mutate)."""
    from core.serving.engine import Engine

    return Engine.open(tiny_data_dir, tiny_settings)
