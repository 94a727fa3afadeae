"""Tests for :mod:`core.data.layouts`: layout detection from file names and title/year parsing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.data.layouts import detect_layout, parse_titles
from tests.data.test_loaders import write


def test_parse_titles_handles_years_ranges_and_whitespace() -> None:
    titles = pd.Series(
        ["Toy Story (1995)", "Death Note (2006–2007)", "Babylon 5", "Angst ", "Show (2007-)",
         "Seven (a.k.a. Se7en) (1995)", None]
    )  # fmt: skip
    title, year = parse_titles(titles)
    assert title.tolist() == [
        "Toy Story", "Death Note", "Babylon 5", "Angst", "Show", "Seven (a.k.a. Se7en)", ""
    ]  # fmt: skip
    assert year.tolist() == [1995, 2006, pd.NA, pd.NA, 2007, 1995, pd.NA]
    assert str(year.dtype) == "Int16"


def test_detect_layout(tmp_path: Path) -> None:
    assert detect_layout(write(tmp_path / "a", {"u.data": ""})) == "ml-100k"
    assert detect_layout(write(tmp_path / "b", {"ratings.dat": ""})) == "ml-1m"
    assert detect_layout(write(tmp_path / "c", {"ratings.dat": "", "tags.dat": ""})) == "ml-10m"
    assert detect_layout(write(tmp_path / "d", {"movies.csv": ""})) == "csv"
    assert detect_layout(write(tmp_path / "e", {"x.txt": ""})) is None
