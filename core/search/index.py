"""Hybrid natural-language movie search: BM25 keywords + dense embeddings + constraints.

:class:`SearchIndex` is built once per catalogue from each movie's long text (BM25 via bm25s,
with stopwords and a light English stemmer) and the movie embedding matrix of
:class:`~core.signals.semantic.SemanticScorer`. :meth:`SearchIndex.search` takes a
:class:`~core.search.request.ParsedRequest`, fuses both retrievers, adds the reference movie's
neighbours, applies year/genre constraints and popularity wishes, optionally re-ranks by a
user's taste, and returns :class:`SearchHits` with per-signal parts and a short reason per hit.
Long narrative requests are ordered by the learned re-ranker (:mod:`core.search.rerank`) over request
vectors mapped by the learned adapter (:mod:`core.search.adapter`) instead of the fused score.
Scoring is vectorised over the whole catalogue (~1 ms for 10k movies).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from core.search.adapter import QueryAdapter
from core.search.adapter import load_default as load_default_adapter
from core.serving.blend import Filters
from core.data.catalog import Catalog
from core.errors import ArtifactError
from core.search.request import NO_EARLIER_ANSWER, ParsedRequest, clean_request
from core.search.rerank import (
    ItemFacts,
    RequestSignals,
    SearchReranker,
    chunk_scores,
    features,
    load_default,
    request_chunks,
)

if TYPE_CHECKING:
    import bm25s

    from core.signals.encoder import Encoder

#: Bump when the saved format or the tokenizer changes (old indexes must be rebuilt).
FORMAT_VERSION = 2
#: Adapted movie matrices kept (one per adapter; the product uses one, the evaluation ~6).
ADAPTED_KEPT = 6

# -- tokenisation ------------------------------------------------------------------------------
# Words that say nothing about *which* movie: request chatter ("remember", "scene") and
# words every plot uses. Removed from documents and queries alike.
_DOMAIN_STOPWORDS = frozenset(
    """movie movies film films flick scene scenes remember remembered recall think thought
    know knew watched watch watching saw seen see tv trailer maybe probably pretty really just
    like kind sort thing things stuff anyone someone help thanks thank please guy guys lot
    remembering memory vague vaguely idea sure believe actually basically definitely
    somewhat bit little time times ve ll don didn doesn isn wasn weren couldn wouldn im ive
    youre theres thats dont didnt doesnt cant wont wasnt isnt id""".split()  # noqa: SIM905
)
STOPWORDS = frozenset(ENGLISH_STOP_WORDS) | _DOMAIN_STOPWORDS
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light English stemmer: plural/possessive "s", "-ies", "-ing" and "-ed" endings.

    Deliberately conservative (no Porter step 2-5 suffix surgery): "killing"/"killed"/"kills"
    meet at "kill", "stories" at "story", but "news" or "business" stay whole.
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "os")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if len(base) >= 3 and re.search(r"[aeiouy]", base):
                if len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "lsz":
                    base = base[:-1]  # running -> run, stopped -> stop (but "falling" -> fall)
                return base
    return word


def tokenize(text: str, *, stemmer: bool = True) -> list[str]:
    """Lower-cased, stopword-free, lightly stemmed tokens of ``text``."""
    words = _TOKEN_RE.findall(str(text).lower())
    out = []
    for word in words:
        if "'" in word:
            word = word.split("'", 1)[0]
        if len(word) < 2 or word in STOPWORDS:
            continue
        out.append(stem(word) if stemmer else word)
    return out


# -- configuration and results -------------------------------------------------------------------
@dataclass(frozen=True)
class SearchConfig:
    """Knobs of :meth:`SearchIndex.search` (defaults chosen on Reddit tip-of-tongue queries).

    Attributes:
        fusion: ``"rrf"`` (reciprocal rank fusion) or ``"score"`` (weighted sum of per-signal
            scores scaled to [0, 1] over the candidate pool).
        pool: candidates taken from each retriever before fusion.
        rrf_k: the RRF constant (rank offset).
        w_bm25 / w_dense: retriever weights in the fusion.
        w_reference: weight of the reference movie's similarity when the request also has
            text (without text it is the only signal).
        w_genre: lift for the share of preferred genres a movie has (narrative requests).
        w_genre_short: the same for short requests ("like Alien but funnier"), where a
            preference is deliberate rather than a hint buried in a story.
        w_year: penalty for a narrative request's movie outside its (soft) year window.
        w_popularity: lift for popular movies when asked for them (or gems when "hidden").
        w_prior: tiny always-on quality/popularity tie-breaker for narrative requests (the
            movie someone half remembers is often obscure: more hurts there).
        w_prior_short: the same for short chat requests, which ask for recommendations
            ("romantic comedy set in New York"), where well-rated, known movies should win
            near-ties.
        w_user: weight of the user's normalised scores when given.
        passages: use passage (chunk) embeddings of long texts, max over a movie's chunks.
        rerank: order a narrative request's candidates with the learned
            :class:`~core.search.rerank.SearchReranker` (when the index has one) instead of the
            weighted sum; its score then counts ``w_bm25 + w_dense``.
        adapter: map the re-ranker's request and movie vectors with the learned
            :class:`~core.search.adapter.QueryAdapter` (when it fits the encoder). It learns which
            movies such requests are about, so it helps most when answers recur (as in the
            requests it was trained on) and costs a little on never-asked-about movies; the
            re-ranker was trained with it.
    """

    fusion: Literal["rrf", "score"] = "score"
    pool: int = 200
    rrf_k: float = 60.0
    w_bm25: float = 0.7
    w_dense: float = 1.0
    w_reference: float = 0.6
    w_genre: float = 0.15
    w_genre_short: float = 0.6
    w_year: float = 0.3
    w_popularity: float = 0.3
    w_prior: float = 0.02
    w_prior_short: float = 0.15
    w_user: float = 0.3
    passages: bool = True
    rerank: bool = True
    adapter: bool = True


@dataclass
class SearchHits:
    """Ranked search results.

    Attributes:
        items: item indices, best first (int64).
        scores: the fused score of each hit (float32, descending).
        parts: per signal ("bm25", "dense", "reference", "genre", "popularity", "user"),
            each hit's contribution to its score.
        reasons: a short plain reason per hit ('matches "wormhole", "astronaut"').
        movie_ids: MovieLens ids of the hits.
        notes: things the user should know (relaxed constraints, unknown reference...).
    """

    items: np.ndarray
    scores: np.ndarray
    parts: dict[str, np.ndarray]
    reasons: list[str]
    movie_ids: np.ndarray
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)


def _as_request(request: ParsedRequest | str) -> ParsedRequest:
    if isinstance(request, ParsedRequest):
        return request
    cleaned = clean_request(str(request))
    return ParsedRequest(raw=str(request), text=cleaned, cleaned=cleaned)


def _scale(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``values`` min-max scaled to [0, 1] over the pool (0 outside it; flat pools give 0)."""
    out = np.zeros(values.shape, dtype=np.float32)
    if len(pool) == 0:
        return out
    chosen = values[pool]
    lo, hi = float(chosen.min()), float(chosen.max())
    if hi - lo > 1e-9:
        out[pool] = (chosen - lo) / (hi - lo)
    return out


