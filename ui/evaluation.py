"""The Evaluation page's data: finding and reading the metrics files ``python -m core
evaluate`` writes, the quality-target table, and the scaling benchmark's table. Reading and
shaping only; it must not run an evaluation or draw widgets (charts are in :mod:`ui.charts`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.config import BUILTIN_DATA
from core.evaluation.reference import Reference, find_reference
from core.evaluation.results import Section, read_sections, section_files
from core.serving.engine import Engine
from ui.app import CACHE_TTL

#: Sections ``python -m core evaluate`` writes (one ``<section>.json`` each), in page order.
#: Any other table-shaped JSON found in the folder is shown after them.
KNOWN_SECTIONS = {
    "rating": "Rating prediction",
    "ranking_stratified": "Top-N ranking (stratified split)",
    "ranking_loo": "Top-N ranking (leave last out)",
    "search": "Natural-language search",
    "chat": "Everyday chat requests (ReDial style)",
    "twotower_ranking_stratified": "Two-tower retrieval vs the blend (stratified split)",
    "twotower_ranking_loo": "Two-tower retrieval vs the blend (leave last out)",
    "twotower_cold_start": "Cold-start movies (never rated in training)",
    "twotower_rating": "Two-tower rating regression vs SVD",
    "ann_recall": "Approximate nearest-neighbour index vs exact search",
    "crew_metadata": "Director & cast and TMDB metadata in the blend",
    "cluster_search": "Genre clusters: two-stage search vs plain search",
}
#: Columns that name a table's rows (the first one found labels the bars of a chart).
LABEL_COLUMNS = ("model", "name", "method", "scorer")
#: Written by ``benchmarks/scaling.py`` (build and queries at 100k ... 32M synthetic ratings).
SCALING_JSON = Path(__file__).resolve().parent.parent / "benchmarks" / "scaling.json"


@dataclass
class MetricsTable:
    """One table of evaluation results: rows of {model, metric...} and how they were measured."""

    key: str
    title: str
    frame: pd.DataFrame
    protocol: str = ""
    source: str = ""  # file name
    details: dict[str, Any] = field(default_factory=dict)  # chosen weights, seconds, date...


# -- where the results are ---------------------------------------------------------------------
def evaluation_folder(engine: Engine) -> Path:
    """Where ``python -m core evaluate`` writes this data set's metrics."""
    if engine.folder is not None:
        return Path(engine.folder) / "evaluation"
    dataset = engine.manifest.dataset if engine.manifest else BUILTIN_DATA
    return Path(engine.settings.artifacts_dir) / dataset / "evaluation"


def served_dataset(engine: Engine) -> str:
    """The served data set's name in the artifacts folder (``builtin`` for the built-in data)."""
    if engine.manifest is not None:
        return engine.manifest.dataset
    return Path(engine.folder).name if engine.folder is not None else BUILTIN_DATA


def reference_results(engine: Engine) -> Reference | None:
    """Results shipped with the project for the served data set (same name only), if any."""
    return find_reference(served_dataset(engine))


def reference_label(reference: Reference) -> str:
    """What the page says above shipped results: whose they are, how and when measured."""
    name = "the built-in data" if reference.dataset == BUILTIN_DATA else reference.dataset
    return (
        f"Reference results shipped with the project for {name}, measured on "
        f"{reference.summary()} with `{reference.command}`; not measured on this machine. Run "
        "`python -m core evaluate --quick` to measure your own (a few minutes)."
    )


def evaluation_files(folder: Path) -> list[Path]:
    """Metrics files in the folder (hidden partial writes excluded)."""
    return section_files(folder)


def other_evaluation_folders(engine: Engine) -> dict[str, Path]:
    """Data set name -> evaluation folder of the *other* data sets that have results, newest
    first (shown, clearly labelled, when the served data set has none yet)."""
    own = evaluation_folder(engine).resolve()
    root = Path(engine.settings.artifacts_dir)
    found = [
        folder
        for folder in root.glob("*/evaluation")
        if folder.resolve() != own and evaluation_files(folder)
    ]
    found.sort(key=lambda f: max(p.stat().st_mtime for p in evaluation_files(f)), reverse=True)
    return {folder.parent.name: folder for folder in found}


def evaluation_stamp(files: Iterable[Path]) -> tuple[tuple[str, float], ...]:
    """Names and modification times: the cache key of :func:`read_evaluation`."""
    return tuple((str(p), p.stat().st_mtime) for p in files)


def evaluate_command(data: str | None, *, quick: bool = False) -> str:
    """The shell command that writes the results of ``data`` (``None`` = built-in): the quick
    protocol without requests, or every part with a requests file."""
    where = f' --data "{data}"' if data else ""
    return f"python -m core evaluate{where}" + (" --quick" if quick else " --queries FILE.jsonl")


# -- reading them ------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16, ttl=CACHE_TTL)
def read_evaluation(
    stamp: tuple[tuple[str, float], ...],
) -> tuple[list[MetricsTable], list[str]]:
    """Every metrics table in the folder of ``stamp`` (its files and their modification times,
    the cache key), known sections first, and why any file was skipped."""
    errors: list[str] = []
    folders = dict.fromkeys(Path(name).parent for name, _mtime in stamp)
    tables = [
        _table(key, section, path_name=f"{key}.json")
        for folder in folders
        for key, section in read_sections(folder, errors=errors).items()
        if section.rows
    ]
    order = list(KNOWN_SECTIONS)
    tables.sort(key=lambda t: (order.index(t.key) if t.key in order else len(order), t.key))
    return tables, errors


