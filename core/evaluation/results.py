"""Evaluation results: the :class:`Section` table, its text form, and its one file format.

The only writer (:func:`write_section`) and reader (:func:`read_sections`) of
``artifacts/<dataset>/evaluation/<section>.json``; nothing here measures or prints.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

#: Opens the protocol of every section measured by ``python -m core evaluate --quick`` (fewer
#: folds, a sample of users or requests), so a quick figure is never read as a full one.
QUICK_PROTOCOL = "Quick protocol (python -m core evaluate --quick): "


@dataclass
class Section:
    """One evaluation table: rows of metrics per model, with the protocol stated."""

    name: str
    protocol: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    chosen: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    #: Set by :func:`read_sections` from the file (not part of :meth:`to_dict`).
    dataset: str = ""
    written_at: float | None = None

    @property
    def quick(self) -> bool:
        """Whether this section was measured by the quick protocol (:data:`QUICK_PROTOCOL`)."""
        return self.protocol.startswith(QUICK_PROTOCOL)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the Evaluation page."""
        return {
            "name": self.name,
            "protocol": self.protocol,
            "rows": self.rows,
            "chosen": self.chosen,
            "seconds": round(self.seconds, 1),
        }


def quick_protocol(protocol: str, reduced: str) -> str:
    """``protocol`` marked as the quick one, saying first what ``--quick`` reduced."""
    return f"{QUICK_PROTOCOL}{reduced}. {protocol}"


def format_section(section: Section) -> str:
    """Plain-text table of one section."""
    frame = pd.DataFrame(section.rows)
    lines = [f"== {section.name} ({section.seconds:.0f} s)", section.protocol]
    lines.append(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if section.chosen:
        lines.append(f"chosen: {json.dumps(section.chosen, default=str)}")
    return "\n".join(lines)


def write_section(folder: Path, section: Section, *, dataset: str) -> Path:
    """Write ``section`` to ``folder/<name>.json`` (with the data set's name and the time).

    Written to a hidden ``.<name>.json.part`` first and renamed, so a reader never sees half a
    file; :func:`read_sections` skips the hidden names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {**section.to_dict(), "dataset": dataset, "written_at": time.time()}
    tmp = folder / f".{section.name}.json.part"
    tmp.write_text(json.dumps(payload, indent=2, default=float))
    path = folder / f"{section.name}.json"
    tmp.replace(path)
    return path


def section_files(folder: Path) -> list[Path]:
    """The section files of ``folder`` in name order (hidden partial writes excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def read_sections(folder: Path, *, errors: list[str] | None = None) -> dict[str, Section]:
    """File stem -> :class:`Section` of every file :func:`write_section` wrote in ``folder``.

    A file that cannot be parsed, or is not a section (no ``rows`` list of objects), is
    skipped; why is appended to ``errors`` when given (the app shows it)."""
    sections: dict[str, Section] = {}
    for path in section_files(folder):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            _skip(errors, f"Could not read {path.name}: {err}")
            continue
        rows = data.get("rows") if isinstance(data, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            _skip(errors, f"{path.name} is not an evaluation section (no rows); skipped.")
            continue
        chosen = data.get("chosen")
        sections[path.stem] = Section(
            name=str(data.get("name") or path.stem),
            protocol=str(data.get("protocol") or ""),
            rows=rows,
            chosen=chosen if isinstance(chosen, dict) else {},
            seconds=float(data.get("seconds") or 0.0),
            dataset=str(data.get("dataset") or ""),
            written_at=data.get("written_at"),
        )
    return sections


def _skip(errors: list[str] | None, message: str) -> None:
    if errors is not None:
        errors.append(message)
