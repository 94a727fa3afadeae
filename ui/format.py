"""Text for display: stars, percentages, ages, links, genre lists, shortened text, Markdown
escaping, and the signals' labels, help and colours. Pure functions; no widgets, no engine.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from core.data.rawtext import INVISIBLE_PATTERN
from core.serving.explore import plain_records
from core.signals.registry import COMPONENTS

__all__ = [
    "SIGNAL_COLORS",
    "SIGNAL_HELP",
    "SIGNAL_LABELS",
    "age_text",
    "escape_md",
    "escape_md_after_bold",
    "escape_plot",
    "genres_text",
    "imdb_url",
    "people_list",
    "percent",
    "plain_records",
    "shorten",
    "stars",
    "title_with_year",
    "tmdb_url",
    "weights_text",
    "year_text",
]

# The signals' names, help texts and colours come from the component registry (one list).
SIGNAL_LABELS: dict[str, str] = {c.name: c.label for c in COMPONENTS if c.label}
SIGNAL_HELP: dict[str, str] = {c.name: c.help for c in COMPONENTS if c.help}
SIGNAL_COLORS: dict[str, str] = {c.name: c.color for c in COMPONENTS if c.color}


def stars(value: float | None, digits: int = 1) -> str:
    """``4.3 ★`` (empty for unknown values)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return ""
    return f"{float(value):.{digits}f} ★"


def percent(value: float | None, digits: int = 0) -> str:
    """``42%`` for 0.42."""
    if value is None or pd.isna(value):
        return ""
    return f"{100 * float(value):.{digits}f}%"


def age_text(seconds: float | None) -> str:
    """``"3 min ago"``, ``"2.5 h ago"``, ``"4 days ago"``."""
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def imdb_url(imdb_id: Any) -> str | None:
    """The IMDb page of a movie, when its id is known."""
    if imdb_id is None or pd.isna(imdb_id):
        return None
    return f"https://www.imdb.com/title/tt{int(imdb_id):07d}/"


def tmdb_url(tmdb_id: Any) -> str | None:
    """The TMDB page of a movie, when its id is known."""
    if tmdb_id is None or pd.isna(tmdb_id):
        return None
    return f"https://www.themoviedb.org/movie/{int(tmdb_id)}"


def genres_text(genres: Any) -> str:
    """``"Action, Sci-Fi"`` from MovieLens' pipe-separated genres."""
    if genres is None or pd.isna(genres):
        return ""
    return ", ".join(g for g in str(genres).split("|") if g and not g.startswith("("))


def year_text(year: Any) -> str:
    """``1999`` or an empty string."""
    return "" if year is None or pd.isna(year) else str(int(year))


def title_with_year(title: Any, year: Any) -> str:
    """``"Heat (1995)"``, or the bare title when the year is unknown."""
    shown = year_text(year)
    return f"{title} ({shown})" if shown else str(title)


def shorten(text: Any, limit: int = 220) -> str:
    """Text cut at a word boundary with an ellipsis."""
    if text is None or pd.isna(text):
        return ""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def people_list(value: Any) -> list[str]:
    """Names from a pipe-separated directors/cast field (empty when unknown)."""
    if value is None or pd.isna(value):
        return []
    return [v.strip() for v in str(value).split("|") if v.strip()]


# Characters Markdown, GitHub tables and Streamlit's maths give a meaning anywhere in a line; a
# backslash makes each one literal (CommonMark escapes any ASCII punctuation). HTML's three
# become entities instead, so no "<img" or "<script" is left in the source at all.
_MD_SPECIALS = re.compile(r"([\\`*_\[\]|~$#])")
_HTML_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
# Streamlit directives (``:red[x]``, ``:material/home:``) and emoji shortcodes start with a
# colon followed by a name; "Alien: Resurrection" (colon, space) stays as it is.
_DIRECTIVE_COLON = re.compile(r":(?=[A-Za-z0-9_/+-])")
# Markers that start a block only at the beginning of a line: list items, numbered items,
# setext underlines. Escape them there; elsewhere they are ordinary text.
_BLOCK_START = re.compile(r"^([-+=])|^(\d+)([.)])")
# C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a viewer reads.
_INVISIBLE = re.compile(INVISIBLE_PATTERN)  # tab, newline and return: whitespace, split below


def _one_line(text: Any) -> str:
    """``text`` on one line: control characters and whitespace runs become one space."""
    return " ".join(_INVISIBLE.sub(" ", "" if text is None else str(text)).split())


def escape_md(text: Any) -> str:
    """``text`` as literal inline Markdown: shown as written, never as a link, image, HTML,
    maths, emphasis, table, block or Streamlit directive.

    For every catalogue field (titles, genres, tags, overviews, people) and every user or
    derived string (prompts, reasons, notes, error messages) put into Markdown. Newlines
    and other whitespace runs become one space (the text is inline); control characters go.
    """
    text = _MD_SPECIALS.sub(r"\\\1", _one_line(text))
    for char, entity in _HTML_ENTITIES:
        text = text.replace(char, entity)
    # Streamlit rewrites ":material/" in the source before parsing, escaped colon or not.
    text = _DIRECTIVE_COLON.sub(r"\\:", text).replace(":material/", ":material\\/")
    return _BLOCK_START.sub(lambda m: "\\" + m[1] if m[1] else m[2] + "\\" + m[3], text)


def escape_plot(text: Any) -> str:
    """``text`` as literal plotly label text (ticks, legends, hover, subplot titles).

    Plotly reads its own HTML subset in every label: ``<a href>`` becomes a link, ``<span
    style>`` restyles, ``<br>`` breaks the line. A title or genre from the data must show as
    written, so ``&``, ``<`` and ``>`` become the entities plotly turns back into characters,
    and control characters go, as in :func:`escape_md`.
    """
    return html.escape(_one_line(text), quote=False)


def escape_md_after_bold(text: str) -> str:
    """``"**Label** rest"`` with only the rest escaped (the bold label is our own Markdown)."""
    head, sep, rest = text.partition("** ")
    return head + sep + escape_md(rest) if sep else escape_md(text)


def weights_text(weights_used: Mapping[str, float]) -> str:
    """``"Collaborative 60%, Semantic 40%"``: effective blend weights, largest first."""
    return ", ".join(
        f"{SIGNAL_LABELS.get(name, name)} {percent(share)}"
        for name, share in sorted(weights_used.items(), key=lambda kv: -kv[1])
    )
