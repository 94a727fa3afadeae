"""The contract every :class:`core.signals.base.Scorer` keeps, as a mixin of pytest tests.

In the manner of implicit's ``recommender_base_test`` and LensKit's shared tests: a test class
inherits :class:`ScorerContract` and provides a ``scorer`` fixture fitted on ``tiny_catalog``::

    class TestMyScorer(ScorerContract):
        @pytest.fixture(scope="class")
        @classmethod
        def scorer(cls, tiny_catalog):
            return MyScorer().fit(tiny_catalog)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.signals.base import Query, Scorer

UNKNOWN_USER = 999_999
UNKNOWN_MOVIE = 999_999
KNOWN_USER = 1

#: Queries whose answers must survive a save/load round trip unchanged.
ROUND_TRIP_QUERIES = [
    Query(user_id=KNOWN_USER),
    Query(user_id=2),
    Query(seeds=[1, 9]),
    Query(ratings={1: 5.0, 2: 4.5, 9: 1.0}),
    Query(user_id=3, ratings={10: 5.0}),
    Query(),
]


class ScorerContract:
    """Shape, dtype, robustness, persistence and explanation rules for any scorer."""

    def test_scores_are_float32_per_item(self, scorer: Scorer, tiny_catalog) -> None:
        values = scorer.score(Query(user_id=KNOWN_USER)).values
        assert values.shape == (tiny_catalog.n_items,)
        assert values.dtype == np.float32
        assert not np.isinf(values).any()

    def test_score_users_matches_score(self, scorer: Scorer, tiny_catalog) -> None:
        # The batch path tuning uses must give what requests get, user by user.
        users = np.array([KNOWN_USER, 2, 3, UNKNOWN_USER])
        batch = scorer.score_users(users)
        one = np.stack([scorer.score(Query(user_id=int(u))).values for u in users])
        assert batch.shape == (len(users), tiny_catalog.n_items)
        assert batch.dtype == np.float32
        np.testing.assert_allclose(batch, one, rtol=1e-5, atol=1e-5)

    def test_empty_query(self, scorer: Scorer, tiny_catalog) -> None:
        scores = scorer.score(Query())
        assert scores.values.shape == (tiny_catalog.n_items,)
        assert scores.values.dtype == np.float32

    def test_text_only_query(self, scorer: Scorer, tiny_catalog) -> None:
        scores = scorer.score(Query(text="space smugglers"))
        assert scores.values.shape == (tiny_catalog.n_items,)

    def test_unknown_user(self, scorer: Scorer, tiny_catalog) -> None:
        scores = scorer.score(Query(user_id=UNKNOWN_USER))
        assert scores.values.shape == (tiny_catalog.n_items,)
        assert not np.isinf(scores.values).any()  # all NaN, or a finite fallback
        assert "unknown" in scores.note.lower()

    def test_unknown_seed_movie(self, scorer: Scorer) -> None:
        scores = scorer.score(Query(seeds=[UNKNOWN_MOVIE]))
        assert "unknown" in scores.note.lower()

    def test_unknown_rated_movie(self, scorer: Scorer) -> None:
        scores = scorer.score(Query(user_id=KNOWN_USER, ratings={UNKNOWN_MOVIE: 5.0}))
        assert "unknown" in scores.note.lower()
        assert scores.has_opinion

    def test_known_user_gets_finite_scores(self, scorer: Scorer) -> None:
        assert scorer.score(Query(user_id=KNOWN_USER)).has_opinion

    def test_save_load_round_trip(self, scorer: Scorer, tmp_path: Path) -> None:
        scorer.save(tmp_path)
        loaded = type(scorer).load(tmp_path)
        for query in ROUND_TRIP_QUERIES:
            before, after = scorer.score(query), loaded.score(query)
            np.testing.assert_array_equal(before.values, after.values, err_msg=str(query))
            assert before.note == after.note
        items = np.arange(5)
        assert scorer.explain(ROUND_TRIP_QUERIES[0], items) == loaded.explain(
            ROUND_TRIP_QUERIES[0], items
        )

    def test_explain_one_entry_per_item(self, scorer: Scorer, tiny_catalog) -> None:
        items = np.arange(tiny_catalog.n_items)
        for query in (Query(user_id=KNOWN_USER), Query(seeds=[1]), Query()):
            reasons = scorer.explain(query, items)
            assert len(reasons) == len(items)
            assert all(r is None or (isinstance(r, str) and r) for r in reasons)
        assert scorer.explain(Query(user_id=KNOWN_USER), np.array([], dtype=np.int64)) == []

    def test_query_is_not_mutated_state(self, scorer: Scorer) -> None:
        # Scoring one query must not change the answer to another (no state leaks).
        first = scorer.score(Query(user_id=KNOWN_USER)).values.copy()
        scorer.score(Query(ratings={9: 5.0, 10: 5.0}))
        np.testing.assert_array_equal(first, scorer.score(Query(user_id=KNOWN_USER)).values)
