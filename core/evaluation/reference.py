"""Reference results shipped inside the package, so the Evaluation page is never empty.

``core/resources/reference/<dataset>/evaluation/<section>.json`` are section files as
:func:`~core.evaluation.results.write_section` wrote them, and ``about.json`` beside that folder
says when, with which command, on which machine and at which git commit they were measured.
``python -m core evaluate --quick --save-reference`` writes both; the app reads them only for
the data set of the same name, and labels them as shipped, never as the served data set's own.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.evaluation.results import Section, section_files, write_section

#: One folder per data set name (as in the artifacts folder: ``builtin`` for the built-in data).
REFERENCE_ROOT = Path(__file__).resolve().parents[1] / "resources" / "reference"


@dataclass(frozen=True)
class Reference:
    """Shipped results of one data set: where the section files are and how they were made."""

    dataset: str
    folder: Path
    about: dict[str, Any]

    def summary(self) -> str:
        """``2026-12-04 on 2 cores (Python 3.11.7, load average 1.4)``, from ``about.json``."""
        machine = self.about.get("machine")
        machine = machine if isinstance(machine, dict) else {}
        load = machine.get("load_average_start")
        load_text = f", load average {load[0]:.1f}" if _numbers(load) else ""
        return (
            f"{str(self.about.get('date', '?'))[:10]} on {machine.get('cores', '?')} cores "
            f"(Python {machine.get('python', '?')}{load_text})"
        )

    @property
    def command(self) -> str:
        return str(self.about.get("command") or "python -m core evaluate --quick")


def _numbers(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], int | float)


def find_reference(dataset: str, root: Path | None = None) -> Reference | None:
    """The shipped results of ``dataset`` (under ``root``, default :data:`REFERENCE_ROOT`), or
    ``None`` when there are none. A missing or unreadable ``about.json`` leaves ``about`` empty
    (the results are still labelled as shipped)."""
    base = (root or REFERENCE_ROOT) / dataset
    folder = base / "evaluation"
    if not dataset or not section_files(folder):
        return None
    try:
        about = json.loads((base / "about.json").read_text())
    except (OSError, ValueError):
        about = {}
    return Reference(dataset, folder, about if isinstance(about, dict) else {})


def machine() -> dict[str, Any]:
    """Cores, Python, platform and the 1/5/15-minute load averages now."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
    }


def git_commit(folder: Path | None = None) -> str:
    """``HEAD`` of the repository holding this package (``+dirty`` with uncommitted changes),
    or ``"unknown"`` outside a git checkout."""
    cwd = folder or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, check=True,
                               timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def save_reference(
    sections: Mapping[str, Section],
    dataset: str,
    *,
    command: str,
    started: Mapping[str, Any],
    wall_seconds: float,
    cpu_seconds: float,
    root: Path | None = None,
) -> Path:
    """Replace the shipped results of ``dataset`` with ``sections`` and write ``about.json``
    (``started``: :func:`machine` taken before the run, with the ``git_commit`` of then when
    given, so edits made while it ran do not count). Returns the data set's folder."""
    base = (root or REFERENCE_ROOT) / dataset
    shutil.rmtree(base / "evaluation", ignore_errors=True)
    for section in sections.values():
        write_section(base / "evaluation", section, dataset=dataset)
    about = {
        "dataset": dataset,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "git_commit": started.get("git_commit") or git_commit(),
        "machine": {
            **{k: v for k, v in started.items() if k != "git_commit"},
            "load_average_end": [round(v, 2) for v in os.getloadavg()],
        },
        "wall_seconds": round(wall_seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "sections": sorted(sections),
    }
    (base / "about.json").write_text(json.dumps(about, indent=2) + "\n")
    return base
