"""MovieLens folder layouts: which layout a folder is in, its catalogue name, its title format.

Only names and text patterns live here; reading files is :mod:`core.data.readers`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd

from core.errors import DataError

#: Rating scale of the modern MovieLens files (half stars).
HALF_STAR_SCALE = (0.5, 5.0)
#: Rating scale of ml-100k and ml-1m (whole stars).
WHOLE_STAR_SCALE = (1.0, 5.0)

#: ml-100k's genre flag columns, in file order (used when u.genre is absent).
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip

# "Title (1995)", "Title (2006–2007)", "Title (2007-)"; the year is the first one.
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$")

# Files that identify each folder layout, and which of them are required.
LAYOUT_FILES: dict[str, tuple[str, ...]] = {
    "ml-100k": ("u.data", "u.item"),
    "ml-1m": ("ratings.dat", "movies.dat"),
    "csv": ("ratings.csv", "movies.csv"),
}


def detect_layout(folder: Path) -> str | None:
    """Layout of a MovieLens folder from its file names: ``"ml-100k"``, ``"ml-1m"``,
    ``"ml-10m"`` (the ml-1m layout with ``tags.dat``), ``"csv"``, or ``None`` when unknown."""
    names = {p.name for p in folder.iterdir() if p.is_file()}
    if names & {"u.data", "u.item"}:
        return "ml-100k"
    if names & {"ratings.dat", "movies.dat"}:
        return "ml-10m" if "tags.dat" in names else "ml-1m"
    if names & {"ratings.csv", "movies.csv"}:
        return "csv"
    return None


def dataset_name(folder: Path) -> str:
    """Stable catalogue name for a folder: slug of its name plus a short hash of its path."""
    resolved = folder.resolve()
    slug = re.sub(r"[^a-z0-9]+", "-", resolved.name.lower()).strip("-") or "data"
    digest = hashlib.sha1(str(resolved).encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def parse_titles(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split ``"Toy Story (1995)"`` into title and year (``Int16``, <NA> when absent).

    Handles ranges (``"Death Note (2006–2007)"`` -> 2006), open ranges and trailing whitespace;
    titles without a year are returned stripped with a missing year.
    """
    clean = titles.astype("string").fillna("").str.strip()
    parts = clean.str.extract(_TITLE_YEAR)
    has_year = parts["year"].notna()
    title = clean.where(~has_year, parts["title"].str.strip())
    year = pd.to_numeric(parts["year"], errors="coerce").astype("Int16")
    return title.astype("string"), year


def genre_name(genre: str) -> str:
    """Old MovieLens genre names in the modern spelling, so genre lists agree across data sets."""
    return {"Children's": "Children", "unknown": "(no genres listed)"}.get(genre, genre)


def rating_scale(layout: str) -> tuple[float, float]:
    """Rating scale of a layout: whole stars for ml-100k and ml-1m, half stars otherwise."""
    return WHOLE_STAR_SCALE if layout in ("ml-100k", "ml-1m") else HALF_STAR_SCALE


def rating_step(scale: tuple[float, float]) -> float:
    """Smallest difference between two ratings: whole stars on the ml-100k / ml-1m scale."""
    return 1.0 if tuple(float(v) for v in scale) == WHOLE_STAR_SCALE else 0.5


def find_layout(folder: Path) -> tuple[Path, str, list[str]]:
    """The folder holding the data (``folder`` or its one data subfolder), its layout, and
    warnings to report.

    Raises:
        DataError: missing folder, a file, no recognisable layout, or a required file missing.
    """
    if not folder.exists():
        raise DataError(f"Data folder not found: {folder}")
    if not folder.is_dir():
        raise DataError(f"Expected a data folder, got a file: {folder}")
    layout = detect_layout(folder)
    warnings: list[str] = []
    if layout is None:
        # A zip extracted into a folder of the same name ("ml-25m/ml-25m") is common.
        inner = [p for p in sorted(folder.iterdir()) if p.is_dir() and detect_layout(p)]
        if len(inner) == 1:
            warnings.append(f"Using the data in subfolder {inner[0].name}/")
            folder, layout = inner[0], detect_layout(inner[0])
        else:
            found = ", ".join(sorted(p.name for p in folder.iterdir())[:12]) or "nothing"
            raise DataError(
                f"{folder} does not look like a MovieLens folder. Expected movies.csv + "
                "ratings.csv (ml-latest-small, ml-latest, ml-25m, ml-32m), movies.dat + "
                f"ratings.dat (ml-1m, ml-10m) or u.item + u.data (ml-100k); found: {found}."
            )
    assert layout is not None
    required = LAYOUT_FILES["ml-1m" if layout == "ml-10m" else layout]
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{folder} looks like the {layout} layout but is missing {', '.join(missing)} "
            f"(expected {' and '.join(required)})."
        )
    return folder, layout, warnings
