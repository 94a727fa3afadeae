"""Join offline TMDB text and Wikipedia plots to a catalogue's movies, and build per-movie text.

Matching and joining only: fetching and parsing the source files is :mod:`core.data.sources`.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog, normalise_title
from core.data.sources import (
    TMDB_COLUMNS,
    SourcePaths,
    ensure_sources,
    load_tmdb,
    read_plots_cached,
)
from core.progress import Progress

#: Word budget of the short text used for embeddings.
SHORT_TEXT_WORDS = 100


def _normalised(titles: list[str]) -> list[str]:
    """:func:`normalise_title` of each title, computed once per distinct title."""
    keys = {t: normalise_title(t) if t else "" for t in set(titles)}
    return [keys[t] for t in titles]


def _title_keys(titles: pd.Series, *, alternates: bool = True) -> pd.DataFrame:
    """Join keys of MovieLens titles: full title, main title, and the alternate title in
    parentheses ("Seven (a.k.a. Se7en)" -> "seven..." / "seven" / "se7en"); ``kind`` ranks them."""
    titles = titles.astype("string").fillna("")
    variants = [titles, titles.str.replace(r"\s*\(.*$", "", regex=True)]
    if alternates:
        variants.append(titles.str.extract(r"\((?:a\.k\.a\. )?([^()]*)\)\s*$")[0].fillna(""))
    values = pd.concat(variants, ignore_index=True).tolist()
    keys = pd.DataFrame(
        {
            "row": np.tile(np.arange(len(titles)), len(variants)),
            "key": _normalised(values),
            "kind": np.repeat(np.arange(len(variants)), len(titles)),
        }
    )
    keys = keys[keys["key"] != ""]
    return keys.sort_values("kind", kind="stable").drop_duplicates(["row", "key"])


def _unique_best(pairs: pd.DataFrame, left: str, right: str, rank: str) -> pd.DataFrame:
    """One-to-one matches from candidate ``pairs``: for each side, the best-ranked candidate,
    dropped when two different candidates tie for best (ambiguous)."""
    pairs = pairs.sort_values(rank, kind="stable").drop_duplicates([left, right])
    for a, b in ((left, right), (right, left)):
        best = pairs.groupby(a)[rank].transform("min")
        pairs = pairs[pairs[rank] == best]
        ties = pairs.groupby(a)[b].transform("nunique")
        pairs = pairs[ties == 1]
    return pairs[[left, right]].drop_duplicates()


def match_tmdb(movies: pd.DataFrame, tmdb: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row of ``tmdb`` for each movie (-1 when none) and whether it was matched by title.

    Through ``tmdbId`` (links.csv) or ``imdbId`` first; movies without a tmdbId then by
    normalised title and year within one year, keeping only unambiguous one-to-one matches.
    """
    match = np.full(len(movies), -1, dtype=np.int64)
    for col in ("tmdbId", "imdbId"):
        known = tmdb[col].notna().to_numpy()
        if not known.any():
            continue
        ids_known = tmdb.loc[known, col].to_numpy(dtype=np.int64)
        first = ~pd.Index(ids_known).duplicated()  # a user's CSV may repeat an id
        index = pd.Index(ids_known[first])
        rows = np.flatnonzero(known)[first]
        ids = movies[col]
        look = (match < 0) & ids.notna().to_numpy()
        found = index.get_indexer(ids[look].astype("int64"))
        positions = np.flatnonzero(look)
        match[positions[found >= 0]] = rows[found[found >= 0]]

    open_movies = (
        (match < 0) & movies["tmdbId"].isna().to_numpy() & movies["year"].notna().to_numpy()
    )
    taken = np.zeros(len(tmdb), dtype=bool)
    taken[match[match >= 0]] = True
    by_title = np.zeros(len(movies), dtype=bool)
    if not open_movies.any():
        return match, by_title
    rows_open = np.flatnonzero(open_movies)
    left = _title_keys(movies["title"].iloc[rows_open])
    left["row"] = rows_open[left["row"].to_numpy()]
    left["year"] = movies["year"].to_numpy(dtype=np.int64, na_value=0)[left["row"].to_numpy()]
    titles = [tmdb["title"], tmdb["original_title"]]
    right = pd.concat(
        [
            pd.DataFrame(
                {
                    "trow": np.arange(len(tmdb)),
                    "key": _normalised(col.tolist()),
                    "tkind": k,
                }
            )
            for k, col in enumerate(titles)
        ],
        ignore_index=True,
    )
    tmdb_years = tmdb["year"].to_numpy(dtype=np.float64, na_value=np.nan)
    right["tyear"] = tmdb_years[right["trow"].to_numpy()]
    right = right[(right["key"] != "") & right["tyear"].notna() & ~taken[right["trow"].to_numpy()]]
    pairs = left.merge(right, on="key")
    gap = (pairs["year"] - pairs["tyear"]).abs()
    pairs = pairs[gap <= 1].assign(rank=gap * 10 + pairs["kind"] + pairs["tkind"])
    found = _unique_best(pairs, "row", "trow", "rank")
    match[found["row"].to_numpy()] = found["trow"].to_numpy()
    by_title[found["row"].to_numpy()] = True
    return match, by_title


