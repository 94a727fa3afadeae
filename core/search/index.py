"""The search index of one catalogue: BM25 over long movie texts plus the movie embeddings.

:class:`SearchIndex` is built once per catalogue from each movie's long text (BM25 via bm25s,
with stopwords and a light stemmer, :mod:`core.search.text`) and the movie embedding matrix of
:class:`~core.signals.semantic.SemanticScorer`; it holds the per-movie facts search needs,
saves and loads itself, and scores a request's text against every movie. :meth:`SearchIndex.search`
is the entry point; its steps (constraints, fusion, re-ranking, lifts) live in
:mod:`core.search.retrieve`, so this module must not grow ranking rules of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.catalog import Catalog
from core.errors import ArtifactError
from core.search import retrieve
from core.search.adapter import QueryAdapter
from core.search.adapter import load_default as load_default_adapter
from core.search.config import SearchConfig, SearchHits
from core.search.parsed import ParsedRequest
from core.search.rerank import (
    ItemFacts,
    RequestSignals,
    SearchReranker,
    chunk_scores,
    load_default,
    request_chunks,
)
from core.search.scoring import scale_to_pool
from core.search.text import split_passages, tokenize
from core.signals.encoder import normalise_rows

if TYPE_CHECKING:
    import bm25s

    from core.serving.blend import Filters
    from core.signals.encoder import EncodeProgress, Encoder

#: Bump when the saved format or the tokenizer changes (old indexes must be rebuilt).
FORMAT_VERSION = 2
#: Adapted movie matrices kept (one per adapter; the product uses one, the evaluation ~6).
ADAPTED_KEPT = 6


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
        progress: EncodeProgress | None = None,
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
        index._set_movie_facts(catalog, texts)
        index.embeddings = normalise_rows(embeddings)
        if encoder is not None:
            index.model_name = encoder.model_name
            index._encoder = encoder
        index._bm25 = _build_bm25([tokenize(t, stemmer=stemmer) for t in texts])
        index._set_passages(texts, encoder, passages, passage_item, progress)
        return index

    def _set_movie_facts(self, catalog: Catalog, texts: Sequence[str]) -> None:
        """Ids, titles, years, genres, popularity and the re-ranker's per-movie facts."""
        movies = catalog.movies
        self.movie_ids = np.asarray(catalog.movie_ids, dtype=np.int32)
        self.titles = [catalog.title_of(int(m)) for m in self.movie_ids]
        self.years = movies["year"].astype("Float64").to_numpy(dtype=np.float32, na_value=np.nan)
        self.genre_names = list(catalog.genre_names)
        self.genres = _genre_matrix(movies, self.genre_names, catalog.n_items)
        counts = catalog.rating_stats["n_ratings"].to_numpy(dtype=np.int64)
        self.n_ratings = counts
        top = np.log1p(counts.max()) if len(counts) and counts.max() > 0 else 1.0
        self.popularity = (np.log1p(counts) / top).astype(np.float32)
        self.has_overview = _non_empty(movies, "overview")
        self.has_plot = _non_empty(movies, "plot")
        self.text_words = np.log1p([len(str(t).split()) for t in texts]).astype(np.float32)
        tags = movies["tags"].fillna("").astype(str) if "tags" in movies else None
        self.n_tags = (
            np.zeros(catalog.n_items, np.float32)
            if tags is None
            else np.log1p(
                [len({t.strip() for t in v.split("|") if t.strip()}) for v in tags]
            ).astype(np.float32)
        )

    def _set_passages(
        self,
        texts: Sequence[str],
        encoder: Encoder | None,
        passages: np.ndarray | None,
        passage_item: np.ndarray | None,
        progress: EncodeProgress | None,
    ) -> None:
        """Passage vectors grouped by movie: the given ones, or encoded when allowed."""
        if passages is not None and passage_item is not None:
            order = np.argsort(np.asarray(passage_item), kind="stable")  # group by movie
            self.passages = normalise_rows(np.asarray(passages)[order])
            self.passage_item = np.asarray(passage_item, dtype=np.int32)[order]
        elif encoder is not None and self.config.passages:
            chunks, owners = split_passages(texts)
            if chunks:
                self.passages = encoder.encode(chunks, progress=progress)
                self.passage_item = np.asarray(owners, dtype=np.int32)

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
            gap = retrieve.years_outside(self.years, request).astype(np.float32)
        wanted = [
            g for g in (*request.prefer_genres, *request.include_genres) if g in self.genre_names
        ]
        share = self.genre_share(wanted) if wanted else np.zeros(self.n_items, np.float32)
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
        return retrieve.constraints(self, request, filters, notes, top)[0]

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
        """Best ``top`` movies for a request: constraints, then BM25 + dense fusion (or the
        learned re-ranker for narrative requests), the reference movie's neighbours, genre /
        year / popularity lifts and the user's taste (steps in :mod:`core.search.retrieve`).

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
        request = retrieve.as_request(request)
        cfg = config or self.config
        notes: list[str] = list(request.notes)
        mask, genres_enforced = retrieve.constraints(self, request, filters, notes, top)
        if request.reference_item is not None and 0 <= request.reference_item < self.n_items:
            mask[request.reference_item] = False  # the reference is not its own answer
        refused = retrieve.nothing_to_search(request, filters, mask, notes, self.n_items)
        if refused is not None:
            return refused
        scoring = retrieve.Scoring.start(self.n_items)
        if request.text.strip():
            retrieve.score_text(
                self, scoring, request, mask, cfg, encoder, query_vector, chunk_vectors
            )
        if request.reference_item is not None:
            retrieve.add_reference(self, scoring, request, mask, cfg)
        constraints_only = not scoring.retrieval.any()
        if constraints_only:
            # Only constraints ("90s comedies", "no horror"): rank the allowed movies by the
            # prior (or the hidden-gem score when asked for gems).
            scoring.retrieval = mask.copy()
        candidates = scoring.retrieval & mask
        retrieve.add_genre_lift(self, scoring, request, genres_enforced, cfg)
        retrieve.add_year_penalty(self, scoring, request, cfg)
        retrieve.add_popularity(self, scoring, request, prior, cfg)
        retrieve.add_user_taste(scoring, user_scores, candidates, cfg)
        if constraints_only:
            notes.append(retrieve.constraints_only_note(request, scoring))
        return retrieve.ranked_hits(self, request, scoring, candidates, top, notes)

    # -- per-movie facts the search steps read ---------------------------------------------------
    def genre_share(self, wanted: Sequence[str]) -> np.ndarray:
        """Share of the ``wanted`` genres (all known to the index) each movie has."""
        cols = [self.genre_names.index(g) for g in wanted]
        return self.genres[:, cols].mean(axis=1).astype(np.float32)

    def prior_values(self, prior: Any) -> np.ndarray:
        """Per-item prior in [0, 1] from a PopularityPrior, an array, or rating counts."""
        values = getattr(prior, "values", prior)
        if values is not None:
            array = np.asarray(values, dtype=np.float32)
            if array.shape == (self.n_items,):
                return np.nan_to_num(
                    scale_to_pool(array, np.flatnonzero(np.isfinite(array))), nan=0.0
                )
        return self.popularity

    def hidden_gems(self, prior: Any) -> np.ndarray:
        """Hidden-gem score: well rated but little seen (0 for barely rated movies)."""
        gem = getattr(prior, "hidden_gem", None)
        if callable(gem):
            values = np.asarray(gem(), dtype=np.float32)
            if values.shape == (self.n_items,):
                return np.nan_to_num(scale_to_pool(values, np.flatnonzero(np.isfinite(values))))
        quality = self.prior_values(prior)
        return np.where(self.n_ratings >= 5, quality * (1.0 - self.popularity), 0.0).astype(
            np.float32
        )

    def term_contributions(self, tokens: list[str], items: np.ndarray) -> list[list[str]]:
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


def _genre_matrix(movies: Any, genre_names: list[str], n_items: int) -> np.ndarray:
    """Movies x genres, True where the movie's "A|B" genres list names the genre."""
    genres = np.zeros((n_items, len(genre_names)), dtype=bool)
    column = {g: j for j, g in enumerate(genre_names)}
    genre_lists = movies["genres"].fillna("").astype(str).str.split("|")
    for i, names in enumerate(genre_lists):
        for name in names:
            j = column.get(name)
            if j is not None:
                genres[i, j] = True
    return genres
