"""Top-N collaborative rankers: EASE and ALS behind one :class:`CollabRanker` interface.

Ranking by predicted rating is a poor top-N ranker (it favours obscure movies a few people
loved); models trained on *what* people watched rank far better (``benchmarks/collab_quality.py``).
This package only re-exports; the code lives in ``base``, ``ease``, ``als`` and ``factory``.
"""

from core.signals.ranking.als import ALSRanker
from core.signals.ranking.base import RANKERS, CollabRanker, RankerProfile, rating_times
from core.signals.ranking.ease import EASE_MIN_ITEM_RATINGS, EASERanker, ease_weights, time_windows
from core.signals.ranking.factory import make_ranker

__all__ = [
    "EASE_MIN_ITEM_RATINGS",
    "RANKERS",
    "ALSRanker",
    "CollabRanker",
    "EASERanker",
    "RankerProfile",
    "ease_weights",
    "make_ranker",
    "rating_times",
    "time_windows",
]
