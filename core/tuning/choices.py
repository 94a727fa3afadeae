"""What build-time tuning chose, and how it scored on validation (saved as JSON)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import ArtifactError

#: Fields of :class:`~core.config.RankerSettings` tuning may set.
RANKER_FIELDS = (
    "ease_lambda", "ease_window_weight", "recency_decay", "recency_floor", "dislike_weight",
)  # fmt: skip


@dataclass
class Tuning:
    """The tuned values of one data set and the validation evidence behind them.

    Attributes:
        tuned: ``False`` when tuning was skipped (``--no-tune``) and the defaults stand.
        ranker: chosen :class:`~core.config.RankerSettings` fields (see :data:`RANKER_FIELDS`).
        weights: blend weights of the default ``recommend`` (sum 1).
        validation: each protocol's metric for the defaults and for the choice, e.g.
            ``{"overall taste (nDCG@10)": {"defaults": 0.21, "tuned": 0.22}}``.
        trials: what was tried per stage, ``{stage: [{"setting": ..., "value": ...}, ...]}``.
        notes: why a stage was skipped or cut short (time budget, too few users).
        users: how many users' validation items were scored.
        seconds: time spent tuning.
    """

    tuned: bool = False
    ranker: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    validation: dict[str, dict[str, float]] = field(default_factory=dict)
    trials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    users: int = 0
    seconds: float = 0.0

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with the chosen ranker fields (the defaults where none was chosen)."""
        if not self.ranker:
            return settings
        return settings.replace(ranker=dataclasses.replace(settings.ranker, **self.ranker))

    def summary(self) -> list[str]:
        """Short lines for ``status`` and the Data page."""
        if not self.tuned:
            return ["not tuned: the built-in defaults", *self.notes]  # the notes say why
        lines = []
        if self.ranker:
            lines.append(
                "collaborative: " + ", ".join(f"{k} {_num(v)}" for k, v in self.ranker.items())
            )
        if self.weights:
            lines.append(
                "blend weights: "
                + ", ".join(f"{k} {v:.2f}" for k, v in self.weights.items() if v > 0)
            )
        for name, values in self.validation.items():
            lines.append(
                f"validation {name}: defaults {values.get('defaults', float('nan')):.4f} -> "
                f"tuned {values.get('tuned', float('nan')):.4f}"
            )
        lines.append(f"{self.users} users' validation ratings, {self.seconds:.0f} s")
        return [*lines, *self.notes]

    def record(self) -> dict[str, Any]:
        """The manifest's record: everything but the per-trial log (kept in tuning.json)."""
        data = self.to_dict()
        data.pop("trials", None)
        return data

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Tuning:
        if not isinstance(data, dict):
            raise ArtifactError("tuning.json is not an object")
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            tuning = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as err:
            raise ArtifactError(f"tuning.json is malformed: {err}") from err
        # What apply() hands to the ranker's settings: only fields tuning may set, as numbers.
        ranker = tuning.ranker if isinstance(tuning.ranker, dict) else None
        if ranker is None or any(k not in RANKER_FIELDS or not isinstance(v, int | float)
                                 for k, v in ranker.items()):  # fmt: skip
            raise ArtifactError(f"tuning.json chooses unknown ranker settings: {tuning.ranker!r}")
        if not isinstance(tuning.weights, dict):
            raise ArtifactError("tuning.json weights are not a mapping")
        return tuning

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tuning.json").write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, folder: Path) -> Tuning:
        try:
            data = json.loads((folder / "tuning.json").read_text())
        except (OSError, ValueError) as err:
            raise ArtifactError(f"tuning.json unreadable: {err}") from err
        return cls.from_dict(data)


def _num(value: float) -> str:
    return f"{value:g}"
