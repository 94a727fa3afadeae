"""Blending: normalisation, weights, silent signals, filters, ranking."""

from __future__ import annotations

import numpy as np

from core.serving.blend import Filters, Weights, blend_scores, candidate_mask, normalise, top_items


def test_normalise_keeps_nan_and_ignores_non_candidates() -> None:
    values = np.array([1.0, 2.0, 3.0, np.nan, 100.0], dtype=np.float32)
    mask = np.array([True, True, True, True, False])
    out = normalise(values, mask)
    assert np.isnan(out[3]) and np.isnan(out[4])
    assert np.allclose(out[:3], [-1.2247, 0.0, 1.2247], atol=1e-3)


def test_silent_signal_gives_its_weight_to_the_others() -> None:
    mask = np.ones(4, dtype=bool)
    signals = {
        "collab": np.full(4, np.nan, dtype=np.float32),
        "popularity": np.array([4, 3, 2, 1], dtype=np.float32),
    }
    blend = blend_scores(signals, {"collab": 0.9, "popularity": 0.1}, mask)
    assert blend.used == {"popularity": 1.0}
    assert list(top_items(blend.final, 4)) == [0, 1, 2, 3]


def test_weights_change_the_order() -> None:
    mask = np.ones(3, dtype=bool)
    signals = {
        "collab": np.array([3, 2, 1], dtype=np.float32),
        "semantic": np.array([1, 2, 3], dtype=np.float32),
    }
    assert top_items(blend_scores(signals, {"collab": 1, "semantic": 0}, mask).final, 1)[0] == 0
    assert top_items(blend_scores(signals, {"collab": 0, "semantic": 1}, mask).final, 1)[0] == 2
    assert np.allclose(sum(blend_scores(signals, Weights().as_dict(), mask).used.values()), 1.0)


def test_top_items_skips_non_candidates_and_breaks_ties_by_index() -> None:
    final = np.array([1.0, -np.inf, 1.0, 0.5], dtype=np.float32)
    assert list(top_items(final, 10)) == [0, 2, 3]
    assert list(top_items(final, 0)) == []


def test_candidate_mask_filters(tiny_catalog) -> None:
    cat = tiny_catalog
    item = cat.item_of
    mask = candidate_mask(cat, Filters(include_genres=("Romance",)))
    assert mask[item[9]] and not mask[item[1]]
    mask = candidate_mask(cat, Filters(exclude_genres=("Horror",)))
    assert not mask[item[1]] and not mask[item[19]] and mask[item[3]]
    mask = candidate_mask(cat, Filters(year_min=1990, year_max=1999))
    assert mask[item[6]] and not mask[item[1]] and not mask[item[7]]
    mask = candidate_mask(cat, Filters(min_ratings=1))
    assert not mask[item[20]]  # never rated
    rated = np.array([item[1], item[2]])
    mask = candidate_mask(cat, Filters(), rated)
    assert not mask[item[1]] and mask[item[3]]
    assert candidate_mask(cat, Filters(exclude_rated=False), rated)[item[1]]
    # "Sci-Fi" must not match a genre that merely contains the text.
    assert not candidate_mask(cat, Filters(include_genres=("Fi",))).any()


def test_constant_signal_normalises_to_zero() -> None:
    out = normalise(np.full(4, 0.0, dtype=np.float32), np.ones(4, dtype=bool))
    assert np.array_equal(out, np.zeros(4, dtype=np.float32))


def test_matrix_blend_matches_row_by_row() -> None:
    rng = np.random.default_rng(0)
    signals = {n: rng.normal(size=(3, 6)).astype(np.float32) for n in ("collab", "semantic")}
    signals["semantic"][1, 2] = np.nan
    mask = rng.random((3, 6)) > 0.2
    weights = {"collab": 0.7, "semantic": 0.3}
    whole = blend_scores(signals, weights, mask).final
    for row in range(3):
        single = blend_scores({n: v[row] for n, v in signals.items()}, weights, mask[row]).final
        assert np.allclose(whole[row], single, equal_nan=True)


def test_filters_narrow_only_with_user_choices() -> None:
    assert not Filters().narrows
    assert not Filters(exclude_rated=False, exclude_ids=(1, 2)).narrows
    assert Filters(exclude_genres=("Horror",)).narrows
    assert Filters(year_max=1999).narrows and Filters(min_ratings=5).narrows
