"""Every plotly figure of the app, built from frames the core (or :mod:`ui.evaluation`)
already computed. Figures only: no widgets, no aggregation beyond reshaping for a chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.serving.blend import SIGNALS
from ui.evaluation import LABEL_COLUMNS, MetricsTable
from ui.format import SIGNAL_COLORS, SIGNAL_LABELS, escape_plot, shorten

#: The Analytics page's tabs (labels are also the tab widget's values).
ANALYTICS_TABS = (
    ":material/bar_chart: Ratings",
    ":material/grid_on: Similarity",
    ":material/scatter_plot: Map",
)
_TIGHT = {"l": 0, "r": 0, "t": 10, "b": 0}


def _escaped(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """A copy of ``frame`` whose text ``columns`` show as written in plotly labels."""
    frame = frame.copy()
    for column in columns:
        if column in frame:
            frame[column] = [escape_plot(value) for value in frame[column]]
    return frame


# -- picks -------------------------------------------------------------------------------------
def contributions_chart(items: pd.DataFrame, height: int | None = None) -> go.Figure | None:
    """Horizontal stacked bars: how much each signal pushed each pick up (or down)."""
    cols = [f"contrib_{s}" for s in SIGNALS if f"contrib_{s}" in items]
    if items.empty or not cols:
        return None
    # One array for every signal: per-column pandas conversions cost more than the chart.
    values = items[cols].to_numpy(dtype=float, na_value=np.nan)
    shown = np.nansum(np.abs(values), axis=0) > 0  # muted signals: no bar
    if not shown.any():
        return None
    titles = [escape_plot(shorten(t, 38)) for t in items["title"].astype(str)]
    traces = []
    for col, column, keep in zip(cols, values.T, shown, strict=True):
        if not keep:
            continue
        name = col.removeprefix("contrib_")
        label = SIGNAL_LABELS.get(name, name)
        traces.append(
            {
                "type": "bar",
                "y": titles,
                "x": column,
                "orientation": "h",
                "name": label,
                "marker": {"color": SIGNAL_COLORS.get(name)},
                "hovertemplate": "%{y}<br>" + label + ": %{x:+.2f}<extra></extra>",
            }
        )
    # Built from plain dicts in one validation pass: add_bar/update_layout validate each
    # property again (6x the time; measured in docs/experiments/serving.md).
    return go.Figure(
        {
            "data": traces,
            "layout": {
                "barmode": "relative",
                "height": height or max(260, 34 * len(items) + 90),
                "margin": {"l": 0, "r": 10, "t": 50, "b": 0},
                "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0,
                           "title": {"text": ""}},
                "xaxis": {"title": {"text": "contribution to the score (weighted z-score)"}},
                "yaxis": {"autorange": "reversed"},
            },
        }
    )  # fmt: skip


def genre_profile_figure(profile: pd.DataFrame) -> go.Figure:
    """A user's most-rated genres, bars coloured by their mean rating."""
    # A plain bar trace rather than plotly express, which spends most of its time on
    # grouping machinery a single trace does not need (0.14 s of a 0.9 s page).
    ordered = profile.sort_values("n")
    return go.Figure(
        {
            "data": [
                {
                    "type": "bar",
                    "x": ordered["n"].to_numpy(),
                    "y": [escape_plot(genre) for genre in ordered["genre"]],
                    "orientation": "h",
                    "customdata": ordered["mean"].to_numpy(),
                    "marker": {
                        "color": ordered["mean"].to_numpy(dtype=float),
                        "colorscale": "Oranges",
                        "cmin": 1,
                        "cmax": 5,
                        "colorbar": {"title": {"text": "mean ★"}, "thickness": 10},
                    },
                    "hovertemplate": "%{y}<br>movies rated: %{x}<br>mean ★: "
                    "%{customdata:.2f}<extra></extra>",
                }
            ],
            "layout": {
                "height": 300,
                "margin": _TIGHT,
                "xaxis": {"title": {"text": "movies rated"}},
            },
        }
    )


# -- analytics: the ratings --------------------------------------------------------------------
def rating_distribution_figure(dist: pd.DataFrame) -> go.Figure:
    """Bars of how often each rating value was given."""
    fig = px.bar(
        dist,
        x="rating",
        y="count",
        hover_data={"share": ":.1%"},
        labels={"rating": "rating (stars)", "count": "ratings"},
    )
    fig.update_layout(height=320, margin=_TIGHT, bargap=0.15)
    fig.update_xaxes(dtick=0.5)
    return fig


