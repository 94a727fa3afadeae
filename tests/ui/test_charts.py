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


# -- data-derived text in figures ---------------------------------------------------------------
#: Plotly's label markup: each would become a link, a restyle or an injected line if passed on.
HOSTILE = '<a href="http://127.0.0.1:9/x">click</a> <span style="font-size:99px">big</span> <b>b'
MARKUP = ("<a", "<span", "<b>", "</a>")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple | np.ndarray | pd.Index | pd.Series):
        return [s for item in list(value) for s in _strings(item)]
    return []


def _hostile_figures() -> dict[str, object]:
    from ui.evaluation import MetricsTable

    names = [f"{HOSTILE} {i}" for i in range(3)]
    picks = _picks(3)
    picks["title"] = names
    genres = pd.DataFrame({"genre": names, "ratings": [9, 5, 2], "movies": [3, 2, 1],
                           "mean_rating": [4.0, 3.5, 3.0]})  # fmt: skip
    matrix = pd.DataFrame(np.eye(3), index=names, columns=names)
    points = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 2.0], "movieId": [1, 2, 3],
                           "title": names, "year": [1999, 2000, 2001], "genres": names,
                           "genre": [names[0], names[1], "Other"]})  # fmt: skip
    table = MetricsTable("k", "t", pd.DataFrame({"model": names, "ndcg@10": [0.3, 0.2, 0.1]}))
    scaling = pd.DataFrame({"ratings": [1e5, 1e6], "engine": ["local", "local"], "size": names[:2],
                            **{c: [1.0, 2.0] for c in ["build (min)", "picks p50 (ms)",
                               "similar p50 (ms)", "search p50 (ms)", "build peak (GiB)",
                               "serve peak (GiB)"]}})  # fmt: skip
    return {
        "contributions": charts.contributions_chart(picks),
        "genre profile": charts.genre_profile_figure(
            genres.rename(columns={"movies": "n", "mean_rating": "mean"})
        ),
        "genre popularity": charts.genre_popularity_figure(genres),
        "genre mean": charts.genre_mean_figure(genres),
        "heatmaps": charts.heatmaps_figure({SIGNALS[0]: matrix}),
        "embedding": charts.embedding_figure(points, "PCA"),
        "metrics": charts.metrics_figure(table, ["ndcg@10"]),
        "scaling": charts.scaling_figure(scaling),
    }


def test_data_text_in_figures_shows_as_written_never_as_plotly_markup() -> None:
    for name, figure in _hostile_figures().items():
        # Hover templates ("%{y}<br>...") are the app's own markup; the rest is data.
        strings = [s for s in _strings(figure.to_plotly_json()) if "%{" not in s]  # type: ignore[attr-defined]
        marked = [s for s in strings if any(tag in s for tag in MARKUP)]
        assert not marked, f"{name}: {marked[:2]}"
        # ... and the text is still there, as entities plotly shows as the characters.
        assert any("&lt;a" in s for s in strings), name
