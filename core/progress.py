"""The progress callback every long-running step accepts: ``progress(message, fraction)``.

One definition for builds, evaluations and training loops, so a caller (the CLI's printer,
the app's progress bar) can be handed to any of them. Nothing here prints or imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(message, fraction)`` with ``fraction`` in 0..1.
Progress = Callable[[str, float], None]


def no_progress(message: str, fraction: float) -> None:
    """A :data:`Progress` that ignores every report (the default of every step)."""
    return None
