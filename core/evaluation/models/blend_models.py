"""Two-tower retrieval beside the blend, and the director & cast / TMDB-metadata signals in it.

Sections ``twotower_ranking_*`` and ``crew_metadata`` under both ranking protocols; every
weight is chosen on validation carved from the training part, test only scores the choice.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog
from core.evaluation.metrics import ranking_metrics
from core.evaluation.models.protocols import KS, ProtocolSplit, protocol_splits, recall_metrics
from core.evaluation.models.twotower import config_text, train_twotower, twotower_matrix
from core.evaluation.results import Section
from core.evaluation.signals import (
    candidate_mask,
    fit_signals,
    held_out_truth,
    normalised_signals,
    ranked_lists,
    signal_matrices,
    top_k,
    weighted_top,
)
from core.evaluation.tuning import weight_grid
from core.progress import Progress, no_progress
from core.serving.blend import Weights, normalise
from core.signals.metadata import METADATA_WEIGHT
from core.signals.twotower import TwoTowerConfig, TwoTowerRetrieval

#: Weights tried for each extra signal on top of the tuned four-signal blend (collab = 1).
EXTRA_GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)


EXTRAS = ("crew", "metadata", "twotower")


#: Weights tried for director & cast / TMDB metadata on top of the default blend weights
#: (which sum to 1): the candidates for their own default weight.
DEFAULT_GRID = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)


#: Metadata shares (vs text similarity) of the TMDB-metadata signal tried on validation.
METADATA_SHARES = (0.0, 0.1, 0.3, 0.5, 0.7, 1.0)


LABELS = {"crew": "director & cast", "metadata": "TMDB metadata", "twotower": "two-tower"}


@dataclass
class _Stage:
    """Fitted signals of one stage (validation or test) as normalised users x items matrices."""

    users: np.ndarray
    mask: np.ndarray
    truth: dict[int, set[int]]
    raw: dict[str, np.ndarray]
    norm: dict[str, np.ndarray]
    counts: np.ndarray
    twotower: TwoTowerRetrieval
    quality: np.ndarray  # TMDB quality per movie (the metadata signal's metadata part)
    kind: str  # the collaborative ranker ("EASE" or "ALS")


def _stage(
    catalog: Catalog,
    fit: pd.DataFrame,
    held_out: pd.DataFrame,
    users: np.ndarray,
    settings: Settings,
    embeddings: np.ndarray,
    config: TwoTowerConfig,
    progress: Progress,
    label: str,
) -> _Stage:
    fitted = fit_signals(catalog, fit, settings, embeddings)
    raw = signal_matrices(fitted, users, Weights().genre_weight)
    model = train_twotower(fitted.catalog, embeddings, config, progress, label)
    raw["twotower"] = twotower_matrix(model, users)
    mask = candidate_mask(fitted.catalog, users, fit)
    counts = fitted.scorers["popularity"].n_ratings.astype(np.float32)  # type: ignore[attr-defined]
    quality = np.nan_to_num(fitted.scorers["metadata"].quality)  # type: ignore[attr-defined]
    kind = fitted.scorers["collab"].__class__.__name__.removesuffix("Ranker")
    return _Stage(users, mask, held_out_truth(fitted.catalog, users, held_out), raw,
                  normalised_signals(raw, mask), counts, model, quality, kind)  # fmt: skip


def _value(stage: _Stage, weights: Mapping[str, float], metric: str) -> float:
    top = weighted_top(stage.norm, weights, stage.mask, 10)
    return ranking_metrics(ranked_lists(stage.users, top), stage.truth, 10)[metric]


def _tune(stage: _Stage, metric: str) -> dict[str, Any]:
    """Base blend weights (the ranking part's grid), then each extra signal's weight on top."""
    best_base, best = weight_grid()[0], -1.0
    for weights in weight_grid():
        value = _value(stage, weights, metric)
        if value > best + 1e-9:
            best_base, best = weights, value
    chosen: dict[str, Any] = {"base": best_base, "base_value": best}
    for extra in EXTRAS:
        top_w, top_v = 0.0, best
        for w in EXTRA_GRID[1:]:
            value = _value(stage, {**best_base, extra: w}, metric)
            if value > top_v + 1e-9:
                top_w, top_v = w, value
        chosen[extra] = (top_w, top_v)
    crew_meta = (0.0, 0.0, best)
    for c, m in itertools.product(EXTRA_GRID, EXTRA_GRID):
        value = _value(stage, {**best_base, "crew": c, "metadata": m}, metric)
        if value > crew_meta[2] + 1e-9:
            crew_meta = (c, m, value)
    chosen["crew+metadata"] = crew_meta
    chosen["on defaults"] = {
        extra: {w: _value(stage, {**_defaults(), extra: w}, metric) for w in DEFAULT_GRID}
        for extra in ("crew", "metadata")
    }
    # The metadata signal's own share of TMDB reception vs text similarity: ranked alone.
    z_text = np.nan_to_num(normalise(stage.raw["semantic"], np.ones_like(stage.mask)), nan=0.0)
    shares = {}
    for share in METADATA_SHARES:
        matrix = (1 - share) * z_text + share * stage.quality[None, :]
        top = top_k(matrix, stage.mask, 10)
        value = ranking_metrics(ranked_lists(stage.users, top), stage.truth, 10)[metric]
        shares[share] = round(value, 4)
    chosen["metadata shares"] = shares
    return chosen


def _defaults() -> dict[str, float]:
    """The product's default blend weights without the two extra signals."""
    return {**Weights().as_dict(), "crew": 0.0, "metadata": 0.0}


def _default_weight(valid: Mapping[str, Mapping[float, float]]) -> tuple[float, dict[str, float]]:
    """The extra signal's weight on the default blend with the best worst-protocol relative
    validation gain (0 unless it helps somewhere and hurts nowhere), and those gains."""
    gains = {
        w: min(values[w] / max(values[0.0], 1e-12) - 1.0 for values in valid.values())
        for w in DEFAULT_GRID
    }
    best = max(DEFAULT_GRID, key=lambda w: (round(gains[w], 6), -w))
    return (best if gains[best] > 1e-6 else 0.0), {str(w): round(g, 4) for w, g in gains.items()}


def _share(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values()) or 1.0
    return {name: round(w / total, 4) for name, w in weights.items() if w > 0}


def _pick(metrics: Mapping[str, float], metric: str) -> dict[str, float]:
    names = ["nDCG@10", "Recall@10"] if metric == "nDCG@10" else ["HitRate@10", "nDCG@10"]
    return {name: metrics[name] for name in names}


def _twotower_section(
    split: ProtocolSplit, chosen: Mapping[str, Any], test: _Stage, config: TwoTowerConfig
) -> Section:
    """The ``twotower_ranking_<protocol>`` section: test rows of the two-tower model beside
    popularity, the collaborative signal and the blend, with the weights validation chose."""

    def row(model: str, top: np.ndarray) -> dict[str, Any]:
        return {"model": model, **recall_metrics(test.users, top, test.truth)}

    k = max(KS)
    base_w = chosen["base"]
    tt_w, tt_valid = chosen["twotower"]
    popular = np.broadcast_to(test.counts, test.mask.shape)
    rows = [
        row("most popular", top_k(popular, test.mask, k)),
        row(f"collaborative signal ({test.kind} + time windows, default recency)",
            top_k(test.raw["collab"], test.mask, k)),
        row("blend, default weights", weighted_top(test.norm, Weights().as_dict(), test.mask, k)),
        row("blend, weights tuned on validation (default recency)",
            weighted_top(test.norm, base_w, test.mask, k)),
        row("two-tower alone", top_k(test.raw["twotower"], test.mask, k)),
        row(f"blend (default recency) + two-tower (weight {tt_w} tuned on validation)",
            weighted_top(test.norm, {**base_w, "twotower": tt_w}, test.mask, k)),
    ]  # fmt: skip
    keep = ["model", "Recall@10", "Recall@50", "Recall@100", "nDCG@10"]
    if split.key == "loo":
        keep.append("HitRate@10")
    return Section(
        f"twotower_ranking_{split.key}",
        split.protocol + f" {len(test.users)} users. Two-tower: {config_text(config)}; trained "
        f"in {test.twotower.fit_seconds:.0f} s on the test stage's training part. The "
        "collaborative signal keeps the product's default recency here (the ranking part "
        "tunes it), so these rows differ from ranking_stratified / ranking_loo.",
        [{c: r[c] for c in keep} for r in rows],
        {"blend weights": _share(base_w), "two-tower weight in the blend": tt_w,
         f"validation {split.metric}": {"blend": round(chosen["base_value"], 4),
                                         "blend + two-tower": round(tt_valid, 4)},
         "two-tower loss per epoch": [round(v, 3) for v in test.twotower.losses]},
    )  # fmt: skip


@dataclass
class _CrewMetadata:
    """The ``crew_metadata`` section, filled one protocol at a time."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)
    chosen: dict[str, Any] = field(default_factory=dict)
    on_defaults: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"crew": {}, "metadata": {}}
    )

    def add_protocol(self, split: ProtocolSplit, chosen: Mapping[str, Any], test: _Stage) -> None:
        """Director & cast and metadata on one protocol's test stage: alone, and added to the
        tuned blend; and the test figures of each weight tried on the default blend."""
        metric, users, key = split.metric, test.users, split.key
        base_w = chosen["base"]

        def figures(top: np.ndarray) -> dict[str, float]:
            return _pick(recall_metrics(users, top, test.truth), metric)

        def blended(weights: Mapping[str, float]) -> dict[str, float]:
            return figures(weighted_top(test.norm, weights, test.mask, 10))

        self.rows.append({"protocol": key, "model": "blend, tuned (4 signals)", "weight": 0.0,
                          f"validation {metric}": chosen["base_value"],
                          **blended(base_w)})  # fmt: skip
        for extra in ("crew", "metadata"):
            w, v = chosen[extra]
            self.rows.append({"protocol": key, "model": f"blend + {LABELS[extra]}", "weight": w,
                              f"validation {metric}": v,
                              **blended({**base_w, extra: w})})  # fmt: skip
        c, m, v = chosen["crew+metadata"]
        self.rows.append({"protocol": key, "model": f"blend + both (crew {c}, metadata {m})",
                          "weight": c + m, f"validation {metric}": v,
                          **blended({**base_w, "crew": c, "metadata": m})})  # fmt: skip
        for extra in ("crew", "metadata"):
            self.rows.append({"protocol": key, "model": f"{LABELS[extra]} alone",
                              **figures(top_k(test.raw[extra], test.mask, 10))})  # fmt: skip
        for extra in ("crew", "metadata"):
            w, v = chosen[extra]
            gain = v - chosen["base_value"]
            self.verdicts[f"{extra} ({key})"] = (
                f"helps: weight {w} adds {gain:+.4f} validation {metric}" if w > 0
                else f"does not help: no weight beat the blend without it on validation {metric}"
            )  # fmt: skip
        for extra in ("crew", "metadata"):
            tests = {w: blended({**_defaults(), extra: w}) for w in DEFAULT_GRID}
            self.on_defaults[extra][key] = (metric, chosen["on defaults"][extra], tests)
        self.chosen[key] = {
            "base weights": _share(base_w),
            f"metadata signal alone, validation {metric} by metadata share": chosen[
                "metadata shares"
            ],
        }

    def _default_rows(self) -> dict[str, Any]:
        """Rows of each signal on the default blend at the weight with the best worst-protocol
        validation gain; returns those recommendations."""
        recommended: dict[str, Any] = {}
        for number, (extra, per_split) in enumerate(self.on_defaults.items()):
            weight, gains = _default_weight({key: v[1] for key, v in per_split.items()})
            recommended[extra] = {
                "weight": weight,
                "worst-protocol validation gain by weight": gains,
                **{f"validation {v[0]} ({key})": {str(w): round(x, 4) for w, x in v[1].items()}
                   for key, v in per_split.items()},
            }  # fmt: skip
            for key, (metric, valid_values, tests) in per_split.items():
                # The plain default blend once per protocol, then each signal at its weight.
                for w in dict.fromkeys((0.0, weight) if number == 0 else (weight,)):
                    if w == 0 and number > 0:
                        continue
                    label = "blend, default weights" + (f" + {LABELS[extra]} {w}" if w else "")
                    self.rows.append({"protocol": key, "model": label, "weight": w,
                                      f"validation {metric}": valid_values[w],
                                      **tests[w]})  # fmt: skip
        return recommended

    def section(self) -> Section:
        """The finished section (call once, after every protocol was added)."""
        recommended = self._default_rows()
        return Section(
            "crew_metadata",
            "Each extra signal added to the four-signal blend tuned on validation (collaborative "
            f"weight 1, extra weight from {list(EXTRA_GRID)} chosen on validation), and alone; "
            "the same two protocols as the ranking part. Director & cast = overlap of directors "
            "and the top-4 billed actors with the liked movies; TMDB metadata = z-scored "
            "popularity, damped vote average and vote count blended with text similarity "
            f"(metadata share {METADATA_WEIGHT}). The 'default weights' rows add each signal to "
            f"the product's default blend with the weight from {list(DEFAULT_GRID)} whose worst "
            "relative validation gain over both protocols is best (0 when it hurts either). "
            "Columns are test figures except the validation ones. The collaborative signal "
            "keeps the product's default recency. Its time is that of both protocols' fits and "
            "tuning, which it shares with the two-tower ranking sections.",
            self.rows,
            {
                "verdict": self.verdicts,
                "default weight (validation, both protocols)": recommended,
                **self.chosen,
            },
        )


def evaluate_ranking_models(
    catalog: Catalog,
    settings: Settings,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    config: TwoTowerConfig | None = None,
    progress: Progress = no_progress,
) -> list[Section]:
    """Two-tower retrieval beside EASE and the blend, and the extra signals in the blend,
    under both ranking protocols (sections ``twotower_ranking_*`` and ``crew_metadata``)."""
    config = config or TwoTowerConfig()
    all_started = time.perf_counter()
    sections: list[Section] = []
    crew = _CrewMetadata()
    for number, split in enumerate(protocol_splits(catalog, seed)):
        started = time.perf_counter()
        users = np.unique(split.test["userId"].to_numpy())
        base = number / 2
        progress(f"models ({split.key}): validation fits", base + 0.05)
        valid = _stage(
            catalog, split.fit_valid, split.valid, users, settings, embeddings, config,
            lambda m, f, b=base: progress(m, b + 0.1 + 0.1 * f), "validation",
        )  # fmt: skip
        chosen = _tune(valid, split.metric)
        del valid  # one stage's matrices at a time: they are users x movies, several of them
        progress(f"models ({split.key}): test fits", base + 0.3)
        test = _stage(
            catalog, split.fit_test, split.test, users, settings, embeddings, config,
            lambda m, f, b=base: progress(m, b + 0.3 + 0.15 * f), "test",
        )  # fmt: skip
        section = _twotower_section(split, chosen, test, config)
        section.seconds = time.perf_counter() - started
        sections.append(section)
        crew.add_protocol(split, chosen, test)
        del test
    crew_section = crew.section()
    crew_section.seconds = time.perf_counter() - all_started
    sections.append(crew_section)
    return sections
