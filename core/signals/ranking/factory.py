"""Which collaborative ranker a catalogue gets: EASE unless it is too large (then ALS).

Chooses and constructs, never fits; it must not hold model code (see ``ease`` and ``als``).
"""

from __future__ import annotations

from core.config import Settings
from core.data.catalog import Catalog
from core.signals.ranking.als import ALSRanker
from core.signals.ranking.base import CollabRanker
from core.signals.ranking.ease import EASE_MIN_ITEM_RATINGS, EASERanker


def make_ranker(catalog: Catalog, settings: Settings | None = None) -> CollabRanker:
    """An unfitted ranker for the catalogue: EASE, unless ``settings.ranker.kind == "als"`` or
    EASE's matrix would exceed ``ease_max_items`` items (then ALS). Call ``.fit(catalog)``."""
    settings = settings or Settings()
    if settings.ranker.kind == "als":
        return ALSRanker(settings)
    counts = catalog.rating_stats["n_ratings"].to_numpy()
    if int((counts >= EASE_MIN_ITEM_RATINGS).sum()) > settings.ranker.ease_max_items:
        return ALSRanker(settings)
    return EASERanker(settings)
