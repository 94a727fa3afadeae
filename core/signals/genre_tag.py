"""Content similarity on genres and tags: "more movies like the ones you liked".

Each movie gets two sparse, L2-normalised vectors: a genre multi-hot and a TF-IDF of its
"|"-separated user tags (TMDB keywords for movies nobody tagged). A query's profile is the
weighted sum of the vectors of its liked and seed movies (:func:`core.signals.base.query_profile`);
a movie's score is ``genre_weight * cos(genre) + (1 - genre_weight) * cos(tags)``. Works for a
brand-new user with a handful of ratings as well as for "movies like Alien".
"""

from __future__ import annotations

from typing import cast

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from core.data.catalog import Catalog
from core.config import Settings
from core.signals.popularity import RatingHistory, unknown_notes
from core.signals.base import Query, Scorer, Scores, query_profile

#: Ratings at or above this count as "liked" for the profile (else the user's above-mean ones).
LIKE_RATING = 3.5
#: How many shared tag terms or genres an explanation names.
EXPLAIN_TERMS = 3


def split_pipes(text: str) -> list[str]:
    """Tokenizer for "|"-separated fields: ``"Space|time travel"`` -> ``["space", "time travel"]``.

    A module-level function (not a lambda) so a fitted vectorizer can be pickled.
    """
    return [part.strip().lower() for part in str(text).split("|") if part.strip()]


def _genre_tokens(text: str) -> list[str]:
    """Genres of a movie, without MovieLens' "(no genres listed)" placeholder."""
    return [g.strip() for g in str(text).split("|") if g.strip() and not g.startswith("(")]


class GenreTagScorer(Scorer):
    """Cosine similarity of genre and tag vectors to the query's liked/seed movies.

    After :meth:`fit`: ``genres`` (items x genres) and ``tags`` (items x tag terms), both CSR
    float32 with L2-normalised rows; ``genre_names``/``tag_terms`` name their columns;
    ``has_content`` marks movies with genres or tags (others score NaN).
    """

    name = "genre_tag"
    label = "Genre & tags"

    def __init__(self, settings: Settings | None = None, *, like_threshold: float = LIKE_RATING):
        self.genre_weight = float((settings or Settings()).genre_weight)
        self.like_threshold = float(like_threshold)
        self.genres = sp.csr_matrix((0, 0), dtype=np.float32)
        self.tags = sp.csr_matrix((0, 0), dtype=np.float32)
        self.genre_names = np.empty(0, dtype=str)
        self.tag_terms = np.empty(0, dtype=str)
        self.has_content = np.empty(0, dtype=bool)
        self.history = RatingHistory(
            np.empty(0, np.int32), np.empty(0, np.int32), sp.csr_matrix((0, 0), dtype=np.float32)
        )

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

    # -- profiles -------------------------------------------------------------------------------
    def _profile(self, query: Query) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Liked and seed items with weights; falls back to above-mean ratings for harsh raters."""
        catalog = cast(Catalog, self.history)  # duck-typed: user_ratings() and item_of
        rated = Query(user_id=query.user_id, ratings=query.ratings)
        items, weights, notes = query_profile(catalog, rated, like_threshold=self.like_threshold)
        if len(items) == 0 and (query.ratings or self.history.user_row(query.user_id) is not None):
            # Nothing rated >= the threshold: use the ratings above the user's own mean.
            items, weights, notes = query_profile(catalog, rated)
            keep = weights > 0
            items, weights = items[keep], weights[keep]
        present = set(items.tolist())
        seeds = [
            self.history.item_of[int(m)]
            for m in query.seeds
            if int(m) in self.history.item_of and self.history.item_of[int(m)] not in present
        ]
        seeds = list(dict.fromkeys(seeds))
        items = np.concatenate([items, np.asarray(seeds, dtype=np.int64)])
        weights = np.concatenate([weights, np.ones(len(seeds), dtype=np.float32)])
        return items, weights, notes

    def _profile_vectors(self, items: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
        """Dense genre and tag profile vectors (weighted sums of the items' rows)."""
        genre = np.asarray(self.genres[items].T @ weights, dtype=np.float32).ravel()
        tag = np.asarray(self.tags[items].T @ weights, dtype=np.float32).ravel()
        return genre, tag

    def score(self, query: Query, genre_weight: float | None = None) -> Scores:
        """Cosine of every movie to the query's liked/seed movies, genres and tags blended.

        ``genre_weight`` (default from settings): 1.0 = genres only, 0.0 = tags only. Movies
        without genres and tags are NaN; so is everything when the query has no liked or seed
        movie (text is not used here).
        """
        weight = self.genre_weight if genre_weight is None else float(genre_weight)
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
