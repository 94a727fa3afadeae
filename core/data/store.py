"""A built catalogue on disk: the movies, ratings and tags as Parquet plus the load report.

Written once per build into the ``catalog`` artifact folder and read back when an engine
loads; it never parses MovieLens files (that is :mod:`core.data.loaders`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from core.data.catalog import MOVIE_COLUMNS, RATING_COLUMNS, TAG_COLUMNS, Catalog, LoadReport


def write_catalog(catalog: Catalog, folder: Path) -> None:
    """Save ``catalog`` into ``folder`` (created by the caller)."""
    catalog.movies.to_parquet(folder / "movies.parquet", index=False)
    catalog.ratings.to_parquet(folder / "ratings.parquet", index=False)
    catalog.tags.to_parquet(folder / "tags.parquet", index=False)
    (folder / "report.json").write_text(json.dumps(catalog.report.to_dict()))
    (folder / "name.txt").write_text(catalog.name)


def read_catalog(folder: Path) -> Catalog:
    """The catalogue saved by :func:`write_catalog`."""
    movies = pd.read_parquet(folder / "movies.parquet").astype(MOVIE_COLUMNS)
    ratings = pd.read_parquet(folder / "ratings.parquet").astype(RATING_COLUMNS)
    tags = pd.read_parquet(folder / "tags.parquet").astype(TAG_COLUMNS)
    report = LoadReport.from_dict(json.loads((folder / "report.json").read_text()))
    return Catalog((folder / "name.txt").read_text(), movies, ratings, tags, report)
