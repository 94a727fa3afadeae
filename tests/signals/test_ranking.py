"""The collaborative top-N rankers: EASE and ALS, time windows, recency and the factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from core.config import RankerSettings, Settings
from core.signals.base import Query
from core.signals.numeric import weighted_row_sum
from core.signals.ranking import (
    ALSRanker,
    CollabRanker,
    EASERanker,
    ease_weights,
    make_ranker,
    rating_times,
    time_windows,
)
from core.signals.ranking.ease import mirror_upper
from core.signals.rating import SVDRating
from tests.conftest import ML_LATEST_SMALL, needs_shared
from tests.fixtures import ROMANCE, SCIFI
from tests.scorer_contract import ScorerContract
from tests.signals.collab_support import SMALL, assert_taste_groups, unseen


# ---------------------------------------------------------------------------------------------
# Rankers
# ---------------------------------------------------------------------------------------------
class TestEASERanker(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> EASERanker:
        return EASERanker(SMALL).fit(tiny_catalog)

    def test_taste_groups(self, scorer, tiny_catalog) -> None:
        assert_taste_groups(scorer, tiny_catalog)

    def test_seeds_find_similar_movies(self, scorer, tiny_catalog) -> None:
        # Romance fans also watched (and disliked) Alien, so single-seed co-occurrence is
        # noisy on 40 users: require the best match and the average to be sci-fi.
        values = scorer.score(Query(seeds=[1])).values
        others = [tiny_catalog.item_of[m] for m in SCIFI[1:]]
        romance = [tiny_catalog.item_of[m] for m in ROMANCE]
        assert np.nanargmax(values) in others
        assert values[others].mean() > values[romance].mean()
        # Explanations cite the seed wherever it adds to the score (a movie it pushes down, as
        # one rated in the same sitting as romance films, gets no reason).
        cited = np.array([i for i in others if values[i] > 0])
        assert len(cited) >= len(others) - 2
        reasons = scorer.explain(Query(seeds=[1]), cited)
        assert all(r == "people who liked Alien (1979) also liked this" for r in reasons)

    def test_explain_cites_a_liked_rating(self, scorer, tiny_catalog) -> None:
        items = unseen(tiny_catalog, 1, SCIFI)
        reasons = scorer.explain(Query(user_id=1), items)
        assert all(r and r.startswith("because you rated ") and r.endswith("★") for r in reasons)
        liked = tiny_catalog.user_ratings(1).query("rating >= 3.5")["movieId"]
        titles = {tiny_catalog.title_of(m) for m in liked}
        assert all(any(t in r for t in titles) for r in reasons)

    def test_unknown_user_without_history(self, scorer) -> None:
        scores = scorer.score(Query(user_id=999_999))
        assert not scores.has_opinion
        assert "unknown user 999999: no history" in scores.note

    def test_new_user_ratings_use_only_liked_movies(self, scorer, tiny_catalog) -> None:
        liked_only = scorer.score(Query(ratings={1: 5.0, 2: 5.0})).values
        with_dislike = scorer.score(Query(ratings={1: 5.0, 2: 5.0, 9: 1.0})).values
        np.testing.assert_array_equal(liked_only, with_dislike)

    def test_weights_match_closed_form(self) -> None:
        rng = np.random.default_rng(0)
        x = sp.csr_matrix((rng.random((50, 30)) < 0.2).astype(np.float32))
        dense = x.toarray().astype(np.float64)
        inverse = np.linalg.inv(dense.T @ dense + 5.0 * np.eye(30))
        expected = -inverse / np.diag(inverse)
        np.fill_diagonal(expected, 0.0)
        np.testing.assert_allclose(ease_weights(x, 5.0), expected, atol=1e-5)

    def test_mirror_upper_in_blocks(self) -> None:
        # The in-place triangle copy works block by block; use blocks smaller than the matrix.
        rng = np.random.default_rng(1)
        upper = np.triu(rng.random((130, 130)).astype(np.float32))
        matrix = upper + np.tril(rng.random((130, 130)).astype(np.float32), -1)  # junk below
        mirror_upper(matrix, block=32)
        np.testing.assert_array_equal(matrix, upper + np.triu(upper, 1).T)

    def test_items_below_min_ratings_are_nan(self, tiny_catalog) -> None:
        ranker = EASERanker(SMALL, min_item_ratings=7).fit(tiny_catalog)
        counts = tiny_catalog.rating_stats["n_ratings"].to_numpy()
        values = ranker.score(Query(user_id=1)).values
        assert np.isnan(values[counts < 7]).all() and np.isfinite(values[counts >= 7]).all()
        note = ranker.score(Query(seeds=[18])).note  # Toy Story: too few ratings
        assert "too few ratings" in note

    def test_matrix_is_memory_mapped_after_load(self, scorer, tmp_path: Path) -> None:
        scorer.save(tmp_path)
        loaded = CollabRanker.load(tmp_path)
        assert isinstance(loaded, EASERanker)
        assert isinstance(loaded.B, np.memmap)
        with pytest.raises(ValueError):
            ALSRanker.load(tmp_path)
        with pytest.raises(ValueError):
            SVDRating.load(tmp_path)


class TestALSRanker(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> ALSRanker:
        return ALSRanker(SMALL, num_threads=1).fit(tiny_catalog)

    def test_taste_groups(self, scorer, tiny_catalog) -> None:
        assert_taste_groups(scorer, tiny_catalog)

    def test_fold_in_new_user(self, scorer, tiny_catalog) -> None:
        values = scorer.score(Query(ratings={1: 5.0, 2: 5.0, 3: 4.5})).values
        scifi = [tiny_catalog.item_of[m] for m in SCIFI[3:]]
        romance = [tiny_catalog.item_of[m] for m in ROMANCE]
        assert values[scifi].min() > values[romance].max()

    def test_seeds_find_similar_movies(self, scorer, tiny_catalog) -> None:
        values = scorer.score(Query(seeds=[9])).values
        assert np.nanargmax(values) in [tiny_catalog.item_of[m] for m in ROMANCE[1:]]
        reasons = scorer.explain(Query(seeds=[9]), np.array([tiny_catalog.item_of[10]]))
        assert reasons == ["people who liked Notting Hill (1999) also liked this"]

    def test_explain_cites_a_rating(self, scorer, tiny_catalog) -> None:
        reasons = scorer.explain(Query(user_id=1), unseen(tiny_catalog, 1, SCIFI))
        assert all(r and r.startswith("because you rated ") for r in reasons)

    def test_contributions_match_implicit_explain(self, scorer) -> None:
        query = Query(user_id=3, ratings={9: 5.0})
        profile = scorer._profile(query)
        items = np.array([0, 4, 9, 15])
        ours = scorer._contributions(profile, items)
        row = scorer._row(profile)
        for column, item in enumerate(items.tolist()):
            total, top, _ = scorer.model.explain(0, row, item, N=len(profile.items))
            theirs = dict(top)
            expected = [theirs.get(i, 0.0) for i in profile.items.tolist()]
            np.testing.assert_allclose(ours[:, column], expected, rtol=1e-4, atol=1e-6)
            assert ours[:, column].sum() == pytest.approx(total, rel=1e-4)
            # ... and they add up to the score itself.
            score = scorer.score(query).values[item]
            assert ours[:, column].sum() == pytest.approx(score, rel=1e-3, abs=1e-5)


def test_make_ranker_picks_by_size(tiny_catalog) -> None:
    assert isinstance(make_ranker(tiny_catalog, Settings()), EASERanker)
    small = Settings(ranker=RankerSettings(ease_max_items=5))
    assert isinstance(make_ranker(tiny_catalog, small), ALSRanker)
    als = Settings(ranker=RankerSettings(kind="als"))
    assert isinstance(make_ranker(tiny_catalog, als), ALSRanker)
    assert make_ranker(tiny_catalog).name == "collab"


@needs_shared
def test_ease_on_movielens_smoke() -> None:
    """EASE on ml-latest-small (items with >= 10 ratings, 200 users) beats nDCG@10 0.3.

    About 4 s on an idle machine (loading, split, a 2,000-item EASE, 200 queries).
    """
    from benchmarks.collab_quality import evaluate_topn, load_movielens, split

    train, test = split(load_movielens(ML_LATEST_SMALL))
    ranker = EASERanker(Settings(), min_item_ratings=10).fit(train)
    users = pd.unique(test["userId"])[:200]
    result = evaluate_topn(ranker, train, test, users=users.tolist())
    assert result.users == 200
    assert result.ndcg > 0.3, result


# ---------------------------------------------------------------------------------------------
# Time: co-occurrence windows and profile recency
# ---------------------------------------------------------------------------------------------
def _with(settings: Settings, **ranker: float | bool) -> Settings:
    import dataclasses

    return settings.replace(ranker=dataclasses.replace(settings.ranker, **ranker))


def test_time_windows_follow_each_users_order() -> None:
    # user 0 rated items 2, 0, 1 (in time), user 1 rated 1 then 2; item 3 is not kept.
    matrix = sp.csr_matrix(np.array([[1, 1, 1, 1], [0, 1, 1, 0]], dtype=np.float32))
    times = np.array([20.0, 30.0, 10.0, 40.0, 5.0, 6.0])  # aligned with matrix.data
    kept = np.array([0, 1, 2])
    windows = time_windows(matrix, times, kept, 2)
    assert windows is not None
    runs = {tuple(np.flatnonzero(row)) for row in windows.toarray()}
    # consecutive pairs (2,0), (0,1) and (1,2); the last rating of each user runs alone
    assert runs == {(0, 2), (0, 1), (1,), (1, 2), (2,)}
    assert time_windows(matrix, np.zeros(6), kept, 2) is None  # no timestamps: no order


def test_ease_weights_with_windows_match_closed_form() -> None:
    rng = np.random.default_rng(2)
    x = sp.csr_matrix((rng.random((40, 12)) < 0.3).astype(np.float32))
    w = sp.csr_matrix((rng.random((60, 12)) < 0.2).astype(np.float32))
    gram = x.toarray().T @ x.toarray() + 0.4 * w.toarray().T @ w.toarray()
    inverse = np.linalg.inv(gram + 5.0 * np.eye(12))
    expected = -inverse / np.diag(inverse)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(
        ease_weights(x, 5.0, windows=w, window_weight=0.4), expected, atol=1e-5
    )


def test_windows_change_ease_only_when_on(tiny_catalog) -> None:
    off = EASERanker(_with(SMALL, ease_window_weight=0.0)).fit(tiny_catalog)
    on = EASERanker(SMALL).fit(tiny_catalog)
    binary = tiny_catalog.user_items[:, off.kept].astype(np.float32)
    binary.data[:] = 1.0
    np.testing.assert_allclose(off.B, ease_weights(binary, 20.0), atol=1e-6)
    assert not np.allclose(on.B, off.B)


def test_rating_times_align_with_the_matrix(tiny_catalog) -> None:
    matrix = tiny_catalog.user_items
    times = rating_times(tiny_catalog, matrix)
    ratings = tiny_catalog.ratings
    pairs = zip(ratings["userId"], ratings["movieId"], strict=True)
    expected = dict(zip(pairs, ratings["timestamp"], strict=True))
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    users = tiny_catalog.user_ids[rows]
    movies = tiny_catalog.movie_ids[matrix.indices]
    assert times.tolist() == [expected[(u, m)] for u, m in zip(users, movies, strict=True)]


def test_weighted_row_sum_matches_a_dense_product() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.random((50, 30)).astype(np.float32)
    rows = rng.choice(50, size=20, replace=False)
    weights = np.concatenate([np.full(8, 0.25), np.full(5, 1.0), rng.random(7) + 0.1])
    expected = weights.astype(np.float32) @ matrix[rows]
    np.testing.assert_allclose(weighted_row_sum(matrix, weights, rows), expected, rtol=1e-5)
    # weights under 1e-4 of the largest are skipped
    tiny = weights.copy()
    tiny[0] = 1e-7
    expected = np.delete(tiny, 0).astype(np.float32) @ matrix[np.delete(rows, 0)]
    np.testing.assert_allclose(weighted_row_sum(matrix, tiny, rows), expected, rtol=1e-5)


class TestRecency:
    @pytest.fixture(scope="class")
    @staticmethod
    def ranker(tiny_catalog) -> EASERanker:
        settings = _with(SMALL, recency_decay=2.0, recency_floor=0.1, recency_liked_only=False)
        return EASERanker(settings).fit(tiny_catalog)

    def test_latest_ratings_weigh_most(self, ranker, tiny_catalog) -> None:
        profile = ranker._profile(Query(user_id=1))
        ratings = tiny_catalog.ratings.query("userId == 1").set_index("movieId")
        stamps = ratings.loc[tiny_catalog.movie_ids[profile.items], "timestamp"].to_numpy()
        base = np.where(profile.explainable, 1.0, ranker.params.dislike_weight)
        factor = profile.weights / base
        newest = int(np.argmax(stamps))
        assert factor[newest] == pytest.approx(1.0)
        order = np.argsort(-stamps)
        assert np.all(np.diff(factor[order]) <= 1e-7)  # older never weighs more
        rank = np.argsort(order)  # no ties among user 1's timestamps
        np.testing.assert_allclose(factor, 0.1 + 0.9 * np.exp(-rank / 2.0), rtol=1e-6)

    def test_ties_share_a_rank(self, ranker) -> None:
        times = np.array([5.0, 7.0, 7.0, 1.0])
        np.testing.assert_allclose(
            ranker._recency(times), 0.1 + 0.9 * np.exp(-np.array([2, 0, 0, 3]) / 2.0)
        )

    def test_new_ratings_count_as_latest(self, ranker) -> None:
        profile = ranker._profile(Query(user_id=1, ratings={11: 5.0, 12: 4.5}))
        weights = dict(zip(profile.items.tolist(), profile.weights.tolist(), strict=True))
        catalog_item = ranker.history.item_of
        assert weights[catalog_item[12]] == pytest.approx(1.0)  # the last one given
        assert weights[catalog_item[11]] == pytest.approx(0.1 + 0.9 * np.exp(-0.5))
        assert max(weights.values()) == pytest.approx(1.0)

    def test_off_means_equal_weights(self, ranker, tiny_catalog) -> None:
        plain = ranker.with_params(recency_decay=0.0)
        assert plain.B is ranker.B  # query-time setting: the fitted model is shared
        assert ranker.params.recency_decay == 2.0
        profile = plain._profile(Query(user_id=1))
        assert set(profile.weights.tolist()) <= {1.0, plain.params.dislike_weight}
        np.testing.assert_allclose(
            plain.score(Query(user_id=1)).values,
            EASERanker(SMALL).fit(tiny_catalog).score(Query(user_id=1)).values,
            rtol=1e-5,
        )

    def test_recent_taste_rises(self, ranker, tiny_catalog) -> None:
        # User 1 loves sci-fi but rated two romance films last: with a recency decay the other
        # romance films gain on the sci-fi ones (the next pick follows the latest ones).
        romance, scifi = unseen(tiny_catalog, 1, ROMANCE), unseen(tiny_catalog, 1, SCIFI)

        def romance_lead(scorer: EASERanker) -> float:
            values = scorer.score(Query(user_id=1)).values
            return float(values[romance].mean() - values[scifi].mean())

        assert romance_lead(ranker) > romance_lead(ranker.with_params(recency_decay=0.0))

    def test_liked_only_recency_leaves_dislikes_at_the_oldest_weight(self, ranker) -> None:
        every = ranker._profile(Query(user_id=1))
        liked_only = ranker.with_params(recency_liked_only=True)._profile(Query(user_id=1))
        np.testing.assert_array_equal(liked_only.items, every.items)
        liked = every.explainable
        assert liked.any() and (~liked).any()  # user 1 rated two romances low, last
        np.testing.assert_allclose(liked_only.weights[liked], every.weights[liked])
        dislike = ranker.params.dislike_weight
        oldest = float((every.weights / np.where(liked, 1.0, dislike)).min())
        np.testing.assert_allclose(liked_only.weights[~liked], dislike * oldest, rtol=1e-6)
        assert liked_only.weights[~liked].max() < every.weights[~liked].min()
        # without a decay the switch changes nothing
        plain = ranker.with_params(recency_decay=0.0, recency_liked_only=True)
        np.testing.assert_array_equal(
            plain.score(Query(user_id=1)).values,
            ranker.with_params(recency_decay=0.0).score(Query(user_id=1)).values,
        )

    def test_liked_only_recency_keeps_the_taste_groups(self, ranker, tiny_catalog) -> None:
        # Fans of one group who rated two of the other group's films low, last: recency on
        # every rating lets those films' neighbours overtake their own group's, liked-only
        # recency does not.
        users = (1, 5, 2, 4)
        with pytest.raises(AssertionError):
            assert_taste_groups(ranker, tiny_catalog, users)
        assert_taste_groups(ranker.with_params(recency_liked_only=True), tiny_catalog, users)

    def test_times_survive_save_and_load(self, ranker, tmp_path: Path) -> None:
        ranker.save(tmp_path)
        loaded = CollabRanker.load(tmp_path)
        np.testing.assert_array_equal(loaded.times, ranker.times)
        np.testing.assert_allclose(
            loaded.score(Query(user_id=3)).values, ranker.score(Query(user_id=3)).values
        )

    def test_als_folds_in_a_recency_weighted_history(self, tiny_catalog) -> None:
        als = ALSRanker(_with(SMALL, recency_decay=2.0), num_threads=1).fit(tiny_catalog)
        profile = als._profile(Query(user_id=1))
        assert profile.trained_row is None  # reweighted history: folded in, not the trained row
        assert np.isfinite(als.score(Query(user_id=1)).values).any()
        plain = als.with_params(recency_decay=0.0, dislike_weight=1.0)  # the binary history
        assert plain._profile(Query(user_id=1)).trained_row is not None


@pytest.mark.parametrize(
    "decay, floor, dislike", [(0.0, 0.0, 0.5), (3.0, 0.0, 1.0), (5.0, 0.4, 0.5)]
)
def test_ease_scores_are_linear_in_history_weights(tiny_catalog, decay, floor, dislike):
    # Validation scores many users at once from the linear parts of an EASE profile (liked
    # and disliked, with and without decay); mixed, they must equal what a request gets.
    ranker = EASERanker(SMALL).fit(tiny_catalog)
    rows = np.arange(len(ranker.history.user_ids))

    def part(d: float, liked: float, disliked: float) -> np.ndarray:
        return ranker.score_matrix(ranker.history_weights(rows, decay=d, liked=liked,
                                                          disliked=disliked), 0.0)  # fmt: skip

    plain = part(0.0, 1.0, 0.0) + dislike * part(0.0, 0.0, 1.0)
    mixed = plain
    if decay > 0:
        mixed = floor * plain + (1 - floor) * (
            part(decay, 1.0, 0.0) + dislike * part(decay, 0.0, 1.0)
        )
    expected = ranker.with_params(recency_decay=decay, recency_floor=floor, dislike_weight=dislike)
    one = np.stack([expected.score(Query(user_id=int(u))).values for u in ranker.history.user_ids])
    known = np.isfinite(one)
    np.testing.assert_allclose(mixed[known], one[known], rtol=1e-4, atol=1e-5)
