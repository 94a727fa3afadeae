"""Helpers for the app tests: a tiny MovieLens folder on disk and the environment that points
the app at it (artifacts and caches in temporary folders, no text downloads)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pandas as pd

from tests.fixtures import make_movies, make_ratings, make_tags

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "streamlit_app.py"


def write_tiny_movielens(folder: Path, n_users: int = 40) -> Path:
    """Write the 20-movie test catalogue in the ml-latest-small CSV layout, plus a TMDB-style
    CSV (overviews, directors, cast) next to it; returns the TMDB CSV's path."""
    folder.mkdir(parents=True, exist_ok=True)
    movies = make_movies()
    titles = [
        f"{t} ({int(y)})" if pd.notna(y) else str(t)
        for t, y in zip(movies["title"], movies["year"], strict=True)
    ]
    pd.DataFrame(
        {"movieId": movies["movieId"], "title": titles, "genres": movies["genres"]}
    ).to_csv(folder / "movies.csv", index=False)
    pd.DataFrame(
        {"movieId": movies["movieId"], "imdbId": movies["imdbId"], "tmdbId": movies["tmdbId"]}
    ).to_csv(folder / "links.csv", index=False)
    make_ratings(n_users).to_csv(folder / "ratings.csv", index=False)
    make_tags().to_csv(folder / "tags.csv", index=False)
    tmdb = folder.parent / f"{folder.name}-tmdb.csv"
    pd.DataFrame(
        {
            "id": movies["tmdbId"],
            "imdb_id": [f"tt{int(i):07d}" for i in movies["imdbId"]],
            "title": movies["display_title"],
            "release_date": [f"{int(y)}-06-01" for y in movies["year"]],
            "overview": movies["overview"],
            "director": movies["directors"],
            "cast": movies["cast"],
            "keywords": movies["keywords"],
        }
    ).to_csv(tmdb, index=False)
    return tmdb


def tiny_app_env(root: Path) -> dict[str, str]:
    """Environment for serving the tiny catalogue from ``root`` (created if needed)."""
    data = root / "data" / "tiny-movielens"
    tmdb = write_tiny_movielens(data)
    cache = root / "cache"  # empty: no TMDB 5000 or plot files, nothing to fetch
    cache.mkdir(parents=True, exist_ok=True)
    return {
        "MOVIE_DATA": str(data),
        "MOVIE_ARTIFACTS": str(root / "artifacts"),
        "MOVIE_CACHE": str(cache),
        "MOVIE_TEXT_SOURCES": "0",
        "MOVIE_TMDB_CSV": str(tmdb),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def sample_metrics() -> dict[str, dict[str, object]]:
    """Metrics files as ``python -m core evaluate`` writes them (one file per section)."""
    return {
        "rating.json": {
            "name": "rating",
            "protocol": "80/20 random split of ratings, seed 42; RMSE and MAE on the 20%.",
            "rows": [
                {"model": "global mean", "RMSE": 1.04, "MAE": 0.83, "seconds": 0.0},
                {"model": "SVD", "RMSE": 0.87, "MAE": 0.67, "seconds": 3.1},
            ],
            "chosen": {},
            "seconds": 3.2,
            "dataset": "tiny",
            "written_at": 1_735_732_800.0,
        },
        "ranking_loo.json": {
            "name": "ranking_loo",
            "protocol": "Leave each user's last rating out; rank all unseen movies.",
            "rows": [
                {"model": "popularity", "HitRate@10": 0.21, "nDCG@10": 0.11},
                {"model": "hybrid", "HitRate@10": 0.42, "nDCG@10": 0.23},
            ],
            "chosen": {"weights": {"collab": 0.6, "semantic": 0.4}},
            "seconds": 12.0,
        },
        "search.json": {
            "name": "search",
            "protocol": "Reddit-style requests with a known answer; MRR@10.",
            "rows": [{"model": "bm25", "MRR": 0.31}, {"model": "hybrid", "MRR": 0.44}],
            "chosen": {},
            "seconds": 40.0,
        },
    }


def write_metrics(folder: Path) -> list[Path]:
    """Write :func:`sample_metrics` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, payload in sample_metrics().items():
        path = folder / name
        path.write_text(json.dumps(payload, indent=2))
        paths.append(path)
    return paths


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment plus ``extra`` and offline flags, for subprocesses."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    env.update(extra or {})
    return env
