"""The knobs of a search (:class:`SearchConfig`) and its result (:class:`SearchHits`).

Plain data only: no scoring, no index, so every search module can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np


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

    @classmethod
    def empty(cls, notes: list[str]) -> SearchHits:
        """No hits, only the (deduplicated) notes saying why."""
        none = np.empty(0, dtype=np.int64)
        return cls(none, np.empty(0, np.float32), {}, [], none, list(dict.fromkeys(notes)))
