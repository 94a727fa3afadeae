"""The steps of :meth:`SearchIndex.search`: constraints, retrieval, fusion or re-ranking, lifts.

Each step adds a named part to one :class:`Scoring`; the index builds, stores and scores movies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from core.search.cleaning import clean_request
from core.search.config import SearchConfig, SearchHits
from core.search.followups import NO_EARLIER_ANSWER
from core.search.parsed import ParsedRequest
from core.search.reasons import reasons_for
from core.search.rerank import features
from core.search.scoring import scale_to_pool, top_indices

if TYPE_CHECKING:
    from core.search.index import SearchIndex
    from core.serving.blend import Filters
    from core.signals.encoder import Encoder


def as_request(request: ParsedRequest | str) -> ParsedRequest:
    """A parsed request as is; plain text cleaned, with no constraints parsed."""
    if isinstance(request, ParsedRequest):
        return request
    cleaned = clean_request(str(request))
    return ParsedRequest(raw=str(request), text=cleaned, cleaned=cleaned)


def years_outside(years: np.ndarray, request: ParsedRequest) -> np.ndarray:
    """Years each movie lies outside the request's year window (0 inside, unknown years 0)."""
    lo = -np.inf if request.year_min is None else request.year_min
    hi = np.inf if request.year_max is None else request.year_max
    gap = np.where(years < lo, lo - years, 0.0) + np.where(years > hi, years - hi, 0.0)
    return np.nan_to_num(gap, nan=0.0)


def constraints(
    index: SearchIndex,
    request: ParsedRequest,
    filters: Filters | None,
    notes: list[str],
    top: int,
) -> tuple[np.ndarray, bool]:
    """The hard mask and whether the request's own genres were enforced by it.

    Genres a short request names are required when at least ``top`` movies have them all;
    otherwise they only lift matching movies (noted in ``notes``).
    """
    enforced = False
    mask = np.ones(index.n_items, dtype=bool)
    column = {g: j for j, g in enumerate(index.genre_names)}
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
            mask &= index.n_ratings >= filters.min_ratings
        if filters.exclude_ids:
            mask &= ~np.isin(index.movie_ids, np.asarray(filters.exclude_ids, dtype=np.int64))
    for name in exclude:
        if name in column:
            mask &= ~index.genres[:, column[name]]
    if include_any:
        cols = [column[g] for g in include_any if g in column]
        mask &= index.genres[:, cols].any(axis=1) if cols else False
    if year_min is not None:
        mask &= index.years >= year_min
    if year_max is not None:
        mask &= index.years <= year_max
    if include_all and not request.narrative:
        cols = [column[g] for g in include_all if g in column]
        if cols:
            strict = mask & index.genres[:, cols].all(axis=1)
            if strict.sum() >= top:
                mask = strict
                enforced = True
            else:
                # "space adventure from the 80s": too few movies carry the genre label(s)
                # within the other constraints, so the genres only lift matching movies
                # (the "genre" part in :meth:`SearchIndex.search`).
                notes.append(
                    "few movies are labelled "
                    + " + ".join(include_all)
                    + " within these constraints; treating it as a preference"
                )
    return mask, enforced


def nothing_to_search(
    request: ParsedRequest, filters: Filters | None, mask: np.ndarray, notes: list[str], n: int
) -> SearchHits | None:
    """The empty answer (with a note why) when there is nothing to search for or no movie
    passes the constraints; None when the search goes on."""
    if request.is_empty() and not (filters is not None and filters.narrows):
        if NO_EARLIER_ANSWER not in notes:
            notes.append("Nothing to search for: describe a movie.")
        return SearchHits.empty(notes)
    if n == 0 or not mask.any():
        return SearchHits.empty([*notes, "No movie passes these constraints."] if n else notes)
    return None