def over_time_figure(over_time: pd.DataFrame) -> go.Figure:
    """Area of ratings per period, the mean rating on hover."""
    fig = px.area(
        over_time,
        x="period",
        y="ratings",
        hover_data={"mean_rating": ":.2f"},
        labels={"period": "", "ratings": "ratings"},
    )
    fig.update_layout(height=320, margin=_TIGHT)
    return fig


def long_tail_figure(label: str, frame: pd.DataFrame) -> go.Figure:
    """Log-log line of ratings per ``label`` ("user" or "movie") against its rank."""
    fig = px.line(
        frame,
        x="rank",
        y="ratings",
        log_x=True,
        log_y=True,
        labels={"rank": f"{label} rank (most active first)", "ratings": "ratings"},
    )
    fig.update_traces(line_width=2.5)
    fig.update_xaxes(dtick=1)  # decades only: minor log ticks read as stray numbers
    fig.update_yaxes(dtick=1)
    fig.update_layout(
        height=300,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        title={"text": f"per {label}", "x": 0},
    )
    return fig


def long_tail_caption(label: str, frame: pd.DataFrame) -> str:
    """``"610 users · median 70 ratings · top user: 2,698"`` under a long-tail chart."""
    median = int(frame["ratings"].median()) if len(frame) else 0
    top = int(frame["ratings"].max()) if len(frame) else 0
    return f"{len(frame):,} {label}s · median {median:,} ratings · top {label}: {top:,}"


def genre_popularity_figure(genres: pd.DataFrame) -> go.Figure:
    """Bars of ratings per genre (most-rated first, as :func:`genre_stats` sorts them)."""
    fig = px.bar(
        _escaped(genres, "genre"),
        x="genre",
        y="ratings",
        labels={"genre": "", "ratings": "ratings"},
        hover_data={"movies": True},
    )
    fig.update_layout(height=340, margin=_TIGHT)
    return fig


def genre_mean_figure(genres: pd.DataFrame) -> go.Figure:
    """Bars of the mean rating per genre, best first, the axis starting near the lowest."""
    ordered = _escaped(genres, "genre").sort_values("mean_rating", ascending=False)
    fig = px.bar(
        ordered,
        x="genre",
        y="mean_rating",
        color="mean_rating",
        color_continuous_scale="Oranges",
        labels={"genre": "", "mean_rating": "mean ★"},
        hover_data={"ratings": True},
    )
    low = float(ordered["mean_rating"].min()) if len(ordered) else 0.0
    fig.update_yaxes(range=[max(0.0, low - 0.3), None])
    fig.update_layout(height=340, margin=_TIGHT, coloraxis_showscale=False)
    return fig


# -- analytics: the signals --------------------------------------------------------------------
def heatmaps_figure(matrices: Mapping[str, pd.DataFrame]) -> go.Figure:
    """The signals' similarity matrices side by side on one colour scale.

    Raw scores live on different scales (EASE weights, cosines, overlaps), so each matrix is
    min-max scaled to 0..1 for colour; hovering shows the raw score.
    """
    from plotly.subplots import make_subplots

    names = list(matrices)
    fig = make_subplots(
        rows=1,
        cols=len(names),
        shared_yaxes=True,
        horizontal_spacing=0.015,
        subplot_titles=[SIGNAL_LABELS.get(n, n) for n in names],
    )
    for col, name in enumerate(names, 1):
        _add_heatmap(fig, matrices[name], name, col)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        height=220 + 34 * max(len(m) for m in matrices.values()),
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        coloraxis={
            "colorscale": "Oranges",
            "cmin": 0,
            "cmax": 1,
            "colorbar": {"title": "similarity<br>(scaled)", "thickness": 10},
        },
    )
    return fig


