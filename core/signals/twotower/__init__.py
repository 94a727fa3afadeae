"""Two-tower neural models (PyTorch on CPU to train, NumPy to serve): retrieval and ratings.

A *user tower* reads a user's rating statistics, genre shares and affinities and the mean text
vector of the movies they liked (optionally a user-id embedding); a *movie tower* reads a movie's
genres, year, popularity, rating statistics, TMDB reception and text embedding, so it embeds
movies nobody has rated. This package only re-exports; see its modules.
"""

from core.signals.twotower.base import TwoTowerBase
from core.signals.twotower.config import TwoTowerConfig
from core.signals.twotower.features import TowerFeatures
from core.signals.twotower.rating import TwoTowerRating
from core.signals.twotower.retrieval import TwoTowerRetrieval

__all__ = [
    "TowerFeatures",
    "TwoTowerBase",
    "TwoTowerConfig",
    "TwoTowerRating",
    "TwoTowerRetrieval",
]