@dataclass
class Scoring:
    """The running score of every movie during one search, and the parts it is made of.

    Attributes:
        total: the score so far (float32, one per movie).
        retrieval: movies some retriever proposed (the candidates, before the hard mask).
        parts: each named signal's contribution to ``total`` (shown with the hits).
        reason_parts: signals a learned score replaced: no longer in ``total``, kept for the
            reasons ("matches ...", "close in meaning").
        matched: the request's tokens BM25 knows.
        reranked: whether the learned re-ranker set ``total``.
    """

    total: np.ndarray
    retrieval: np.ndarray
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    reason_parts: dict[str, np.ndarray] = field(default_factory=dict)
    matched: list[str] = field(default_factory=list)
    reranked: bool = False

    @classmethod
    def start(cls, n: int) -> Scoring:
        """All movies at 0, none retrieved."""
        return cls(total=np.zeros(n, dtype=np.float32), retrieval=np.zeros(n, dtype=bool))

    def add(self, name: str, values: np.ndarray) -> None:
        """Record part ``name`` and add it to the total."""
        self.parts[name] = values
        self.total += values


def score_text(
    index: SearchIndex,
    scoring: Scoring,
    request: ParsedRequest,
    mask: np.ndarray,
    cfg: SearchConfig,
    encoder: Encoder | None,
    query_vector: np.ndarray | None,
    chunk_vectors: np.ndarray | None,
) -> None:
    """BM25 and dense retrieval of the request text, fused; re-ranked when the index's learned
    re-ranker takes this request."""
    text = request.text.strip()
    n = index.n_items
    bm25, scoring.matched = index.bm25_scores(text)
    if query_vector is None:
        query_vector = index.query_vector(text, encoder)
    dense = index.dense_scores(query_vector, cfg)
    bm25_top = top_indices(np.where(bm25 > 0, bm25, np.nan), cfg.pool, mask)
    dense_top = top_indices(dense, cfg.pool, mask)
    pool = np.union1d(bm25_top, dense_top)
    scoring.retrieval[pool] = True
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
        bm25_part = cfg.w_bm25 * scale_to_pool(bm25, pool)
        dense_part = cfg.w_dense * scale_to_pool(dense, pool)
    scoring.parts["bm25"] = bm25_part
    scoring.parts["dense"] = dense_part
    scoring.total += bm25_part + dense_part
    if index.uses_reranker(request, cfg):
        if chunk_vectors is None:
            chunk_vectors = index.chunk_vectors(text, encoder)
        rerank(index, scoring, request, mask, cfg, query_vector, chunk_vectors, bm25)


def rerank(
    index: SearchIndex,
    scoring: Scoring,
    request: ParsedRequest,
    mask: np.ndarray,
    cfg: SearchConfig,
    query_vector: np.ndarray,
    chunk_vectors: np.ndarray | None,
    bm25: np.ndarray,
) -> None:
    """Replace the fused score by the learned re-ranker's, over the re-ranker's own pool."""
    signals = index.request_signals(request, query_vector, chunk_vectors, bm25, cfg)
    pool = signals.pool(mask)
    # Only the re-ranker's own candidates: fusion candidates outside its pool
    # would get no learned score and tie with the worst scored one.
    scoring.retrieval[:] = False
    scoring.retrieval[pool] = True
    logit = np.full(index.n_items, np.nan, dtype=np.float32)
    assert index.reranker is not None  # uses_reranker checked it
    logit[pool] = index.reranker.decision(features(signals, index.facts, pool))
    # The learned score replaces the fused one (genre, year and popularity are
    # among its features); BM25/dense parts stay for the reasons only.
    scoring.reason_parts.update(scoring.parts)
    weight = cfg.w_bm25 + cfg.w_dense
    scoring.parts = {"rerank": weight * scale_to_pool(np.nan_to_num(logit), pool)}
    scoring.total = scoring.parts["rerank"].copy()
    scoring.reranked = True


def add_reference(
    index: SearchIndex,
    scoring: Scoring,
    request: ParsedRequest,
    mask: np.ndarray,
    cfg: SearchConfig,
) -> None:
    """The reference movie's neighbours join the candidates, scored by their similarity."""
    assert request.reference_item is not None
    ref_vector = np.asarray(index.embeddings[request.reference_item], dtype=np.float32)
    similarity = np.asarray(index.embeddings @ ref_vector, dtype=np.float32)
    ref_top = top_indices(similarity, cfg.pool, mask)
    scoring.retrieval[ref_top] = True
    weight = cfg.w_reference if request.text.strip() else 1.0
    pool = np.flatnonzero(scoring.retrieval)
    scoring.add("reference", weight * scale_to_pool(similarity, pool))


