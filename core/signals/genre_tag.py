"""Content similarity on genres and tags: "more movies like the ones you liked".

Scores from movie content only (genres, user tags, TMDB keywords); it must not read ratings
beyond the query's own profile, nor use the query text.

Each movie gets two sparse, L2-normalised vectors: a genre multi-hot and a TF-IDF of its
"|"-separated user tags (TMDB keywords for movies nobody tagged). A query's profile is the
weighted sum of the vectors of its liked and seed movies (:func:`core.signals.base.query_profile`);
a movie's score is ``genre_weight * cos(genre) + (1 - genre_weight) * cos(tags)``. Works for a
brand-new user with a handful of ratings as well as for "movies like Alien".
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import cast

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from core.config import Settings
from core.data.catalog import Catalog
from core.signals.base import Query, Scorer, Scores, read_meta, save_json
from core.signals.history import RatingHistory, liked_profile, unknown_notes

#: Ratings at or above this count as "liked" for the profile (else the user's above-mean ones).
LIKE_RATING = 3.5
#: How many shared tag terms or genres an explanation names.
EXPLAIN_TERMS = 3


def split_pipes(text: str) -> list[str]:
    """Tokenizer for "|"-separated fields: ``"Space|time"`` -> ``["space", "time"]``."""
    return [part.strip().lower() for part in str(text).split("|") if part.strip()]


def _genre_tokens(text: str) -> list[str]:
    """Genres of a movie, without MovieLens' "(no genres listed)" placeholder."""
    return [g.strip() for g in str(text).split("|") if g.strip() and not g.startswith("(")]


