"""SVD rating prediction: Surprise's biased MF served from NumPy, and the lean trainset."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.signals.base import Query
from core.signals.rating.svd import SVDRating, lean_trainset
from tests.fixtures import ROMANCE, SCIFI
from tests.scorer_contract import ScorerContract
from tests.signals.collab_support import SMALL, assert_taste_groups


# ---------------------------------------------------------------------------------------------
# SVD
# ---------------------------------------------------------------------------------------------
class TestSVDRating(ScorerContract):
    @pytest.fixture(scope="class")
    @classmethod
    def scorer(cls, tiny_catalog) -> SVDRating:
        return SVDRating(SMALL).fit(tiny_catalog)

    def test_taste_groups(self, scorer, tiny_catalog) -> None:
        assert_taste_groups(scorer, tiny_catalog)

    def test_matches_surprise(self, scorer, tiny_catalog) -> None:
        from surprise import SVD, Dataset, Reader

        p = SMALL.svd
        data = Dataset.load_from_df(
            tiny_catalog.ratings[["userId", "movieId", "rating"]], Reader(rating_scale=(0.5, 5.0))
        )
        algo = SVD(
            n_factors=p.n_factors,
            n_epochs=p.n_epochs,
            lr_all=p.lr_all,
            reg_all=p.reg_all,
            random_state=p.random_state,
        )
        algo.fit(data.build_full_trainset())
        movies = [1, 4, 9, 17, 20, 777]
        for user in (1, 2, 999):
            ours = scorer.predict(user, movies)
            theirs = [algo.predict(user, m).est for m in movies]
            np.testing.assert_allclose(ours["est"], theirs, atol=1e-4)

    def test_predict_reasons(self, scorer) -> None:
        frame = scorer.predict(999_999, [1, 777])
        assert list(frame.columns) == ["movieId", "est", "was_impossible", "reason"]
        assert frame["was_impossible"].dtype == bool
        assert frame["reason"].tolist() == [
            "unknown user: item mean",
            "unknown user and movie: global mean",
        ]
        assert frame["est"].iloc[1] == pytest.approx(scorer.mu)
        known = scorer.predict(1, [1, 777])
        assert known["was_impossible"].tolist() == [False, True]
        assert known["reason"].iloc[0] == ""
        assert "unknown movie" in known["reason"].iloc[1]
        # Movie 20 is in the catalogue but nobody rated it: same fallback as an unknown movie.
        assert scorer.predict(1, [20])["was_impossible"].iloc[0]

    def test_fold_in_moves_predictions(self, scorer, tiny_catalog) -> None:
        new = {1: 5.0, 2: 4.5, 3: 5.0, 9: 1.0, 10: 1.5}
        targets = [4, 5, 6, 11, 12, 13]
        cold = scorer.predict(None, targets).set_index("movieId")["est"]
        warm = scorer.predict(None, targets, ratings=new).set_index("movieId")["est"]
        assert (warm.loc[[4, 5, 6]] > cold.loc[[4, 5, 6]]).all()
        assert (warm.loc[[11, 12, 13]] < cold.loc[[11, 12, 13]]).all()
        scores = scorer.score(Query(ratings=new)).values
        assert scores[[3, 4, 5]].min() > scores[[10, 11, 12]].max()  # item index = movieId - 1

    def test_fold_in_is_fast(self, scorer) -> None:
        start = time.perf_counter()
        for _ in range(20):
            scorer.score(Query(ratings={1: 5.0, 2: 4.5, 3: 5.0, 9: 1.0, 10: 1.5}))
        assert (time.perf_counter() - start) / 20 < 0.02

    def test_known_user_with_extra_ratings_is_folded_in(self, scorer) -> None:
        base = scorer.score(Query(user_id=2)).values
        changed = scorer.score(Query(user_id=2, ratings={4: 5.0, 5: 5.0, 6: 5.0}))
        assert "folded in" in changed.note
        assert np.nanmean(changed.values[[3, 4, 5]]) > np.nanmean(base[[3, 4, 5]])

    def test_clipped_to_scale(self, scorer) -> None:
        for rating in (5.0, 0.5):
            query = Query(ratings=dict.fromkeys(SCIFI + ROMANCE, rating))
            values = scorer.score(query).values
            assert np.nanmax(values) <= 5.0 and np.nanmin(values) >= 0.5
            est = scorer.predict(None, SCIFI, ratings=query.ratings)["est"]
            assert est.between(0.5, 5.0).all()

    def test_unrated_movie_is_nan_in_scores(self, scorer, tiny_catalog) -> None:
        values = scorer.score(Query(user_id=1)).values
        assert np.isnan(values[tiny_catalog.item_of[20]])

    def test_seeds_only_is_nan_with_note(self, scorer) -> None:
        scores = scorer.score(Query(seeds=[1]))
        assert not scores.has_opinion and "needs a user or ratings" in scores.note

    def test_unknown_user_falls_back_to_item_mean(self, scorer) -> None:
        scores = scorer.score(Query(user_id=999_999))
        assert scores.has_opinion and "item mean" in scores.note

    def test_saved_as_arrays(self, scorer, tmp_path: Path) -> None:
        scorer.save(tmp_path)
        assert {p.suffix for p in tmp_path.iterdir()} <= {".npy", ".npz", ".json"}

    def test_estimate_matches_predict(self, scorer) -> None:
        users = np.array([1, 2, 999, 1])
        movies = np.array([4, 9, 1, 777])
        batch = scorer.estimate(users, movies)
        single = [scorer.predict(u, [m])["est"].iloc[0] for u, m in zip(users, movies, strict=True)]
        np.testing.assert_allclose(batch, single, rtol=1e-6)


def test_lean_trainset_fits_what_surprise_fits(tiny_catalog) -> None:
    """Same inner ids, same pair order, hence the very same SGD parameters as Surprise's own
    loader; users and movies appear shuffled so first-appearance numbering matters."""
    from surprise import SVD, Dataset, Reader

    frame = tiny_catalog.ratings[["userId", "movieId", "rating"]].sample(frac=1.0, random_state=3)
    scale = (0.5, 5.0)
    lean, raw_users, raw_items = lean_trainset(frame, scale)
    full = Dataset.load_from_df(frame, Reader(rating_scale=scale)).build_full_trainset()
    assert [full.to_raw_uid(u) for u in range(full.n_users)] == raw_users.tolist()
    assert [full.to_raw_iid(i) for i in range(full.n_items)] == raw_items.tolist()
    assert list(lean.all_ratings()) == list(full.all_ratings())
    assert lean.global_mean == full.global_mean
    fitted = [SVD(n_factors=4, n_epochs=5, random_state=0).fit(t) for t in (lean, full)]
    for name in ("bu", "bi", "pu", "qi"):
        np.testing.assert_array_equal(getattr(fitted[0], name), getattr(fitted[1], name))


def test_lean_trainset_of_no_ratings() -> None:
    frame = pd.DataFrame({"userId": [], "movieId": [], "rating": []})
    trainset, users, items = lean_trainset(frame, (0.5, 5.0))
    assert trainset.n_ratings == 0 and len(users) == 0 and len(items) == 0