def _add_heatmap(fig: go.Figure, matrix: pd.DataFrame, name: str, col: int) -> None:
    """One signal's matrix, min-max scaled, as subplot ``col``."""
    raw = matrix.to_numpy(dtype=float)
    finite = raw[np.isfinite(raw)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    scaled = (raw - low) / (high - low) if high > low else np.zeros_like(raw)
    short = [escape_plot(shorten(t, 16)) for t in matrix.columns]
    fig.add_heatmap(
        z=scaled,
        x=list(range(len(short))),
        y=[escape_plot(t) for t in matrix.index],
        customdata=raw,
        text=np.array([[escape_plot(t) for t in matrix.columns]] * len(matrix)),
        hovertemplate="seed: %{y}<br>candidate: %{text}<br>score: %{customdata:.3g}"
        "<extra>" + SIGNAL_LABELS.get(name, name) + "</extra>",
        coloraxis="coloraxis",
        row=1,
        col=col,
    )
    fig.update_xaxes(
        tickvals=list(range(len(short))), ticktext=short, tickangle=-45, row=1, col=col
    )


def embedding_figure(points: pd.DataFrame, method: str) -> go.Figure:
    """Scatter of the embedding map coloured by main genre, hover shows the title."""
    points = _escaped(points, "title", "genres", "genre")
    order = [g for g in points["genre"].value_counts().index if g != "Other"] + ["Other"]
    fig = px.scatter(
        points,
        x="x",
        y="y",
        color="genre",
        category_orders={"genre": order},
        custom_data=["movieId"],
        color_discrete_sequence=px.colors.qualitative.Bold,
        color_discrete_map={"Other": "#C9C3BA"},
        hover_name="title",
        hover_data={"year": True, "genres": True, "x": False, "y": False, "genre": False},
        opacity=0.75,
    )
    fig.update_traces(marker={"size": 6})
    fig.update_layout(
        height=600,
        margin=_TIGHT,
        legend_title_text="main genre",
        xaxis={"title": f"{method} 1", "showticklabels": False},
        yaxis={"title": f"{method} 2", "showticklabels": False},
        dragmode="lasso",
    )
    return fig


def selected_movie_ids(event: Any) -> list[int]:
    """movieIds of the points selected in an ``on_select`` plotly chart event."""
    try:
        points = event.selection.points
    except AttributeError:
        points = (
            (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
        )
    ids = []
    for point in points or []:
        data = point.get("customdata")
        if isinstance(data, list | tuple) and data:
            data = data[0]
        if data is not None:
            ids.append(int(data))
    return list(dict.fromkeys(ids))


# -- evaluation --------------------------------------------------------------------------------
def metrics_figure(table: MetricsTable, metrics: list[str]) -> go.Figure:
    """Grouped bars: one group per metric, one bar per model."""
    label = next((c for c in LABEL_COLUMNS if c in table.frame), None)
    frame = table.frame.copy()
    frame["_model"] = (
        [escape_plot(v) for v in frame[label]]
        if label
        else [f"row {i + 1}" for i in range(len(frame))]
    )
    long = frame.melt(id_vars="_model", value_vars=metrics, var_name="metric", value_name="value")
    fig = px.bar(long, x="metric", y="value", color="_model", barmode="group", text_auto=".3g")
    fig.update_layout(
        height=320, margin=_TIGHT, legend_title_text=None, xaxis_title=None, yaxis_title=None
    )
    return fig


def scaling_figure(frame: pd.DataFrame) -> go.Figure:
    """Build minutes, median latencies and peak memory against ratings (log-log)."""
    from plotly.subplots import make_subplots

    panels = {
        "Full build (min)": ["build (min)"],
        "Median latency (ms)": ["picks p50 (ms)", "similar p50 (ms)", "search p50 (ms)"],
        "Peak RSS (GiB)": ["build peak (GiB)", "serve peak (GiB)"],
    }
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(panels))
    for col, columns in enumerate(panels.values(), start=1):
        for engine, part in frame.groupby("engine", sort=False):
            for column in columns:
                name = column if engine == "local" else f"{column}, {escape_plot(engine)}"
                trace = go.Scatter(
                    x=part["ratings"], y=part[column], name=name, mode="lines+markers",
                    text=[escape_plot(v) for v in part["size"]],
                )  # fmt: skip
                fig.add_trace(trace, row=1, col=col)
    fig.update_xaxes(type="log", title_text="ratings")
    fig.update_yaxes(type="log")
    fig.update_layout(height=360, margin={"l": 0, "r": 0, "t": 30, "b": 0})
    return fig
