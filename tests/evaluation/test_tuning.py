"""Choosing recency and blend weights on validation: grids, the weight search, the 1-SE rule."""

from __future__ import annotations

import numpy as np

from core.config import RankerSettings
from core.evaluation.signals import blend_top, normalised_signals, weighted_top
from core.evaluation.tuning import (
    EXTRA_WEIGHTS,
    collab_grid,
    one_se_choice,
    tune_weights,
    weight_grid,
)
from core.serving.blend import SIGNALS, Weights


def test_tune_weights_follows_the_validation_items() -> None:
    rng = np.random.default_rng(1)
    users = np.arange(30)
    truth = {int(u): {int(u) % 20, (int(u) + 7) % 20} for u in users}
    noise = {name: rng.random((30, 20)).astype(np.float32) for name in SIGNALS}
    informed = noise["semantic"].copy()
    for u, items in truth.items():
        informed[u, list(items)] += 5.0  # only "semantic" knows the validation items
    signals = {**noise, "semantic": informed}
    mask = np.ones((30, 20), dtype=bool)
    weights, value = tune_weights(signals, mask, truth, users, "nDCG@10")
    assert weights["semantic"] == max(weights.values())
    assert value > 0.95
    assert {k: v for k, v in weights.items() if v} != {"collab": 1.0}


def test_fast_blend_orders_like_the_product_blend() -> None:
    rng = np.random.default_rng(2)
    signals = {name: rng.normal(size=(12, 40)).astype(np.float32) for name in SIGNALS}
    signals["popularity"][:, 5] = np.nan
    mask = rng.random((12, 40)) < 0.8
    z = normalised_signals(signals, mask)
    for weights in (Weights().as_dict(), weight_grid()[37]):
        np.testing.assert_array_equal(
            weighted_top(z, weights, mask), blend_top(signals, weights, mask)
        )


def test_one_se_choice_prefers_the_simplest_tie() -> None:
    base = np.random.default_rng(3).random(400)
    tie = base + 0.001 + np.resize([0.05, -0.05], 400)  # better by 0.001, standard error 0.0025
    clear = base + 0.3
    assert one_se_choice(np.array([base, tie, clear])) == 2
    assert one_se_choice(np.array([base, tie])) == 0
    assert one_se_choice(np.array([base - 0.3, base])) == 1


def test_collab_grid_starts_with_the_plain_profile() -> None:
    grid = collab_grid()
    assert grid[0] == {"recency_decay": 0.0, "recency_floor": 0.0, "dislike_weight": 0.5}
    assert len({tuple(sorted(g.items())) for g in grid}) == len(grid)
    defaults = RankerSettings()
    product = {name: getattr(defaults, name) for name in grid[0]}
    assert product in grid  # the product's own setting is among those tuned


def test_extra_signals_are_tried_on_top_of_the_grid() -> None:
    rng = np.random.default_rng(4)
    users = np.arange(30)
    truth = {int(u): {int(u) % 20} for u in users}
    tuned = [*weight_grid()[0], *EXTRA_WEIGHTS]  # the signals this grid tunes
    signals = {name: rng.random((30, 20)).astype(np.float32) for name in tuned}
    signals["crew"][users, users % 20] += 0.5  # only the crew signal knows something
    mask = np.ones((30, 20), dtype=bool)
    weights, _ = tune_weights(signals, mask, truth, users, "HitRate@10")
    assert weights["crew"] > 0
    assert set(weights) == {*weight_grid()[0], *EXTRA_WEIGHTS}
