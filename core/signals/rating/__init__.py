"""Rating prediction: SVD, two neighbourhood models, Bayesian MF and their learned blend
(``RatingModel``).

This package only re-exports; the code lives in ``svd``, ``knn``, ``bayes`` and ``model``.
"""

from core.signals.rating.bayes import BayesianMF
from core.signals.rating.knn import ItemKNNBaseline, UserKNNBaseline
from core.signals.rating.model import (
    COMPONENT_LABELS,
    COMPONENTS,
    RatingModel,
    component_estimates,
    support_counts,
)
from core.signals.rating.svd import SVD_FOLD_IN_FLOOR, SVDRating, lean_trainset

__all__ = [
    "COMPONENTS",
    "COMPONENT_LABELS",
    "SVD_FOLD_IN_FLOOR",
    "BayesianMF",
    "ItemKNNBaseline",
    "RatingModel",
    "SVDRating",
    "UserKNNBaseline",
    "component_estimates",
    "lean_trainset",
    "support_counts",
]
