"""What the engine's operations return: ranked movies, or the answer to a chat request.

Plain data holders with JSON-friendly views; no ranking or parsing happens here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.data.titles import TitleMatch


@dataclass
class Recommendations:
    """Ranked movies with scores, contributions, predicted ratings and reasons."""

    items: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    weights_used: dict[str, float] = field(default_factory=dict)
    anchor: TitleMatch | None = None  # the movie "similar" resolved the title to

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-friendly rows (NaN -> None)."""
        frame = self.items.astype(object).where(self.items.notna(), None)
        return frame.to_dict(orient="records")


@dataclass
class SearchAnswer:
    """Answer to a natural-language request."""

    items: pd.DataFrame
    understood: list[str]
    state: Any  # core.search.request.SearchState
    notes: list[str] = field(default_factory=list)

    def reply(self) -> str:
        """One short sentence saying what was understood."""
        if not self.understood:
            return "Here is what matches your description."
        return "Understood: " + "; ".join(self.understood) + "."


# -- the engine -------------------------------------------------------------------------------
