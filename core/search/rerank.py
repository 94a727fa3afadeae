"""The learned re-ranker of long "which movie is this?" requests: features, model, training rows.

A linear model over 34 features of each candidate (BM25, cosine and best-chunk scores with their
ranks and z-scores in the pool, year gap, genre share, popularity, whether the movie has any text)
orders the candidates of narrative requests (more than :data:`core.search.request.NARRATIVE_WORDS`
words) better than score fusion; short chat requests stay on fusion. Linear and fitted listwise
because that won in cross-validation (``docs/experiments/search.md``); 34 coefficients ship as
small JSON (:data:`DEFAULT_PATH`, trained by ``python -m core tune-search --queries FILE``) that
serving reads with NumPy alone. Features are per candidate and relative to the request's pool,
so the model is used on any catalogue. This module must not import the search index (it sees
one only through :class:`CandidateSource`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core.search.scoring import top_indices

if TYPE_CHECKING:
    from core.search.parsed import ParsedRequest

#: The shipped model (trained on ml-latest-small + tomt-movies/train.jsonl).
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "resources" / "search_reranker.json"
#: Candidates taken from each retriever (BM25, whole-request cosine, best-chunk cosine).
POOL = 200
#: Request chunks: words per chunk and overlap; requests up to CHUNK_WORDS + 20 words are
#: one chunk (the whole request).
CHUNK_WORDS = 80
CHUNK_OVERLAP = 20
#: Most chunks encoded per request (a 20,000-character post stays bounded).
MAX_CHUNKS = 12
#: Bump when the features change (a model trained on other features is refused).
FEATURE_VERSION = 1

_BASE = (
    "bm25", "bm25_scaled", "bm25_rank", "bm25_z",
    "cosine", "cosine_scaled", "cosine_rank", "cosine_z",
    "chunk_max", "chunk_mean", "chunk_max_rank", "chunk_max_z", "chunk_mean_z",
    "year_gap", "has_years", "genre_share", "n_genres_wanted",
    "popularity", "has_overview", "has_plot", "text_words", "n_tags", "no_year",
    "request_words", "n_chunks",
)  # fmt: skip
#: Features multiplied by "the movie has an overview or plot": a cosine against a title and
#: genres means something else than one against a plot.
_WITH_TEXT = (
    "bm25_scaled", "bm25_rank", "bm25_z", "cosine", "cosine_rank", "cosine_z",
    "chunk_max", "chunk_max_z", "popularity",
)  # fmt: skip
FEATURES: tuple[str, ...] = _BASE + tuple(f"{name}*text" for name in _WITH_TEXT)


def request_chunks(text: str) -> list[str]:
    """Overlapping word windows of a long request (empty when it fits in one window)."""
    words = str(text).split()
    if len(words) <= CHUNK_WORDS + 20:
        return []
    step = CHUNK_WORDS - CHUNK_OVERLAP
    starts = range(0, max(1, len(words) - CHUNK_OVERLAP), step)
    return [" ".join(words[s : s + CHUNK_WORDS]) for s in starts][:MAX_CHUNKS]


@dataclass(frozen=True)
class ItemFacts:
    """Per-movie inputs of the features that do not depend on the request."""

    popularity: np.ndarray  # log rating count scaled to [0, 1]
    has_overview: np.ndarray  # bool
    has_plot: np.ndarray  # bool
    text_words: np.ndarray  # log1p(words of the long text)
    n_tags: np.ndarray  # log1p(distinct tags)
    years: np.ndarray  # NaN when unknown

    @property
    def has_text(self) -> np.ndarray:
        """Whether the movie has an overview or a plot."""
        return self.has_overview | self.has_plot


@dataclass(frozen=True)
class RequestSignals:
    """Whole-catalogue scores of one request, the inputs of :func:`features`.

    Attributes:
        bm25: BM25 score per movie (0 = no shared term).
        cosine: cosine of the whole request's vector to each movie vector.
        chunk_max / chunk_mean: best and mean cosine over the request's chunks (equal to
            ``cosine`` for a one-chunk request).
        year_gap: years outside the request's (soft) year window, 0 inside or without one.
        genre_share: share of the request's wanted genres each movie has.
        has_years / n_genres_wanted / request_words / n_chunks: request-level facts.
    """

    bm25: np.ndarray
    cosine: np.ndarray
    chunk_max: np.ndarray
    chunk_mean: np.ndarray
    year_gap: np.ndarray
    genre_share: np.ndarray
    has_years: bool
    n_genres_wanted: int
    request_words: int
    n_chunks: int

    def pool(self, mask: np.ndarray, size: int | None = None) -> np.ndarray:
        """Candidates: the union of each retriever's ``size`` (default :data:`POOL`) best
        movies within ``mask``."""
        size = POOL if size is None else size
        bm25_top = top_indices(np.where(self.bm25 > 0, self.bm25, np.nan), size, mask)
        cosine_top = top_indices(self.cosine, size, mask)
        chunk_top = top_indices(self.chunk_max, size, mask)
        return np.union1d(np.union1d(bm25_top, cosine_top), chunk_top).astype(np.int64)


def chunk_scores(
    cosine: np.ndarray, embeddings: np.ndarray, chunk_vectors: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Best and mean cosine of each movie over the request's chunk vectors."""
    if chunk_vectors is None or len(chunk_vectors) == 0:
        return cosine, cosine
    sims = np.asarray(chunk_vectors, dtype=np.float32) @ np.asarray(embeddings, np.float32).T
    return sims.max(axis=0), sims.mean(axis=0)


