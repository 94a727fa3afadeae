"""The rating history a fitted scorer keeps instead of the whole catalogue."""

from __future__ import annotations

from core.signals.base import Query, query_profile
from core.signals.history import RatingHistory


def test_rating_history_is_a_catalogue_stand_in(tiny_catalog) -> None:
    history = RatingHistory.from_catalog(tiny_catalog)
    query = Query(user_id=3, ratings={10: 5.0}, seeds=[1])
    ours = query_profile(history, query, like_threshold=3.5)  # type: ignore[arg-type]
    theirs = query_profile(tiny_catalog, query, like_threshold=3.5)
    for a, b in zip(ours, theirs, strict=True):
        assert list(a) == list(b)
    assert history.user_ratings(999).empty
    items, values, notes = history.merged(1, {1: 0.5, 424242: 4.0})
    assert values[items.tolist().index(0)] == 0.5 and notes == ["unknown movie 424242"]
