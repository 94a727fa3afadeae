"""The component registry: every entry builds, saves, loads and keeps the scorer contract.

A signal added to ``core.signals.registry`` is fitted here through its own registry entry on
the tiny catalogue and gets the shared contract tests without writing anything else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.serving.blend import SIGNALS, Weights
from core.signals.base import Scorer
from core.signals.registry import COMPONENTS, BuildContext, build_order, component, dependants
from tests.scorer_contract import ScorerContract

#: Components that are not scorers: the catalogue, the search index and the tuned choices.
NOT_SCORERS = ("catalog", "search", "tuning", "recent")  # recent: tests/signals/test_recent.py
SCORERS = [c.name for c in COMPONENTS if c.name not in NOT_SCORERS]


@pytest.fixture(scope="module")
def built(tiny_catalog, tiny_settings) -> dict[str, object]:
    """Every component fitted through its registry entry, in build order."""
    out: dict[str, object] = {}
    for entry in build_order():
        if entry.name == "catalog":
            continue
        ctx = BuildContext(tiny_catalog, tiny_settings, needed=out.__getitem__)
        out[entry.name] = entry.fit(ctx)
    return out


class TestEveryRegisteredScorer(ScorerContract):
    @pytest.fixture(scope="class", params=SCORERS)
    @classmethod
    def scorer(cls, request, built, encoder) -> Scorer:
        scorer = built[request.param]
        assert isinstance(scorer, Scorer)
        scorer.set_encoder(encoder)
        return scorer


def test_every_component_loads_what_it_saved(built, tmp_path: Path) -> None:
    for name, fitted in built.items():
        folder = tmp_path / name
        folder.mkdir()
        fitted.save(folder)
        loaded = component(name).load(folder)
        assert type(loaded) is type(fitted)


def test_signals_are_the_entries_with_a_default_weight() -> None:
    assert SIGNALS == (
        "collab", "recent", "factors", "genre_tag", "semantic", "popularity", "crew", "metadata",
    )  # fmt: skip
    assert Weights().as_dict() == {n: component(n).default_weight for n in SIGNALS}
    for name in SIGNALS:
        entry = component(name)
        assert entry.label and entry.help and entry.color, name


def test_names_are_unique_and_needs_exist() -> None:
    names = [c.name for c in COMPONENTS]
    assert len(set(names)) == len(names)
    for entry in COMPONENTS:
        assert all(n in names for n in entry.needs), entry.name


def test_rebuilding_a_component_rebuilds_what_reads_it() -> None:
    assert dependants({"semantic"}) == {
        "semantic", "search", "metadata", "twotower", "tuning", "collab", "recent",
    }  # fmt: skip
    assert dependants({"crew"}) == {"crew"}


def test_weights_reject_unknown_signals_and_read_like_fields() -> None:
    with pytest.raises(TypeError, match="Unknown signal"):
        Weights(colab=1.0)
    weights = Weights(collab=1.0, genre_weight=0.3)
    assert weights.collab == 1.0 and weights.genre_weight == 0.3
    assert weights.crew == component("crew").default_weight
    assert np.isclose(sum(Weights().as_dict().values()), 1.45)


def test_build_order_puts_every_component_after_what_it_needs() -> None:
    order = [entry.name for entry in build_order()]
    assert sorted(order) == sorted(c.name for c in COMPONENTS)
    for entry in COMPONENTS:
        assert all(order.index(n) < order.index(entry.name) for n in entry.needs)
    assert order.index("tuning") < order.index("collab")  # collab is fitted with its choices
