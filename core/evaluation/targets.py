"""The quality targets set for ml-latest-small and how a results section is judged against them.

Reads finished sections only (objects or their JSON form); it must not run any evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.evaluation.metrics import K
from core.evaluation.results import QUICK_PROTOCOL, Section


@dataclass(frozen=True)
class Target:
    """A quality target: ``metric`` of the product row of ``section`` against ``value``."""

    measure: str
    section: str
    metric: str
    value: float
    lower_is_better: bool = False
    #: Row-name fragments of the product's row, tried in order (the first present wins).
    rows: tuple[str, ...] = ("(product)",)

    def met(self, measured: float) -> bool:
        """Whether ``measured`` reaches the target."""
        return measured <= self.value if self.lower_is_better else measured >= self.value


#: The quality targets set for ml-latest-small (and the tomt-movies requests). Search is judged
#: on the product row, except when the shipped re-ranker was trained on that very file (the
#: row says "in-sample"): then on the re-ranker cross-validated on it.
TARGETS: tuple[Target, ...] = (
    Target("rating RMSE, 5-fold", "rating", "RMSE", 0.845, lower_is_better=True),
    Target(
        "nDCG@10, stratified 75/25", "ranking_stratified", f"nDCG@{K}", 0.42,
        rows=("product: build-time tuning", "tuned on validation (product)"),
    ),
    Target(
        "HitRate@10, leave-one-out", "ranking_loo", f"HitRate@{K}", 0.10,
        rows=("product: build-time tuning", "tuned on validation (product)"),
    ),
    Target(
        "search Recall@10", "search", f"Recall@{K}", 0.30,
        rows=("(product", "full search"),
    ),
    # The chat on ReDial-style requests (all requests; the first product row is "all").
    Target("chat Recall@10", "chat", f"Recall@{K}", 0.10, rows=("chat (product)",)),
    Target("chat Hit@10", "chat", f"Hit@{K}", 0.20, rows=("chat (product)",)),
)  # fmt: skip


def target_rows(sections: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per :data:`TARGETS` entry whose section is present: the measure, the target,
    the product's figure, which row it came from and whether it is met (the measure says
    when the section was measured by the quick protocol). ``sections`` maps a
    section name to a :class:`Section` or its :meth:`Section.to_dict` form."""
    out = []
    for target in TARGETS:
        section = sections.get(target.section)
        if section is None:
            continue
        rows = section.rows if isinstance(section, Section) else section.get("rows", [])
        protocol = section.protocol if isinstance(section, Section) else section.get("protocol")
        chosen = None
        for fragment in target.rows:
            chosen = next((r for r in rows if fragment in str(r.get("model", ""))), None)
            if chosen is not None:
                break
        if chosen is not None and "in-sample" in str(chosen.get("model", "")):
            # The shipped model saw these requests: judge its held-out (cross-validated) row.
            chosen = next((r for r in rows if "cross-validated" in str(r.get("model", ""))), None)
        if chosen is None or target.metric not in chosen:
            continue
        measured = float(chosen[target.metric])
        out.append({
            # A quick figure (fewer folds, sampled users) is not the protocol the target names.
            "measure": target.measure
            + (" (quick protocol)" if str(protocol or "").startswith(QUICK_PROTOCOL) else ""),
            "target": ("<= " if target.lower_is_better else ">= ") + f"{target.value:g}",
            "measured": round(measured, 4),
            "met": target.met(measured),
            "row": chosen["model"],
        })  # fmt: skip
    return out