# Wikipedia categories that confirm a MovieLens genre (substring match on the category list).
_GENRE_WORDS = {
    "Action": ("action", "martial arts", "war"),
    "Adventure": ("adventure", "swashbuckler", "epic"),
    "Animation": ("animat", "anime", "cartoon"),
    "Children": ("children", "family"),
    "Comedy": ("comedy", "parody", "satire", "slapstick"),
    "Crime": ("crime", "gangster", "heist", "detective", "noir"),
    "Documentary": ("documentary",),
    "Drama": ("drama", "melodrama", "tragedy"),
    "Fantasy": ("fantasy", "fairy", "sword and sorcery", "supernatural"),
    "Film-Noir": ("noir",),
    "Horror": ("horror", "slasher", "zombie", "monster", "supernatural"),
    "IMAX": (),
    "Musical": ("musical", "music"),
    "Mystery": ("mystery", "detective", "suspense", "thriller"),
    "Romance": ("romance", "romantic"),
    "Sci-Fi": ("science fiction", "sci-fi", "space", "dystopia"),
    "Thriller": ("thriller", "suspense", "crime", "mystery"),
    "War": ("war",),
    "Western": ("western",),
}


def _genres_agree(ml_genres: str, categories: str) -> bool:
    """False only when both sides list genres and none of them agree (likely a namesake)."""
    genres = [g for g in ml_genres.split("|") if _GENRE_WORDS.get(g)]
    if not genres or not categories.strip():
        return True
    return any(word in categories for g in genres for word in _GENRE_WORDS[g])


def match_plots(movies: pd.DataFrame, plots: pd.DataFrame) -> np.ndarray:
    """Row of ``plots`` for each movie (-1 when none), joined by normalised title.

    The Wikipedia file has no years, so a title is used only when it names exactly one movie on
    each side, and a match is refused when the genres disagree entirely or the movie's TMDB
    overview (when joined first) has almost no words in common with the plot (a namesake).
    """
    match = np.full(len(movies), -1, dtype=np.int64)
    if not len(plots) or not len(movies):
        return match
    # Full and main title only: alternate titles are too loose without a year to check.
    left = _title_keys(movies["title"], alternates=False)
    left = left[left.groupby("key")["row"].transform("nunique") == 1]
    right = pd.DataFrame(
        {"prow": np.arange(len(plots)), "key": _normalised(plots["title"].tolist())}
    )
    right = right[(right["key"] != "") & ~right["key"].duplicated(keep=False)]
    pairs = _unique_best(left.merge(right, on="key"), "row", "prow", "kind")
    if "category" in plots and len(pairs):
        genres = movies["genres"].fillna("").to_numpy(dtype=object)[pairs["row"].to_numpy()]
        cats = plots["category"].to_numpy(dtype=object)[pairs["prow"].to_numpy()]
        agree = np.array([_genres_agree(g, c) for g, c in zip(genres, cats, strict=True)], bool)
        pairs = pairs[agree]
    if "overview" in movies and len(pairs):
        overviews = movies["overview"].fillna("").to_numpy(dtype=object)[pairs["row"].to_numpy()]
        texts = plots["plot"].to_numpy(dtype=object)[pairs["prow"].to_numpy()]
        agree = np.array(
            [_texts_agree(o, t) for o, t in zip(overviews, texts, strict=True)], dtype=bool
        )
        pairs = pairs[agree]
    match[pairs["row"].to_numpy()] = pairs["prow"].to_numpy()
    return match


# Words too common in plot summaries to show that two texts describe the same film.
_STOP_WORDS = frozenset({
    "that", "this", "with", "from", "their", "have", "will", "when", "they", "what", "into",
    "after", "about", "there", "which", "while", "been", "were", "where", "other", "them", "then",
    "only", "also", "more", "most", "over", "some", "such", "than", "your", "film", "story",
    "movie", "back", "must", "find", "finds", "life", "years", "year", "young", "begins", "takes",
    "gets", "make", "makes",
})  # fmt: skip


def _stems(text: str) -> set[str]:
    """Crude content-word stems (first five letters of words of four or more letters)."""
    return {w[:5] for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in _STOP_WORDS}


def _texts_agree(overview: str, plot: str) -> bool:
    """True unless a TMDB overview exists and shares fewer than two content words with the plot.

    Why two words: docs/experiments/data.md ("Plot namesakes").
    """
    if not overview:
        return True
    return len(_stems(overview) & _stems(plot)) >= 2


# --------------------------------------------------------------------------- enrichment


