"""The For-you page's figures: built from plain dicts (fast), with the content they showed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.serving.blend import SIGNALS
from ui import charts
from ui.format import SIGNAL_COLORS, SIGNAL_LABELS, shorten


def _picks(n: int = 4) -> pd.DataFrame:
    titles = [f"A movie whose title is rather long, number {i}" for i in range(n)]
    frame = pd.DataFrame({"title": titles})
    for number, name in enumerate(SIGNALS):
        frame[f"contrib_{name}"] = np.linspace(-1, 1, n) * (number + 1)
    return frame


def test_contributions_chart_one_bar_per_signal_in_use() -> None:
    picks = _picks()
    muted = SIGNALS[0]
    picks[f"contrib_{muted}"] = 0.0
    picks.loc[0, f"contrib_{SIGNALS[1]}"] = np.nan  # a signal with no opinion on one pick
    figure = charts.contributions_chart(picks)
    assert figure is not None
    names = [trace.name for trace in figure.data]
    assert names == [SIGNAL_LABELS[s] for s in SIGNALS[1:]]
    first = figure.data[0]
    assert first.orientation == "h" and first.marker.color == SIGNAL_COLORS[SIGNALS[1]]
    assert list(first.y) == [shorten(t, 38) for t in picks["title"]]
    assert np.isnan(first.x[0]) and first.x[1] == picks.loc[1, f"contrib_{SIGNALS[1]}"]
    assert figure.layout.barmode == "relative"
    assert figure.layout.yaxis.autorange == "reversed"
    assert figure.layout.height == max(260, 34 * len(picks) + 90)


def test_contributions_chart_nothing_to_draw() -> None:
    assert charts.contributions_chart(pd.DataFrame({"title": []})) is None
    picks = _picks()
    for name in SIGNALS:
        picks[f"contrib_{name}"] = 0.0
    assert charts.contributions_chart(picks) is None


def test_genre_profile_figure_bars_coloured_by_mean() -> None:
    profile = pd.DataFrame({"genre": ["Drama", "Comedy", "War"], "n": [30, 12, 3],
                            "mean": [4.1, 3.2, 2.5]})  # fmt: skip
    figure = charts.genre_profile_figure(profile)
    (bars,) = figure.data
    assert list(bars.y) == ["War", "Comedy", "Drama"]  # fewest first: the longest bar on top
    assert list(bars.x) == [3, 12, 30]
    assert list(bars.marker.color) == [2.5, 3.2, 4.1]
    assert (bars.marker.cmin, bars.marker.cmax) == (1, 5)
    assert bars.marker.colorbar.title.text == "mean ★"
