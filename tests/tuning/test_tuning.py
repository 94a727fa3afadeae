"""Build-time tuning: what it chooses is never worse than the defaults on validation, it is
recorded and shown, ``--no-tune`` keeps the defaults, and the engine serves the choice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import ArtifactError
from core.evaluation.metrics import ranking_metrics
from core.serving.blend import SIGNALS, Weights
from core.serving.build import build
from core.serving.choices import chosen_lines
from core.serving.engine import Engine
from core.serving.staleness import check
from core.tuning import Tuning, tune
from core.tuning.problems import Problem
from core.tuning.search import (
    FACTORS_MIN_GAIN,
    TASTE_SLACK,
    Judge,
    _tune_factors,
    balanced,
    default_weights,
)
from tests.fixtures import make_ratings, make_tiny_catalog


@pytest.fixture(scope="module")
def catalog():
    """The tiny catalogue's two taste groups with enough users to tune on."""
    return make_tiny_catalog(n_users=160, seed=3)


@pytest.fixture(scope="module")
def embeddings(catalog) -> np.ndarray:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(catalog.n_items, 16)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tuned(catalog, embeddings, tiny_settings) -> Tuning:
    return tune(catalog, tiny_settings, embeddings, budget=600)


def test_the_choice_is_never_worse_than_the_defaults_on_validation(tuned: Tuning) -> None:
    assert tuned.tuned and tuned.users > 20
    assert set(tuned.weights) == set(SIGNALS)
    assert sum(tuned.weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert len(tuned.validation) == 2
    taste, following = (v["tuned"] / v["defaults"] for v in tuned.validation.values())
    # The defaults are where the search starts: what comes next never ends below them, and
    # overall taste gives back at most TASTE_SLACK of what its own stage reached.
    assert following >= 1.0 - 1e-3 and taste >= 1.0 - TASTE_SLACK - 1e-3
    assert (
        balanced([taste, following], floors=(1 - TASTE_SLACK, 1.0)) >= balanced([1.0, 1.0]) - 1e-3
    )
    assert tuned.trials["blend weights"] and tuned.trials["recency and dislikes"]


def test_no_time_keeps_the_defaults(catalog, embeddings, tiny_settings) -> None:
    tuning = tune(catalog, tiny_settings, embeddings, budget=0)
    assert any("time budget" in note for note in tuning.notes)
    total = sum(default_weights().values())
    assert tuning.weights == pytest.approx({k: v / total for k, v in default_weights().items()},
                                           abs=1e-3)  # fmt: skip
    assert not {"recency_decay", "recency_floor"} & set(tuning.ranker)


def test_too_few_users_is_said_not_guessed(embeddings, tiny_settings) -> None:
    few = make_tiny_catalog(n_users=12)
    tuning = tune(few, tiny_settings, embeddings[: few.n_items], budget=60)
    assert not tuning.tuned and "too few users" in tuning.notes[0]
    assert tuning.apply(tiny_settings) == tiny_settings


def test_json_round_trip_and_apply(tuned: Tuning, tmp_path: Path, tiny_settings) -> None:
    tuned.save(tmp_path)
    again = Tuning.load(tmp_path)
    assert again == tuned
    applied = again.apply(tiny_settings)
    for name, value in again.ranker.items():
        assert getattr(applied.ranker, name) == value
    assert "trials" not in tuned.record()
    (tmp_path / "tuning.json").write_text("[]")
    with pytest.raises(ArtifactError):
        Tuning.load(tmp_path)


@pytest.mark.parametrize("metric, k", [("ndcg", 10), ("hit", 10), ("ndcg", 50)])
def test_validation_metric_is_the_evaluation_metric(catalog, metric: str, k: int) -> None:
    rng = np.random.default_rng(1)
    users = np.unique(catalog.ratings["userId"].to_numpy())[:30]
    held = catalog.ratings[catalog.ratings["userId"].isin(users)].sample(60, random_state=1)
    problem = Problem.make("x", metric, k, catalog, catalog.ratings.drop(held.index), held, users)
    top = np.stack([rng.permutation(catalog.n_items)[: min(k, catalog.n_items)] for _ in users])
    top[0, -2:] = -1  # a short list
    truth = {
        int(u): set(np.flatnonzero(row).tolist())
        for u, row in zip(users, problem.truth, strict=True)
    }
    lists = {int(u): [int(i) for i in row if i >= 0] for u, row in zip(users, top, strict=True)}
    name = f"nDCG@{k}" if metric == "ndcg" else f"HitRate@{k}"
    expected = ranking_metrics(lists, truth, k)[name]
    assert problem.score(top) == pytest.approx(expected)


def test_build_records_serves_and_keeps_the_mode(
    tmp_path: Path, tiny_data_dir: Path, tiny_settings
) -> None:
    data = Path(shutil.copytree(tiny_data_dir, tmp_path / "data"))
    make_ratings(160, seed=3).to_csv(data / "ratings.csv", index=False)  # enough to tune on
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    build(data, settings.replace(tune=False))
    manifest = check(data, settings).manifest
    assert manifest is not None and manifest.components["tuning"]["chosen"]["tuned"] is False
    engine = Engine.open(data, settings)
    assert engine.default_weights == Weights()
    assert any("not tuned" in line for line in chosen_lines(manifest))

    # Opening (tune=None) accepts either mode; an explicit tuned build re-tunes the data set.
    assert build(data, settings).built == {}
    result = build(data, settings.replace(tune=True))
    assert {"tuning", "collab"} <= set(result.built)
    engine = Engine.open(data, settings)
    assert engine.tuning is not None and engine.tuning.tuned
    expected = Weights(**engine.tuning.weights).as_dict()
    assert engine.default_weights.as_dict() == pytest.approx(expected)
    for name, value in engine.tuning.ranker.items():
        assert getattr(engine.scorers["collab"].params, name) == pytest.approx(value)
    used = engine.recommend(user_id=1, top=5).weights_used  # a default recommendation's blend
    total = sum(expected[name] for name in used)
    assert used == pytest.approx({name: expected[name] / total for name in used}, abs=1e-6)
    lines = chosen_lines(check(data, settings).manifest)
    assert any(line.startswith("tuning: blend weights:") for line in lines)
    assert build(data, settings.replace(tune=True)).built == {}  # unchanged: the choice is reused


@pytest.mark.parametrize(
    "record",
    [
        {"tuned": True, "ranker": {"kind": "als"}, "weights": {}},  # not a field tuning sets
        {"tuned": True, "ranker": {"ease_lambda": "250"}, "weights": {}},  # not a number
        {"tuned": True, "ranker": [], "weights": {}},
        {"tuned": True, "ranker": {}, "weights": []},
    ],
)
def test_a_tampered_tuning_record_is_refused(tmp_path: Path, record: dict) -> None:
    # A record that apply() would hand to the ranker's settings must hold only tuned numbers.
    (tmp_path / "tuning.json").write_text(json.dumps(record))
    with pytest.raises(ArtifactError):
        Tuning.load(tmp_path)


class _Linear:
    """A stand-in validation problem: user u's metric is ``1 + gain * spread_u * share`` (share:
    the factors' share of the weights) plus fixed per-user noise. ``spread`` sets how unevenly
    users gain: mean 1, standard deviation ``spread_sd`` (0 = every user alike)."""

    def __init__(self, gain: float, spread_sd: float = 0.0, users: int = 400) -> None:
        rng = np.random.default_rng(1)
        self.gain = gain
        self.noise = rng.normal(0, 0.01, users)
        z = rng.standard_normal(users)
        self.spread = 1.0 + spread_sd * (z - z.mean()) / z.std()  # exactly mean 1, sd spread_sd

    def user_values(self, params, weights) -> np.ndarray:
        share = weights.get("factors", 0.0) / (sum(weights.values()) or 1.0)
        return 1.0 + self.gain * share * self.spread + self.noise


@pytest.mark.parametrize(
    ("gain", "spread_sd", "kept"),
    [
        (0.2, 0.0, True),  # several percent, every user alike: kept
        (0.02, 0.0, False),  # under FACTORS_MIN_GAIN: left out
        # Several percent on average, but one standard error of 400 users' differences: past
        # the ordinary guard (half a standard error), short of the factors' two.
        (0.2, 20.0, False),
    ],
)
def test_taste_factors_are_kept_only_for_a_clear_gain(
    gain: float, spread_sd: float, kept: bool
) -> None:
    # A blend weight of w among weights summing to ~1.5 moves the metric by gain * w / 1.5.
    problem = _Linear(gain, spread_sd)
    judge = Judge([problem], {}, default_weights(), aims=(1.0,))  # type: ignore[list-item]
    out = Tuning(tuned=True)
    _tune_factors(judge, out, deadline=float("inf"))
    assert (judge.weights["factors"] > 0) is kept
    assert out.trials["taste factors"]
    assert any("taste factors left out" in n for n in out.notes) is (not kept)
    if not kept:  # everything back as it was, not just the one weight
        assert judge.weights == default_weights() and judge.best == pytest.approx(1.0)
    else:
        assert judge.best > 1.0 + FACTORS_MIN_GAIN