def enrich_catalog(
    catalog: Catalog,
    settings: Settings,
    progress: Progress | None = None,
    *,
    sources: SourcePaths | None = None,
) -> Catalog:
    """A copy of ``catalog`` with TMDB text and metadata and Wikipedia plots filled in.

    ``sources`` defaults to :func:`ensure_sources` (which may download once); pass explicit
    paths to stay offline. Sets ``report.text_coverage`` to the number of movies with tags,
    with TMDB text and with plots; unavailable sources become report warnings.
    """
    movies = catalog.movies.copy()
    report = copy.deepcopy(catalog.report)
    n = len(movies)
    # Start from blank text so enriching twice (or with other settings) gives the same result.
    for col in (*TMDB_COLUMNS, "plot"):
        dtype = movies[col].dtype
        movies[col] = pd.array([""] * n if dtype == "string" else [pd.NA] * n, dtype=dtype)
    if sources is None:
        wanted = settings.use_tmdb or settings.use_plots or settings.tmdb_csv
        sources = ensure_sources(settings, progress) if wanted else SourcePaths()
    warnings = list(sources.warnings)

    tmdb_text = np.zeros(n, dtype=bool)
    tmdb = load_tmdb(sources, settings, warnings)
    if tmdb is not None and len(tmdb):
        if progress is not None:
            progress("Joining TMDB overviews and credits", 0.1)
        match, by_title = match_tmdb(movies, tmdb)
        has = match >= 0
        rows = match[has]
        for col in TMDB_COLUMNS:
            values = movies[col].to_numpy(dtype=object, na_value=pd.NA, copy=True)
            values[has] = tmdb[col].to_numpy(dtype=object, na_value=pd.NA)[rows]
            movies[col] = pd.array(values, dtype=movies[col].dtype)
        ids = movies["tmdbId"].to_numpy(dtype=object, na_value=pd.NA, copy=True)
        ids[by_title] = tmdb["tmdbId"].to_numpy(dtype=object, na_value=pd.NA)[match[by_title]]
        movies["tmdbId"] = pd.array(ids, dtype="Int64")
        tmdb_text = has & (
            (movies["overview"] != "") | (movies["tagline"] != "") | (movies["keywords"] != "")
        ).to_numpy(dtype=bool)

    if settings.use_plots and sources.plots is not None:
        if progress is not None:
            progress("Joining Wikipedia plots", 0.6)
        try:
            plots = read_plots_cached(sources.plots)
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
            warnings.append(f"Plot file {sources.plots.name} skipped: {err}")
        else:
            match = match_plots(movies, plots)
            has = match >= 0
            values = movies["plot"].to_numpy(dtype=object, copy=True)
            values[has] = plots["plot"].to_numpy(dtype=object)[match[has]]
            movies["plot"] = pd.array(values, dtype="string")

    report.warnings.extend(w for w in dict.fromkeys(warnings) if w not in report.warnings)
    report.text_coverage = {
        "tags": int((movies["tags"] != "").sum()),
        "tmdb": int(tmdb_text.sum()),
        "plots": int((movies["plot"] != "").sum()),
    }
    return Catalog(
        name=catalog.name, movies=movies, ratings=catalog.ratings, tags=catalog.tags, report=report
    )


# --------------------------------------------------------------------------- text


def _listing(prefix: str, value: str, limit: int | None, joiner: str = ", ") -> str:
    """``"<prefix>a, b, c. "`` from a "|"-separated value ("" when empty)."""
    if not value:
        return ""
    items = [v for v in value.split("|", limit or -1)[:limit] if v]
    return f"{prefix}{joiner.join(items)}. " if items else ""


def _describe(row: tuple, long: bool) -> str:
    """The text of one movie; ``row`` follows the column order used in :func:`movie_text`."""
    title, year, genres, tags, keywords, directors, cast, tagline, overview, plot = row
    limit = None if long else 10
    parts = [f"{title} ({year}). " if year else f"{title}. "]
    parts.append(_listing("Genres: ", genres, None))
    parts.append(_listing("Tags: ", tags, limit))
    parts.append(_listing("Keywords: ", keywords, limit))
    parts.append(_listing("Directed by ", directors, None, " and "))
    parts.append(_listing("Starring ", cast, None if long else 3))
    if tagline:
        parts.append(tagline if tagline[-1] in ".!?" else tagline + ".")
        parts.append(" ")
    parts.append(overview)
    if long:
        parts.append(" " + plot)
    text = "".join(parts).strip()
    if not long:
        words = text.split(maxsplit=SHORT_TEXT_WORDS)
        if len(words) > SHORT_TEXT_WORDS:
            text = " ".join(words[:SHORT_TEXT_WORDS]) + " …"
    return text


def movie_text(movies: pd.DataFrame, *, long: bool) -> list[str]:
    """One text per movie (same order as ``movies``).

    ``long=False``: a short description for sentence embeddings -- title and year, genres, top
    tags and keywords, directors, cast, tagline and overview -- cut to about
    :data:`SHORT_TEXT_WORDS` words. ``long=True``: everything (all tags and keywords, full
    overview) plus the Wikipedia plot, for keyword search.
    """
    columns = [
        movies["display_title"].fillna(""),
        movies["year"].astype("string").fillna(""),
        movies["genres"].fillna("").str.replace("(no genres listed)", "", regex=False),
        *(
            movies[col].fillna("").str.strip()
            for col in ("tags", "keywords", "directors", "cast", "tagline", "overview")
        ),
        movies["plot"].fillna("") if long else pd.Series([""] * len(movies), dtype=object),
    ]
    rows = zip(*(c.tolist() for c in columns), strict=True)
    return [_describe(row, long) for row in rows]
