"""Choosing what depends on the data at build time, on validation carved from its ratings.

``tune(catalog, settings, embeddings)`` returns a :class:`Tuning`: the collaborative model's
regularisation, its recency and dislike handling and the blend weights that serve both kinds of
request (overall taste and what to watch next) on this data set, with the validation figures
behind each choice. The build stores it as the ``tuning`` component; the collaborative ranker
is fitted with its choices and the engine blends with its weights.
"""

from core.tuning.choices import Tuning
from core.tuning.search import tune

__all__ = ["Tuning", "tune"]