def _table(key: str, section: Section, *, path_name: str) -> MetricsTable:
    """A section as the page shows it: rows labelled by model, details beside them."""
    frame = pd.DataFrame(section.rows)
    label = next((c for c in LABEL_COLUMNS if c in frame), None)
    if label:
        frame = frame[[label, *[c for c in frame.columns if c != label]]]
    details: dict[str, Any] = {}
    if section.chosen:
        details["chosen"] = section.chosen
    if section.seconds:
        details["seconds"] = section.seconds
    if section.dataset:
        details["dataset"] = section.dataset
    if section.written_at is not None:
        details["written_at"] = section.written_at
    title = KNOWN_SECTIONS.get(key, key.replace("_", " ").capitalize())
    return MetricsTable(key, title, frame, section.protocol, path_name, details)


# -- showing them ------------------------------------------------------------------------------
def targets_frame(tables: Iterable[MetricsTable]) -> pd.DataFrame | None:
    """The quality targets (``core.evaluation.runner.TARGETS``) against the product rows of
    ``tables``, or None when no table has a target."""
    from core.evaluation.targets import target_rows

    sections = {
        t.key: {"rows": t.frame.to_dict("records"), "protocol": t.protocol}
        for t in tables
        if "model" in t.frame
    }
    rows = target_rows(sections)
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame["met"] = frame["met"].map({True: "✅ met", False: "❌ not met"})
    return frame.rename(columns={"row": "measured on"})


def verdict_text(table: MetricsTable) -> str | None:
    """Whether an extra signal earns a place in the blend, as decided on validation data
    (``details["chosen"]["verdict"]``), as Markdown lines; ``None`` when the table has none."""
    verdict = (table.details or {}).get("chosen", {})
    verdict = verdict.get("verdict") if isinstance(verdict, dict) else None
    if not isinstance(verdict, dict) or not verdict:
        return None
    return "  \n".join(f"**{name}**: {text}" for name, text in verdict.items())


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric columns of a metrics table (what the bar charts can show)."""
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def default_chart_metrics(metrics: list[str], most: int = 4) -> list[str]:
    """The metrics charted at first: quality measures, not run times or counts."""
    timing = ("second", "time", "_s", "count", "n_", "users")
    chosen = [m for m in metrics if not any(t in m.lower() for t in timing)]
    return (chosen or metrics)[:most]


def details_text(details: Mapping[str, Any]) -> str:
    """One line for a section's extra fields (run time, date, chosen weights...)."""
    parts = []
    for key, value in details.items():
        if key == "written_at" and isinstance(value, int | float):
            parts.append(f"run {time.strftime('%Y-%m-%d %H:%M', time.localtime(value))}")
        elif key == "seconds" and isinstance(value, int | float):
            parts.append(f"took {value:,.0f} s")
        else:
            parts.append(f"{key.replace('_', ' ')}: {_number(value)}")
    return " · ".join(parts)


def _number(value: Any) -> str:
    """Short text for a detail value: floats to 3 digits, dicts as ``k v, k v``."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(
            f"{k} = {_number(v)}" if isinstance(v, dict) else f"{k} {_number(v)}"
            for k, v in value.items()
        )
    return str(value)


def metric_column_config(frame: pd.DataFrame) -> dict[str, Any]:
    """Number formats for a metrics table (4 significant digits)."""
    return {c: st.column_config.NumberColumn(c, format="%.4g") for c in metric_columns(frame)}


# -- scaling benchmark -------------------------------------------------------------------------
def _scaling_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One benchmark row in display units (raises ``KeyError``/``TypeError`` for old rows)."""
    return {
        "engine": row.get("engine", "local"),
        "size": row["size"],
        "ratings": int(row["ratings"]),
        "users": int(row["users"]),
        "movies": int(row["movies"]),
        "build (min)": row["build_s"] / 60,
        "build peak (GiB)": row["build_peak_mb"] / 1024,
        "open (s)": row["open_s"],
        "picks p50 (ms)": row["picks"]["median_ms"],
        "similar p50 (ms)": row["similar"]["median_ms"],
        "search p50 (ms)": row["search"]["median_ms"],
        "serve peak (GiB)": row["serve_peak_mb"] / 1024,
        "load average": row.get("load_average"),
    }


def scaling_table(path: Path | None = None) -> tuple[pd.DataFrame, str] | None:
    """One row per (engine, size) of the scaling benchmark (default :data:`SCALING_JSON`) and
    its machine line; ``None`` when the file is missing or unreadable."""
    try:
        payload = json.loads(Path(path or SCALING_JSON).read_text())
        rows = payload["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    records = []
    for row in rows:
        try:
            records.append(_scaling_record(row))
        except (KeyError, TypeError):
            continue  # a row from an older version of the benchmark
    if not records:
        return None
    machine = payload.get("machine", {})
    line = (f"{machine.get('cores', '?')} cores, Python {machine.get('python', '?')}; "
            f"updated {payload.get('updated', '?')}")  # fmt: skip
    return pd.DataFrame.from_records(records).sort_values(["engine", "ratings"]), line