def _rank(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    rank = np.empty(len(values), dtype=np.float32)
    rank[order] = np.arange(len(values), dtype=np.float32)
    return np.log1p(rank)


def _zscore(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-6)


def _scaled(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi - lo > 1e-9 else np.zeros_like(values)


def features(signals: RequestSignals, facts: ItemFacts, pool: np.ndarray) -> np.ndarray:
    """The :data:`FEATURES` matrix (len(pool) x len(FEATURES), float32) of the candidates."""
    n = len(pool)
    if n == 0:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    bm25 = signals.bm25[pool].astype(np.float32)
    cosine = signals.cosine[pool].astype(np.float32)
    chunk_max = signals.chunk_max[pool].astype(np.float32)
    chunk_mean = signals.chunk_mean[pool].astype(np.float32)
    columns: dict[str, np.ndarray] = {
        "bm25": bm25,
        "bm25_scaled": _scaled(bm25),
        "bm25_rank": _rank(bm25),
        "bm25_z": _zscore(bm25),
        "cosine": cosine,
        "cosine_scaled": _scaled(cosine),
        "cosine_rank": _rank(cosine),
        "cosine_z": _zscore(cosine),
        "chunk_max": chunk_max,
        "chunk_mean": chunk_mean,
        "chunk_max_rank": _rank(chunk_max),
        "chunk_max_z": _zscore(chunk_max),
        "chunk_mean_z": _zscore(chunk_mean),
        "year_gap": np.minimum(signals.year_gap[pool], 50.0),
        "has_years": np.full(n, float(signals.has_years)),
        "genre_share": signals.genre_share[pool],
        "n_genres_wanted": np.full(n, float(signals.n_genres_wanted)),
        "popularity": facts.popularity[pool],
        "has_overview": facts.has_overview[pool],
        "has_plot": facts.has_plot[pool],
        "text_words": facts.text_words[pool],
        "n_tags": facts.n_tags[pool],
        "no_year": ~np.isfinite(facts.years[pool]),
        "request_words": np.full(n, np.log1p(signals.request_words)),
        "n_chunks": np.full(n, float(signals.n_chunks)),
    }
    text = facts.has_text[pool].astype(np.float32)
    for name in _WITH_TEXT:
        columns[f"{name}*text"] = columns[name] * text
    out = np.column_stack([np.asarray(columns[name], dtype=np.float32) for name in FEATURES])
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass
class SearchReranker:
    """A linear score over standardised :data:`FEATURES` (NumPy only at serving time).

    Attributes:
        mean / scale: the standardisation fitted on the training rows.
        coef / intercept: the weights on standardised features (listwise fits have no
            intercept: it cannot change a request's order).
        trained_on: where the model came from (data set, queries file and its hash, counts).
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    trained_on: dict[str, Any] = field(default_factory=dict)

    def decision(self, matrix: np.ndarray) -> np.ndarray:
        """Each row's score (higher = more likely the answer; comparable within a request)."""
        standard = (np.asarray(matrix, np.float32) - self.mean) / self.scale
        return standard @ self.coef + self.intercept

    @classmethod
    def fit(
        cls,
        matrix: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray | None = None,
        *,
        c: float = 1.0,
        **trained_on: Any,
    ) -> SearchReranker:
        """Fit on candidate rows (``labels`` 1 for the answer, 0 otherwise).

        With ``groups`` (the request of each row) the weights maximise the softmax probability
        of each request's answer among its own candidates (:func:`_fit_listwise`); without,
        a row-wise logistic regression (scikit-learn). L2 strength ``1 / c`` either way."""
        from sklearn.preprocessing import StandardScaler

        labels = np.asarray(labels, dtype=np.int64)
        if labels.min(initial=1) == labels.max(initial=0):
            raise ValueError("training rows need both answers and non-answers")
        scaler = StandardScaler().fit(matrix)
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        standard = (np.asarray(matrix, np.float64) - scaler.mean_) / scale
        if groups is not None:
            coef, intercept = _fit_listwise(standard, labels, np.asarray(groups), 1.0 / c), 0.0
            objective = "listwise softmax"
        else:
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=c, max_iter=3000).fit(standard, labels)
            coef, intercept = model.coef_[0], float(model.intercept_[0])
            objective = "logistic regression"
        return cls(
            mean=scaler.mean_.astype(np.float32),
            scale=scale.astype(np.float32),
            coef=np.asarray(coef, dtype=np.float32),
            intercept=intercept,
            trained_on={
                "objective": objective, "rows": len(labels), "answers": int(labels.sum()),
                **trained_on,
            },
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (features named, so a mismatch is detected on load)."""
        return {
            "kind": "search_reranker",
            "feature_version": FEATURE_VERSION,
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "trained_on": self.trained_on,
        }

    def save(self, path: Path) -> None:
        """Write the model as JSON (atomically)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(path)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> SearchReranker:
        """Read :meth:`to_dict` output; ``ValueError`` when it does not fit these features."""
        if payload.get("kind") != "search_reranker" or payload.get("features") != list(FEATURES):
            raise ValueError("not a search re-ranker for this version's features")
        arrays = [np.asarray(payload[k], dtype=np.float32) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(FEATURES),) or not np.isfinite(a).all() for a in arrays):
            raise ValueError("search re-ranker arrays have the wrong shape or are not finite")
        return cls(*arrays, float(payload["intercept"]), dict(payload.get("trained_on", {})))

    @classmethod
    def load(cls, path: Path) -> SearchReranker:
        """Read a model written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _fit_listwise(
    standard: np.ndarray, labels: np.ndarray, groups: np.ndarray, l2: float
) -> np.ndarray:
    """Linear weights maximising the mean log softmax probability of each group's answer
    among the group's rows, plus ``l2 / 2 * |w|^2`` per group (L-BFGS, SciPy).

    Hand-written because scikit-learn has no listwise (conditional logit) objective and
    LightGBM's lambdarank would add a dependency and trees; it beat the row-wise logistic
    regression (docs/experiments/search.md). Groups without an answer carry no signal and are
    dropped."""
    from scipy.optimize import minimize

    answered = np.zeros(int(groups.max()) + 1, dtype=bool)
    answered[groups[labels == 1]] = True
    keep = answered[groups]
    rows, labels = standard[keep], labels[keep]
    _, group = np.unique(groups[keep], return_inverse=True)
    n_groups = int(group.max()) + 1
    answers = np.flatnonzero(labels == 1)
    answer_sum = rows[answers].sum(axis=0)

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        scores = rows @ weights
        top = np.full(n_groups, -np.inf)
        np.maximum.at(top, group, scores)
        exp = np.exp(scores - top[group])
        total = np.bincount(group, exp, n_groups)
        log_norm = top + np.log(total)
        value = -(scores[answers].sum() - log_norm[group[answers]].sum())
        share = exp / total[group]
        grad = -(answer_sum - share @ rows)
        value += 0.5 * l2 * float(weights @ weights)
        return value / n_groups, (grad + l2 * weights) / n_groups

    start = np.zeros(rows.shape[1])
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return np.asarray(result.x)


@lru_cache(maxsize=4)
def load_default(path: str = str(DEFAULT_PATH)) -> SearchReranker | None:
    """The shipped model, or None when the file is missing or unreadable (search then falls
    back to score fusion)."""
    try:
        return SearchReranker.load(Path(path))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def file_digest(path: Path) -> str:
    """Short SHA-1 of a file (to record which queries a model was trained on)."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


@dataclass
class TrainingRows:
    """Candidate rows of many requests: features, labels and which request each row is of."""

    matrix: np.ndarray
    labels: np.ndarray
    request: np.ndarray
    items: np.ndarray

    @classmethod
    def stack(cls, parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> TrainingRows:
        """From per-request ``(features, labels, items)`` tuples, in request order (a request
        that is not re-ranked contributes zero rows but keeps its number)."""
        if not parts:
            none = np.zeros(0, np.int64)
            return cls(np.zeros((0, len(FEATURES)), np.float32), none, none, none)
        return cls(
            np.vstack([p[0] for p in parts]).astype(np.float32),
            np.concatenate([p[1] for p in parts]).astype(np.int64),
            np.concatenate([np.full(len(p[0]), i) for i, p in enumerate(parts)]).astype(np.int64),
            np.concatenate([p[2] for p in parts]).astype(np.int64),
        )


def fold_of_requests(n_requests: int, folds: int = 5, seed: int = 0) -> np.ndarray:
    """A fold number per request (a seeded shuffle dealt round-robin)."""
    order = np.random.default_rng(seed).permutation(n_requests)
    fold_of = np.empty(n_requests, dtype=np.int64)
    fold_of[order] = np.arange(n_requests) % folds
    return fold_of


class CandidateSource(Protocol):
    """What :func:`candidate_rows` needs of a search index (:class:`~core.search.index.SearchIndex`
    provides it); a protocol so this module does not import the index."""

    @property
    def n_items(self) -> int: ...

    @property
    def facts(self) -> ItemFacts: ...

    def constraint_mask(
        self, request: ParsedRequest, filters: Any, notes: list[str], top: int = 10
    ) -> np.ndarray: ...

    def request_signals(
        self,
        request: ParsedRequest,
        query_vector: np.ndarray,
        chunk_vectors: np.ndarray | None = None,
    ) -> RequestSignals: ...


def candidate_rows(
    index: CandidateSource,
    request: ParsedRequest,
    query_vector: np.ndarray,
    chunk_vectors: np.ndarray | None,
    answer: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One request's training rows: the features, labels and items of the candidates that
    :meth:`SearchIndex.search` would re-rank (same constraints, same pool)."""
    mask = index.constraint_mask(request, None, [])
    if request.reference_item is not None and 0 <= request.reference_item < index.n_items:
        mask[request.reference_item] = False
    signals = index.request_signals(request, query_vector, chunk_vectors)
    pool = signals.pool(mask)
    return features(signals, index.facts, pool), (pool == answer).astype(np.int64), pool