def add_genre_lift(
    index: SearchIndex,
    scoring: Scoring,
    request: ParsedRequest,
    genres_enforced: bool,
    cfg: SearchConfig,
) -> None:
    """Lift movies by the share of wished genres they have (not when re-ranked: a feature)."""
    soft_include = () if genres_enforced else request.include_genres
    if not (request.prefer_genres or soft_include) or scoring.reranked:
        return
    wanted = [g for g in (*request.prefer_genres, *soft_include) if g in index.genre_names]
    if wanted:
        weight = cfg.w_genre if request.narrative else cfg.w_genre_short
        scoring.add("genre", weight * index.genre_share(wanted))


def add_year_penalty(
    index: SearchIndex, scoring: Scoring, request: ParsedRequest, cfg: SearchConfig
) -> None:
    """A narrative request's soft year window (a short request's is a hard constraint)."""
    if request.narrative and request.has_years and not scoring.reranked:
        # People misremember years: outside the window costs a little, growing with the gap.
        gap = years_outside(index.years, request)
        scoring.add("year", (-cfg.w_year * np.minimum(gap / 5.0, 1.0)).astype(np.float32))


def add_popularity(
    index: SearchIndex, scoring: Scoring, request: ParsedRequest, prior: Any, cfg: SearchConfig
) -> None:
    """The "popular" / "hidden gem" wish, or else a small quality tie-breaker."""
    if scoring.reranked and request.popularity is None:
        return  # popularity is one of the re-ranker's features
    if request.popularity == "popular":
        scoring.add("popularity", cfg.w_popularity * index.popularity)
    elif request.popularity == "hidden":
        scoring.add("popularity", cfg.w_popularity * index.hidden_gems(prior))
    else:
        # Without a wish, a small lift for well-known, well-rated movies breaks near-ties.
        weight = cfg.w_prior if request.narrative else cfg.w_prior_short
        scoring.add("popularity", weight * index.prior_values(prior))


def add_user_taste(
    scoring: Scoring, user_scores: np.ndarray | None, candidates: np.ndarray, cfg: SearchConfig
) -> None:
    """Re-rank the candidates by the user's own scores (they retrieve no new movies)."""
    if user_scores is None:
        return
    values = np.asarray(user_scores, dtype=np.float32)
    values = np.where(np.isfinite(values), values, np.nan)  # -inf means "no opinion"
    if values.shape == (len(scoring.total),) and np.isfinite(values[candidates]).any():
        scaled = scale_to_pool(
            np.nan_to_num(values, nan=np.nanmin(values[candidates])),
            np.flatnonzero(candidates),
        )
        scoring.add("user", cfg.w_user * scaled)


def constraints_only_note(request: ParsedRequest, scoring: Scoring) -> str:
    """Why a request with nothing to match got these movies."""
    which = "hidden gems" if request.popularity == "hidden" else "best-known movies"
    taste = ", re-ranked for your taste" if "user" in scoring.parts else ""
    return f"no description given: the {which} that match{taste}"


def ranked_hits(
    index: SearchIndex,
    request: ParsedRequest,
    scoring: Scoring,
    candidates: np.ndarray,
    top: int,
    notes: list[str],
) -> SearchHits:
    """The best ``top`` candidates with their parts and reasons."""
    final = np.where(candidates, scoring.total, -np.inf).astype(np.float32)
    items = top_indices(np.where(np.isfinite(final), final, np.nan), top)
    hit_parts = {
        name: np.asarray(values[items], dtype=np.float32) for name, values in scoring.parts.items()
    }
    replaced = {k: np.asarray(v[items], np.float32) for k, v in scoring.reason_parts.items()}
    reasons = reasons_for(index, request, items, scoring.matched, {**replaced, **hit_parts})
    return SearchHits(
        items=items,
        scores=final[items].astype(np.float32),
        parts=hit_parts,
        reasons=reasons,
        movie_ids=index.movie_ids[items].astype(np.int64),
        notes=list(dict.fromkeys(notes)),
    )