class GenreTagScorer(Scorer):
    """Cosine similarity of genre and tag vectors to the query's liked/seed movies.

    After :meth:`fit`: ``genres`` (items x genres) and ``tags`` (items x tag terms), both CSR
    float32 with L2-normalised rows; ``genre_names``/``tag_terms`` name their columns;
    ``has_content`` marks movies with genres or tags (others score NaN).

    ``genre_weight`` is the share of genres in the blend (1.0 = genres only, 0.0 = tags only;
    default ``Settings.genre_weight``); :meth:`with_genre_weight` gives a copy with another one.
    """

    name = "genre_tag"
    label = "Genre & tags"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        like_threshold: float = LIKE_RATING,
        genre_weight: float | None = None,
    ) -> None:
        default = (settings or Settings()).genre_weight
        self.genre_weight = float(default if genre_weight is None else genre_weight)
        self.like_threshold = float(like_threshold)
        self.genres = sp.csr_matrix((0, 0), dtype=np.float32)
        self.tags = sp.csr_matrix((0, 0), dtype=np.float32)
        self.genre_names = np.empty(0, dtype=str)
        self.tag_terms = np.empty(0, dtype=str)
        self.has_content = np.empty(0, dtype=bool)
        self.history = RatingHistory.empty()

    def fit(self, catalog: Catalog) -> GenreTagScorer:
        """Build the genre and TF-IDF tag matrices."""
        self.n_items = catalog.n_items
        self.history = RatingHistory.from_catalog(catalog)
        movies = catalog.movies
        genre_text = movies["genres"].fillna("").astype(str).tolist()
        genre_vec = CountVectorizer(
            tokenizer=_genre_tokens, lowercase=False, binary=True, token_pattern=None
        )
        try:
            genres = genre_vec.fit_transform(genre_text)
            self.genre_names = np.asarray(genre_vec.get_feature_names_out(), dtype=str)
        except ValueError:  # no genres at all in this data set
            genres = sp.csr_matrix((self.n_items, 0))
        tags = movies["tags"].fillna("").astype(str)
        if "keywords" in movies:
            keywords = movies["keywords"].fillna("").astype(str)
            tags = tags.where(tags.str.strip() != "", keywords)
        tag_vec = TfidfVectorizer(tokenizer=split_pipes, lowercase=False, token_pattern=None)
        try:
            tag_matrix = tag_vec.fit_transform(tags.tolist())  # rows L2-normalised (norm="l2")
            self.tag_terms = np.asarray(tag_vec.get_feature_names_out(), dtype=str)
        except ValueError:  # no tags or keywords anywhere
            tag_matrix = sp.csr_matrix((self.n_items, 0))
        self.genres = cast(sp.csr_matrix, normalize(genres.astype(np.float32), norm="l2").tocsr())
        self.tags = cast(sp.csr_matrix, sp.csr_matrix(tag_matrix, dtype=np.float32))
        self.has_content = (np.diff(self.genres.indptr) > 0) | (np.diff(self.tags.indptr) > 0)
        return self

    def with_genre_weight(self, weight: float) -> GenreTagScorer:
        """A shallow copy sharing the fitted matrices, blending with another ``genre_weight``
        (cheap: what the engine calls per query when the user moves the genre/tag slider)."""
        other = copy.copy(self)
        other.genre_weight = float(weight)
        return other

    # -- profiles -------------------------------------------------------------------------------
    def _profile(self, query: Query) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Liked and seed items with weights; falls back to above-mean ratings for harsh raters."""
        return liked_profile(self.history, query, self.like_threshold)

    def _profile_vectors(self, items: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
        """Dense genre and tag profile vectors (weighted sums of the items' rows)."""
        genre = np.asarray(self.genres[items].T @ weights, dtype=np.float32).ravel()
        tag = np.asarray(self.tags[items].T @ weights, dtype=np.float32).ravel()
        return genre, tag

    def score(self, query: Query) -> Scores:
        """Cosine of every movie to the query's liked/seed movies, genres and tags blended by
        :attr:`genre_weight`.

        Movies without genres and tags are NaN; so is everything when the query has no liked or
        seed movie (text is not used here).
        """
        weight = self.genre_weight
        items, weights, notes = self._profile(query)
        notes = list(dict.fromkeys(notes + unknown_notes(self.history, query)))
        if len(items) == 0:
            why = "empty query" if query.is_empty() else "no liked or seed movies to compare with"
            return Scores.empty(self.n_items, "; ".join([*notes, why]))
        genre, tag = self._profile_vectors(items, weights)
        values = weight * _cosine(self.genres, genre) + (1.0 - weight) * _cosine(self.tags, tag)
        values = np.where(self.has_content, values, np.nan).astype(np.float32)
        notes.append(f"similar genres and tags to {len(items)} movie(s)")
        return Scores(values, "; ".join(notes))

    def explain(self, query: Query, items: np.ndarray) -> list[str | None]:
        """``"matches: space, smuggler"``: top shared tag terms, else shared genres."""
        items = np.asarray(items, dtype=np.int64)
        source, weights, _ = self._profile(query)
        if len(source) == 0 or len(items) == 0:
            return [None] * len(items)
        genre, tag = self._profile_vectors(source, weights)
        shared_tags = self.tags[items].multiply(tag[None, :]).tocsr()
        shared_genres = self.genres[items].multiply(genre[None, :]).tocsr()
        out: list[str | None] = []
        for row in range(len(items)):
            words = _top_terms(shared_tags, row, self.tag_terms)
            words = words or _top_terms(shared_genres, row, self.genre_names)
            out.append(f"matches: {', '.join(words)}" if words else None)
        return out

    # -- persistence: arrays + JSON, no pickle -----------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the two CSR matrices (``genre_tag_{genres,tags}.npz``), their column names and
        ``has_content`` (``.npy``), the rating history and ``genre_tag.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        for key in ("genres", "tags"):
            sp.save_npz(directory / f"genre_tag_{key}.npz", getattr(self, key), compressed=True)
        for key in ("genre_names", "tag_terms", "has_content"):
            np.save(directory / f"genre_tag_{key}.npy", getattr(self, key), allow_pickle=False)
        self.history.save(directory, self.name)
        save_json(
            directory / "genre_tag.json",
            {
                "kind": self.name,
                "genre_weight": self.genre_weight,
                "like_threshold": self.like_threshold,
                "n_items": self.n_items,
            },
        )

    @classmethod
    def load(cls, directory: Path) -> GenreTagScorer:
        """Read what :meth:`save` wrote; ``ValueError`` if the folder holds something else."""
        meta = read_meta(directory / "genre_tag.json", cls.name)
        obj = cls(
            genre_weight=float(meta["genre_weight"]),
            like_threshold=float(meta["like_threshold"]),
        )
        obj.n_items = int(meta["n_items"])
        for key in ("genres", "tags"):
            matrix = sp.csr_matrix(sp.load_npz(directory / f"genre_tag_{key}.npz"))
            if matrix.shape[0] != obj.n_items or matrix.dtype != np.float32:
                raise ValueError(f"{directory}: genre_tag_{key}.npz does not match its metadata")
            setattr(obj, key, matrix)
        for key in ("genre_names", "tag_terms", "has_content"):
            setattr(obj, key, np.load(directory / f"genre_tag_{key}.npy", allow_pickle=False))
        if (len(obj.genre_names), len(obj.tag_terms)) != (obj.genres.shape[1], obj.tags.shape[1]):
            raise ValueError(f"{directory}: column names do not match the matrices")
        obj.history = RatingHistory.load(directory, cls.name)
        return obj


def _cosine(matrix: sp.csr_matrix, profile: np.ndarray) -> np.ndarray:
    """Cosine of each (L2-normalised) row with ``profile``; zeros when the profile is empty."""
    norm = float(np.linalg.norm(profile))
    if norm == 0.0 or matrix.shape[1] == 0:
        return np.zeros(matrix.shape[0], dtype=np.float32)
    return np.asarray(matrix @ (profile / norm), dtype=np.float32).ravel()


def _top_terms(shared: sp.csr_matrix, row: int, names: np.ndarray) -> list[str]:
    """Names of the largest positive entries of one row of an elementwise product."""
    start, end = shared.indptr[row], shared.indptr[row + 1]
    values, columns = shared.data[start:end], shared.indices[start:end]
    order = np.argsort(-values, kind="stable")[:EXPLAIN_TERMS]
    return [str(names[columns[k]]) for k in order if values[k] > 0]