def _top(values: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` largest finite values (optionally within ``mask``), best first."""
    candidates = np.isfinite(values) if mask is None else (mask & np.isfinite(values))
    idx = np.flatnonzero(candidates)
    if len(idx) == 0 or k <= 0:
        return idx[:0].astype(np.int64)
    if len(idx) > k:
        part = np.argpartition(-values[idx], k - 1)[:k]
        idx = idx[part]
    return idx[np.argsort(-values[idx], kind="stable")].astype(np.int64)


def _non_empty(movies: Any, column: str) -> np.ndarray:
    """Whether each movie has a non-blank ``column`` (all False when the column is absent)."""
    if column not in movies:
        return np.zeros(len(movies), dtype=bool)
    return movies[column].fillna("").astype(str).str.strip().str.len().to_numpy() > 0


# -- the index --------------------------------------------------------------------------------
class SearchIndex:
    """BM25 + dense retrieval over one catalogue, with the metadata constraints need."""

    def __init__(self) -> None:
        self.config = SearchConfig()
        self.movie_ids = np.empty(0, dtype=np.int32)
        self.titles: list[str] = []
        self.years = np.empty(0, dtype=np.float32)
        self.genre_names: list[str] = []
        self.genres = np.zeros((0, 0), dtype=bool)
        self.n_ratings = np.empty(0, dtype=np.int64)
        self.popularity = np.empty(0, dtype=np.float32)
        self.embeddings = np.zeros((0, 0), dtype=np.float32)
        self.passages = np.zeros((0, 0), dtype=np.float32)
        self.passage_item = np.empty(0, dtype=np.int32)
        self.has_overview = np.zeros(0, dtype=bool)
        self.has_plot = np.zeros(0, dtype=bool)
        self.text_words = np.zeros(0, dtype=np.float32)
        self.n_tags = np.zeros(0, dtype=np.float32)
        #: The learned re-ranker of narrative requests (the shipped one unless replaced).
        self.reranker: SearchReranker | None = load_default()
        #: The re-ranker's request-vector adapter (used only with the encoder it fits).
        self.adapter: QueryAdapter | None = load_default_adapter()
        self.model_name: str | None = None
        self.stemmer = True
        self._bm25: bm25s.BM25 | None = None
        self._encoder: Encoder | None = None
        self._groups: tuple[np.ndarray, np.ndarray] | None = None
        # Movie vectors as adapters' movie sides map them, newest last (see movie_vectors).
        self._adapted: list[tuple[QueryAdapter, np.ndarray]] = []

    @property
    def n_items(self) -> int:
        """Number of movies indexed."""
        return len(self.movie_ids)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        catalog: Catalog,
        texts: Sequence[str],
        embeddings: np.ndarray,
        *,
        encoder: Encoder | None = None,
        passages: np.ndarray | None = None,
        passage_item: np.ndarray | None = None,
        config: SearchConfig | None = None,
        stemmer: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> SearchIndex:
        """Index ``texts`` (one long text per item, e.g. ``movie_text(..., long=True)``).

        Args:
            embeddings: unit movie vectors (n_items x dim), the semantic scorer's matrix.
            encoder: when given (and ``config.passages``), long texts are also cut into
                passages and encoded, so a detail deep in a plot can be found; without it
                only the movie vectors are used.
            passages / passage_item: precomputed passage vectors and their item indices.
        """
        if len(texts) != catalog.n_items or embeddings.shape[0] != catalog.n_items:
            raise ValueError(
                f"{len(texts)} texts and {embeddings.shape[0]} vectors for {catalog.n_items} movies"
            )
        index = cls()
        index.config = config or SearchConfig()
        index.stemmer = stemmer
        movies = catalog.movies
        index.movie_ids = np.asarray(catalog.movie_ids, dtype=np.int32)
        index.titles = [catalog.title_of(int(m)) for m in index.movie_ids]
        index.years = movies["year"].astype("Float64").to_numpy(dtype=np.float32, na_value=np.nan)
        index.genre_names = list(catalog.genre_names)
        genre_lists = movies["genres"].fillna("").astype(str).str.split("|")
        index.genres = np.zeros((catalog.n_items, len(index.genre_names)), dtype=bool)
        column = {g: j for j, g in enumerate(index.genre_names)}
        for i, names in enumerate(genre_lists):
            for name in names:
                j = column.get(name)
                if j is not None:
                    index.genres[i, j] = True
        counts = catalog.rating_stats["n_ratings"].to_numpy(dtype=np.int64)
        index.n_ratings = counts
        top = np.log1p(counts.max()) if len(counts) and counts.max() > 0 else 1.0
        index.popularity = (np.log1p(counts) / top).astype(np.float32)
        index.has_overview = _non_empty(movies, "overview")
        index.has_plot = _non_empty(movies, "plot")
        index.text_words = np.log1p([len(str(t).split()) for t in texts]).astype(np.float32)
        tags = movies["tags"].fillna("").astype(str) if "tags" in movies else None
        index.n_tags = (
            np.zeros(catalog.n_items, np.float32)
            if tags is None
            else np.log1p(
                [len({t.strip() for t in v.split("|") if t.strip()}) for v in tags]
            ).astype(np.float32)
        )
        from core.signals.encoder import normalise_rows as _normalise_rows

        index.embeddings = _normalise_rows(embeddings)
        if encoder is not None:
            index.model_name = encoder.model_name
            index._encoder = encoder
        index._bm25 = _build_bm25([tokenize(t, stemmer=stemmer) for t in texts])
        if passages is not None and passage_item is not None:
            order = np.argsort(np.asarray(passage_item), kind="stable")  # group by movie
            index.passages = _normalise_rows(np.asarray(passages)[order])
            index.passage_item = np.asarray(passage_item, dtype=np.int32)[order]
        elif encoder is not None and index.config.passages:
            chunks, owners = split_passages(texts)
            if chunks:
                index.passages = encoder.encode(chunks, progress=progress)
                index.passage_item = np.asarray(owners, dtype=np.int32)
        return index

    def set_encoder(self, encoder: Encoder) -> None:
        """Share an already loaded query encoder."""
        self._encoder = encoder

    def _get_encoder(self, encoder: Encoder | None) -> Encoder:
        if encoder is not None:
            self._encoder = encoder
        if self._encoder is None:
            from core.signals.encoder import Encoder

            self._encoder = Encoder(self.model_name)
        return self._encoder

    # -- scoring pieces ------------------------------------------------------------------------
    def bm25_scores(self, text: str) -> tuple[np.ndarray, list[str]]:
        """BM25 score of every movie for ``text`` and the query's known tokens (deduplicated)."""
        tokens = list(dict.fromkeys(tokenize(text, stemmer=self.stemmer)))
        bm25 = self._bm25
        if bm25 is None or not tokens:
            return np.zeros(self.n_items, dtype=np.float32), []
        known = [t for t in tokens if t in bm25.vocab_dict]
        if not known:
            return np.zeros(self.n_items, dtype=np.float32), []
        ids = [bm25.vocab_dict[t] for t in known]
        scores = bm25.get_scores_from_ids(ids)
        return np.asarray(scores, dtype=np.float32), known

    def dense_scores(self, vector: np.ndarray, config: SearchConfig | None = None) -> np.ndarray:
        """Cosine of every movie to a unit ``vector``: the best of its own vector and passages."""
        scores = np.asarray(self.embeddings @ vector, dtype=np.float32)
        if (config or self.config).passages and len(self.passage_item):
            chunk = np.asarray(self.passages @ vector, dtype=np.float32)
            starts, owners = self._passage_groups()
            best = np.maximum.reduceat(chunk, starts)  # max over each movie's passages
            scores[owners] = np.maximum(scores[owners], best)
        return scores

    def _passage_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Start of each movie's run of passages and that movie (passages are grouped)."""
        if self._groups is None:
            item = np.asarray(self.passage_item)
            starts = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
            self._groups = (starts, item[starts].astype(np.int64))
        return self._groups

    def query_vector(self, text: str, encoder: Encoder | None = None) -> np.ndarray:
        """Unit vector of the request text (the first lines matter most; long posts get cut)."""
        return np.asarray(self._get_encoder(encoder).encode_query(text[:2000]), dtype=np.float32)

    @property
    def facts(self) -> ItemFacts:
        """Per-movie inputs of the re-ranker's features."""
        return ItemFacts(
            popularity=self.popularity,
            has_overview=self.has_overview,
            has_plot=self.has_plot,
            text_words=self.text_words,
            n_tags=self.n_tags,
            years=self.years,
        )

    def chunk_vectors(self, text: str, encoder: Encoder | None = None) -> np.ndarray | None:
        """Unit vectors of a long request's chunks (None when it is one chunk)."""
        chunks = request_chunks(text)
        if not chunks:
            return None
        return np.asarray(self._get_encoder(encoder).encode(chunks), dtype=np.float32)

    def request_signals(
        self,
        request: ParsedRequest,
        query_vector: np.ndarray,
        chunk_vectors: np.ndarray | None = None,
        bm25: np.ndarray | None = None,
        config: SearchConfig | None = None,
    ) -> RequestSignals:
        """Whole-catalogue signals of a request for the re-ranker (movie vectors only, no
        passages, so they match what the shipped model was trained on). The request, chunk and
        movie vectors go through :meth:`adapter_for` ``(config)`` first."""
        text = request.text.strip()
        if bm25 is None:
            bm25 = self.bm25_scores(text)[0]
        adapter = self.adapter_for(config)
        if adapter is not None:
            query_vector = adapter.apply(query_vector)
            chunk_vectors = None if chunk_vectors is None else adapter.apply(chunk_vectors)
        movies = self.movie_vectors(adapter)
        cosine = np.asarray(movies @ query_vector, dtype=np.float32)
        chunk_max, chunk_mean = chunk_scores(cosine, movies, chunk_vectors)
        gap = np.zeros(self.n_items, dtype=np.float32)
        if request.has_years:
            lo = -np.inf if request.year_min is None else request.year_min
            hi = np.inf if request.year_max is None else request.year_max
            raw = np.where(self.years < lo, lo - self.years, 0.0) + np.where(
                self.years > hi, self.years - hi, 0.0
            )
            gap = np.nan_to_num(raw, nan=0.0).astype(np.float32)
        wanted = [
            g for g in (*request.prefer_genres, *request.include_genres) if g in self.genre_names
        ]
        share = np.zeros(self.n_items, dtype=np.float32)
        if wanted:
            cols = [self.genre_names.index(g) for g in wanted]
            share = self.genres[:, cols].mean(axis=1).astype(np.float32)
        return RequestSignals(
            bm25=np.asarray(bm25, dtype=np.float32),
            cosine=cosine,
            chunk_max=np.asarray(chunk_max, dtype=np.float32),
            chunk_mean=np.asarray(chunk_mean, dtype=np.float32),
            year_gap=gap,
            genre_share=share,
            has_years=bool(request.has_years),
            n_genres_wanted=len(wanted),
            request_words=len(text.split()),
            n_chunks=0 if chunk_vectors is None else len(chunk_vectors),
        )

    def movie_vectors(self, adapter: QueryAdapter | None) -> np.ndarray:
        """The movie vectors as ``adapter``'s movie side maps them (the index's own without
        one). Kept for the last few adapters: mapping 10k movies costs ~30 ms, and the
        evaluation switches between a handful of fold adapters."""
        if adapter is None or adapter.movie_delta is None:
            return self.embeddings
        for known, matrix in self._adapted:
            if known is adapter:
                return matrix
        matrix = adapter.apply_movies(self.embeddings)
        self._adapted = [*self._adapted[-(ADAPTED_KEPT - 1) :], (adapter, matrix)]
        return matrix

    def adapter_for(self, config: SearchConfig | None = None) -> QueryAdapter | None:
        """:attr:`adapter` when ``config`` (default: the index's) has it on, it was trained
        for this index's encoder, and the re-ranker was not trained without one; else None."""
        adapter = self.adapter if (config or self.config).adapter else None
        if adapter is None or not adapter.fits(self.model_name, self.embeddings.shape[1]):
            return None
        if self.reranker is not None and self.reranker.trained_on.get("adapter") is False:
            return None  # its features were learned on the encoder's own vectors
        return adapter

    @property
    def active_adapter(self) -> QueryAdapter | None:
        """:meth:`adapter_for` the index's own config."""
        return self.adapter_for()

    def uses_reranker(self, request: ParsedRequest, config: SearchConfig | None = None) -> bool:
        """Whether :meth:`search` orders this request with the learned re-ranker."""
        cfg = config or self.config
        return bool(
            cfg.rerank and self.reranker is not None and request.narrative and request.text.strip()
        )

    def constraint_mask(
        self,
        request: ParsedRequest,
        filters: Filters | None,
        notes: list[str],
        top: int = 10,
    ) -> np.ndarray:
        """Movies allowed by hard constraints: explicit filters and a short request's own.

        Genres a short request names are required when at least ``top`` movies have them all;
        otherwise they only lift matching movies (noted in ``notes``).
        """
        return self._constraints(request, filters, notes, top)[0]

    def _constraints(
        self, request: ParsedRequest, filters: Filters | None, notes: list[str], top: int
    ) -> tuple[np.ndarray, bool]:
        """The hard mask and whether the request's own genres were enforced by it."""
        enforced = False
        mask = np.ones(self.n_items, dtype=bool)
        column = {g: j for j, g in enumerate(self.genre_names)}
        exclude = set(request.exclude_genres)
        include_all = list(request.include_genres)
        include_any: list[str] = []
        year_min, year_max = (
            (None, None)
            if request.narrative
            else (
                request.year_min,
                request.year_max,
            )
        )
        if filters is not None:
            exclude |= set(filters.exclude_genres)
            include_any = list(filters.include_genres)
            if filters.year_min is not None:
                year_min = max(filters.year_min, year_min or filters.year_min)
            if filters.year_max is not None:
                year_max = min(filters.year_max, year_max or filters.year_max)
            if filters.min_ratings > 0:
                mask &= self.n_ratings >= filters.min_ratings
            if filters.exclude_ids:
                mask &= ~np.isin(self.movie_ids, np.asarray(filters.exclude_ids, dtype=np.int64))
        for name in exclude:
            if name in column:
                mask &= ~self.genres[:, column[name]]
        if include_any:
            cols = [column[g] for g in include_any if g in column]
            mask &= self.genres[:, cols].any(axis=1) if cols else False
        if year_min is not None:
            mask &= self.years >= year_min
        if year_max is not None:
            mask &= self.years <= year_max
        if include_all and not request.narrative:
            cols = [column[g] for g in include_all if g in column]
            if cols:
                strict = mask & self.genres[:, cols].all(axis=1)
                if strict.sum() >= top:
                    mask = strict
                    enforced = True
                else:
                    # "space adventure from the 80s": too few movies carry the genre label(s)
                    # within the other constraints, so the genres only lift matching movies
                    # (the "genre" part in :meth:`search`).
                    notes.append(
                        "few movies are labelled "
                        + " + ".join(include_all)
                        + " within these constraints; treating it as a preference"
                    )
        return mask, enforced

    # -- search --------------------------------------------------------------------------------
    def search(
        self,
        request: ParsedRequest | str,
        *,
        encoder: Encoder | None = None,
        top: int = 10,
        user_scores: np.ndarray | None = None,
        prior: Any = None,
        filters: Filters | None = None,
        config: SearchConfig | None = None,
        query_vector: np.ndarray | None = None,
        chunk_vectors: np.ndarray | None = None,
    ) -> SearchHits:
        """Best ``top`` movies for a request (see the module doc for the steps).

        Args:
            request: a parsed request, or plain text (cleaned, no constraints parsed).
            encoder: the query encoder (loaded lazily from the index's model when omitted).
            user_scores: per-item scores of the user's taste (any scale, NaN = unknown);
                they re-rank the matching movies, they do not retrieve new ones.
            prior: a :class:`~core.signals.popularity.PopularityPrior` or a per-item array; used for
                "popular" / "hidden gem" wishes (default: this index's rating counts).
            filters: explicit UI filters (hard), combined with the request's constraints.
            config: override the index's :class:`SearchConfig`.
            query_vector: a precomputed unit vector of the request text (skips encoding).
            chunk_vectors: precomputed vectors of :func:`~core.search.rerank.request_chunks` of the
                request text (re-ranked requests only; encoded when omitted).
        """
        request = _as_request(request)
        cfg = config or self.config
        notes: list[str] = list(request.notes)
        n = self.n_items
        mask, genres_enforced = self._constraints(request, filters, notes, top)
        if request.reference_item is not None and 0 <= request.reference_item < n:
            mask[request.reference_item] = False  # the reference is not its own answer
        if request.is_empty() and not (filters is not None and filters.narrows):
            if NO_EARLIER_ANSWER not in notes:
                notes.append("Nothing to search for: describe a movie.")
            return self._empty(notes)
        if n == 0 or not mask.any():
            return self._empty([*notes, "No movie passes these constraints."] if n else notes)

        text = request.text.strip()
        total = np.zeros(n, dtype=np.float32)
        parts: dict[str, np.ndarray] = {}
        reason_parts: dict[str, np.ndarray] = {}  # signals a learned score replaced
        reranked = False
        matched: list[str] = []
        retrieval = np.zeros(n, dtype=bool)
        if text:
            bm25, matched = self.bm25_scores(text)
            if query_vector is None:
                query_vector = self.query_vector(text, encoder)
            dense = self.dense_scores(query_vector, cfg)
            bm25_top = _top(np.where(bm25 > 0, bm25, np.nan), cfg.pool, mask)
            dense_top = _top(dense, cfg.pool, mask)
            pool = np.union1d(bm25_top, dense_top)
            retrieval[pool] = True
            if cfg.fusion == "rrf":
                bm25_part = np.zeros(n, dtype=np.float32)
                dense_part = np.zeros(n, dtype=np.float32)
                # Scaled so rank 1 gives the full weight, comparable with the other parts.
                bm25_part[bm25_top] = (
                    cfg.w_bm25 * (cfg.rrf_k + 1) / (cfg.rrf_k + 1 + np.arange(len(bm25_top)))
                )
                dense_part[dense_top] = (
                    cfg.w_dense * (cfg.rrf_k + 1) / (cfg.rrf_k + 1 + np.arange(len(dense_top)))
                )
            else:
                bm25_part = cfg.w_bm25 * _scale(bm25, pool)
                dense_part = cfg.w_dense * _scale(dense, pool)
            parts["bm25"] = bm25_part
            parts["dense"] = dense_part
            total += bm25_part + dense_part
            if self.uses_reranker(request, cfg):
                if chunk_vectors is None:
                    chunk_vectors = self.chunk_vectors(text, encoder)
                signals = self.request_signals(request, query_vector, chunk_vectors, bm25, cfg)
                pool = signals.pool(mask)
                # Only the re-ranker's own candidates: fusion candidates outside its pool
                # would get no learned score and tie with the worst scored one.
                retrieval[:] = False
                retrieval[pool] = True
                logit = np.full(n, np.nan, dtype=np.float32)
                assert self.reranker is not None  # uses_reranker checked it
                logit[pool] = self.reranker.decision(features(signals, self.facts, pool))
                # The learned score replaces the fused one (genre, year and popularity are
                # among its features); BM25/dense parts stay for the reasons only.
                reason_parts.update(parts)
                parts = {"rerank": (cfg.w_bm25 + cfg.w_dense) * _scale(np.nan_to_num(logit), pool)}
                total = parts["rerank"].copy()
                reranked = True
        if request.reference_item is not None:
            ref_vector = np.asarray(self.embeddings[request.reference_item], dtype=np.float32)
            similarity = np.asarray(self.embeddings @ ref_vector, dtype=np.float32)
            ref_top = _top(similarity, cfg.pool, mask)
            retrieval[ref_top] = True
            weight = cfg.w_reference if text else 1.0
            pool = np.flatnonzero(retrieval)
            parts["reference"] = weight * _scale(similarity, pool)
            total += parts["reference"]
        constraints_only = not retrieval.any()
        if constraints_only:
            # Only constraints ("90s comedies", "no horror"): rank the allowed movies by the
            # prior (or the hidden-gem score when asked for gems).
            retrieval = mask.copy()
        candidates = retrieval & mask

        soft_include = () if genres_enforced else request.include_genres
        if (request.prefer_genres or soft_include) and not reranked:
            wanted = [g for g in (*request.prefer_genres, *soft_include) if g in self.genre_names]
            if wanted:
                cols = [self.genre_names.index(g) for g in wanted]
                share = self.genres[:, cols].mean(axis=1).astype(np.float32)
                weight = cfg.w_genre if request.narrative else cfg.w_genre_short
                parts["genre"] = weight * share
                total += parts["genre"]
        if request.narrative and request.has_years and not reranked:
            # People misremember years: outside the window costs a little, growing with the gap.
            lo = -np.inf if request.year_min is None else request.year_min
            hi = np.inf if request.year_max is None else request.year_max
            gap = np.where(self.years < lo, lo - self.years, 0.0) + np.where(
                self.years > hi, self.years - hi, 0.0
            )
            gap = np.nan_to_num(gap, nan=0.0)
            parts["year"] = (-cfg.w_year * np.minimum(gap / 5.0, 1.0)).astype(np.float32)
            total += parts["year"]
        quality = self._prior_values(prior)
        if reranked and request.popularity is None:
            pass  # popularity is one of the re-ranker's features
        elif request.popularity == "popular":
            parts["popularity"] = cfg.w_popularity * self.popularity
        elif request.popularity == "hidden":
            parts["popularity"] = cfg.w_popularity * self._gems(prior)
        else:
            # Without a wish, a small lift for well-known, well-rated movies breaks near-ties.
            weight = cfg.w_prior if request.narrative else cfg.w_prior_short
            parts["popularity"] = weight * quality
        if "popularity" in parts:
            total += parts["popularity"]
        if user_scores is not None:
            values = np.asarray(user_scores, dtype=np.float32)
            values = np.where(np.isfinite(values), values, np.nan)  # -inf means "no opinion"
            if values.shape == (n,) and np.isfinite(values[candidates]).any():
                scaled = _scale(
                    np.nan_to_num(values, nan=np.nanmin(values[candidates])),
                    np.flatnonzero(candidates),
                )
                parts["user"] = cfg.w_user * scaled
                total += parts["user"]
        if constraints_only:
            which = "hidden gems" if request.popularity == "hidden" else "best-known movies"
            taste = ", re-ranked for your taste" if "user" in parts else ""
            notes.append(f"no description given: the {which} that match{taste}")

        final = np.where(candidates, total, -np.inf).astype(np.float32)
        items = _top(np.where(np.isfinite(final), final, np.nan), top)
        hit_parts = {
            name: np.asarray(values[items], dtype=np.float32) for name, values in parts.items()
        }
        replaced = {k: np.asarray(v[items], np.float32) for k, v in reason_parts.items()}
        reasons = self._reasons(request, items, matched, {**replaced, **hit_parts})
        return SearchHits(
            items=items,
            scores=final[items].astype(np.float32),
            parts=hit_parts,
            reasons=reasons,
            movie_ids=self.movie_ids[items].astype(np.int64),
            notes=list(dict.fromkeys(notes)),
        )

    def _prior_values(self, prior: Any) -> np.ndarray:
        """Per-item prior in [0, 1] from a PopularityPrior, an array, or rating counts."""
        values = getattr(prior, "values", prior)
        if values is not None:
            array = np.asarray(values, dtype=np.float32)
            if array.shape == (self.n_items,):
                return np.nan_to_num(_scale(array, np.flatnonzero(np.isfinite(array))), nan=0.0)
        return self.popularity

    def _gems(self, prior: Any) -> np.ndarray:
        """Hidden-gem score: well rated but little seen (0 for barely rated movies)."""
        gem = getattr(prior, "hidden_gem", None)
        if callable(gem):
            values = np.asarray(gem(), dtype=np.float32)
            if values.shape == (self.n_items,):
                return np.nan_to_num(_scale(values, np.flatnonzero(np.isfinite(values))))
        quality = self._prior_values(prior)
        return np.where(self.n_ratings >= 5, quality * (1.0 - self.popularity), 0.0).astype(
            np.float32
        )

    def _reasons(
        self,
        request: ParsedRequest,
        items: np.ndarray,
        matched: list[str],
        parts: dict[str, np.ndarray],
    ) -> list[str]:
        """'matches "wormhole", "astronaut"; similar to Alien (1979)' per hit."""
        surface = _surface_forms(request.text, self.stemmer)
        contributions = self._term_contributions(matched, items)
        reasons = []
        for row, _item in enumerate(items):
            bits: list[str] = []
            terms = contributions[row]
            if terms:
                shown = ", ".join(f'"{surface.get(t, t)}"' for t in terms[:3])
                bits.append(f"matches {shown}")
            dense = parts.get("dense")
            if dense is not None and (not terms) and dense[row] > 0:
                bits.append("close in meaning to your description")
            reference = parts.get("reference")
            if reference is not None and request.reference_title and reference[row] > 0.3:
                bits.append(f"similar to {request.reference_title}")
            genre = parts.get("genre")
            if genre is not None and genre[row] > 0:
                bits.append("leans " + "/".join(request.prefer_genres or request.include_genres))
            popularity = parts.get("popularity")
            if request.popularity == "hidden" and popularity is not None and popularity[row] > 0:
                bits.append("a lesser-known pick")
            user = parts.get("user")
            if user is not None and user[row] > 0.6 * self.config.w_user:
                bits.append("fits your taste")
            reasons.append("; ".join(bits) or self._describe(int(items[row])))
        return reasons

    def _describe(self, item: int) -> str:
        """'Comedy, Romance, 1993': the reason of a hit chosen by constraints alone."""
        genres = [g for g, has in zip(self.genre_names, self.genres[item], strict=True) if has]
        year = self.years[item]
        bits = [", ".join(genres[:3])] if genres else []
        if np.isfinite(year):
            bits.append(str(int(year)))
        return ", ".join(bits) or "fits your constraints"

    def _term_contributions(self, tokens: list[str], items: np.ndarray) -> list[list[str]]:
        """Per hit, the query tokens that occur in its text, biggest BM25 contribution first."""
        out: list[list[str]] = [[] for _ in items]
        bm25 = self._bm25
        if bm25 is None or not tokens or len(items) == 0:
            return out
        data, indices, indptr = (bm25.scores[k] for k in ("data", "indices", "indptr"))
        row_of = np.full(self.n_items, -1, dtype=np.int64)
        row_of[items] = np.arange(len(items))
        found_rows: list[np.ndarray] = []
        found_terms: list[np.ndarray] = []
        found_values: list[np.ndarray] = []
        for position, token in enumerate(tokens):
            tid = bm25.vocab_dict.get(token)
            if tid is None:
                continue
            start, end = int(indptr[tid]), int(indptr[tid + 1])
            rows = row_of[indices[start:end]]
            keep = rows >= 0
            if keep.any():
                found_rows.append(rows[keep])
                found_terms.append(np.full(int(keep.sum()), position))
                found_values.append(np.asarray(data[start:end])[keep])
        if not found_rows:
            return out
        rows = np.concatenate(found_rows)
        terms = np.concatenate(found_terms)
        values = np.concatenate(found_values)
        order = np.lexsort((-values, rows))  # by hit, biggest contribution first
        for row, term in zip(rows[order].tolist(), terms[order].tolist(), strict=True):
            out[row].append(tokens[term])
        return out

    def _empty(self, notes: list[str]) -> SearchHits:
        empty = np.empty(0, dtype=np.int64)
        return SearchHits(empty, np.empty(0, np.float32), {}, [], empty, list(dict.fromkeys(notes)))

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write arrays as ``.npy`` (embeddings memory-mappable), BM25 via bm25s, meta as JSON."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in (
            "movie_ids",
            "years",
            "genres",
            "n_ratings",
            "popularity",
            "embeddings",
            "passages",
            "passage_item",
            "has_overview",
            "has_plot",
            "text_words",
            "n_tags",
        ):
            np.save(directory / f"search_{name}.npy", np.ascontiguousarray(getattr(self, name)))
        if self._bm25 is not None:
            self._bm25.save(str(directory / "bm25"), show_progress=False)
        meta = {
            "kind": "search",
            "format": FORMAT_VERSION,
            "config": asdict(self.config),
            "genre_names": self.genre_names,
            "titles": self.titles,
            "model_name": self.model_name,
            "stemmer": self.stemmer,
            "n_items": self.n_items,
        }
        (directory / "search.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path, encoder: Encoder | None = None) -> SearchIndex:
        """Read an index written by :meth:`save` (embeddings memory-mapped)."""
        meta_path = directory / "search.json"
        if not meta_path.exists():
            raise ValueError(f"{directory} does not hold a search index")
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") != "search" or meta.get("format") != FORMAT_VERSION:
            raise ArtifactError(f"The search index in {directory} has an old format; rebuild it.")
        import bm25s

        index = cls()
        known = {f.name for f in fields(SearchConfig)}
        index.config = replace(
            SearchConfig(), **{k: v for k, v in meta["config"].items() if k in known}
        )
        index.genre_names = list(meta["genre_names"])
        index.titles = list(meta["titles"])
        index.model_name = meta.get("model_name")
        index.stemmer = bool(meta.get("stemmer", True))
        for name in ("movie_ids", "years", "genres", "n_ratings", "popularity", "passage_item",
                     "has_overview", "has_plot", "text_words", "n_tags"):  # fmt: skip
            setattr(index, name, np.load(directory / f"search_{name}.npy"))
        for name in ("embeddings", "passages"):
            setattr(index, name, np.load(directory / f"search_{name}.npy", mmap_mode="r"))
        index._bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        index._encoder = encoder
        if index.n_items != int(meta["n_items"]) or index.embeddings.shape[0] != index.n_items:
            raise ArtifactError(f"The search index in {directory} is inconsistent; rebuild it.")
        return index


def _build_bm25(corpus_tokens: list[list[str]]) -> bm25s.BM25:
    """A bm25s index over token lists (empty documents get bm25s's empty token)."""
    import bm25s

    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(corpus_tokens, show_progress=False)
    return retriever


def _surface_forms(text: str, stemmer: bool) -> dict[str, str]:
    """Stem -> the first word of the request it came from (to show "killing", not "kill")."""
    out: dict[str, str] = {}
    for word in _TOKEN_RE.findall(str(text).lower()):
        word = word.split("'", 1)[0]
        if len(word) < 2 or word in STOPWORDS:
            continue
        out.setdefault(stem(word) if stemmer else word, word)
    return out


def split_passages(
    texts: Sequence[str], *, words: int = 120, overlap: int = 30, min_words: int = 150
) -> tuple[list[str], list[int]]:
    """Overlapping word windows of the long texts, with the item index each came from.

    Texts shorter than ``min_words`` are skipped: the movie vector already covers them. Each
    passage starts with the text's first sentence (title and year) so it keeps its context.
    """
    chunks: list[str] = []
    owners: list[int] = []
    step = max(1, words - overlap)
    for item, text in enumerate(texts):
        tokens = str(text).split()
        if len(tokens) < min_words:
            continue
        head = str(text).split(". ", 1)[0][:80]
        for start in range(0, max(1, len(tokens) - overlap), step):
            chunks.append(f"{head}. " + " ".join(tokens[start : start + words]))
            owners.append(item)
    return chunks, owners
