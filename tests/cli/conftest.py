"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli_env(monkeypatch, tiny_engine, tiny_settings, tiny_data_dir):
    """Point the CLI at the session's tiny artifacts (already built by ``tiny_engine``)."""
    monkeypatch.setenv("MOVIE_ARTIFACTS", str(tiny_settings.artifacts_dir))
    monkeypatch.setenv("MOVIE_CACHE", str(tiny_settings.cache_dir))
    monkeypatch.setenv("MOVIE_TEXT_SOURCES", "0")
    return ["--data", str(tiny_data_dir)]
