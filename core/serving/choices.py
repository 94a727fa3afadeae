"""What a build chose on validation, read back from the manifest for ``status`` and the app.

Components with a ``describe`` function in the registry record a ``chosen`` entry in the
manifest (:mod:`core.serving.build`); this turns those records into short lines.
"""

from __future__ import annotations

from typing import Any

from core.serving.artifacts import Manifest
from core.signals.registry import COMPONENTS
from core.tuning.choices import Tuning


def chosen(manifest: Manifest | None) -> dict[str, dict[str, Any]]:
    """``{component: its chosen record}`` of the components that recorded one."""
    if manifest is None:
        return {}
    out = {}
    for entry in COMPONENTS:
        record = manifest.components.get(entry.name, {})
        value = record.get("chosen") if isinstance(record, dict) else None
        if isinstance(value, dict) and value:
            out[entry.name] = value
    return out


def chosen_lines(manifest: Manifest | None) -> list[str]:
    """One line per choice, e.g. ``"tuning: blend weights: collab 0.36, genre_tag 0.55"``."""
    lines = []
    for name, record in chosen(manifest).items():
        if name == "tuning":
            try:
                lines.extend(f"tuning: {line}" for line in Tuning.from_dict(record).summary())
            except Exception:  # a damaged record is reported, never fatal for status
                lines.append("tuning: (record unreadable)")
            continue
        parts = ", ".join(f"{key} {_plain(value)}" for key, value in record.items())
        lines.append(f"{name}: {parts}")
    return lines


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {_plain(v)}" for k, v in value.items()) + "}"
    return str(value)
