"""Analytics: what the ratings look like, and how each signal sees the movies."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

import ui

engine = ui.engine_or_stop()
key = ui.engine_key(engine)
chart_config = {"displaylogo": False}

st.title("Analytics")
st.caption(ui.data_summary_line(engine))

# A stateful tab set: only the open tab is computed, and a chart selection (a rerun) keeps
# the Map tab open instead of jumping back to the first tab.
ratings_tab, signals_tab, map_tab = st.tabs(
    list(ui.ANALYTICS_TABS), key="analytics_view", on_change="rerun"
)

if ratings_tab.open:
    with ratings_tab:
        left, right = st.columns(2, gap="large")
        with left:
            st.markdown("##### Distribution of ratings")
            dist = ui.rating_distribution(key, engine)
            fig = px.bar(
                dist,
                x="rating",
                y="count",
                hover_data={"share": ":.1%"},
                labels={"rating": "rating (stars)", "count": "ratings"},
            )
            fig.update_layout(height=320, margin={"l": 0, "r": 0, "t": 10, "b": 0}, bargap=0.15)
            fig.update_xaxes(dtick=0.5)
            st.plotly_chart(fig, key="rating_dist", config=chart_config)
        with right:
            st.markdown("##### Ratings over time")
            over_time = ui.ratings_over_time(key, engine)
            if over_time.empty:
                st.caption("The ratings carry no usable timestamps.")
            else:
                fig = px.area(
                    over_time,
                    x="period",
                    y="ratings",
                    hover_data={"mean_rating": ":.2f"},
                    labels={"period": "", "ratings": "ratings"},
                )
                fig.update_layout(height=320, margin={"l": 0, "r": 0, "t": 10, "b": 0})
                st.plotly_chart(fig, key="over_time", config=chart_config)

        st.markdown("##### The long tail: ratings per user and per movie")
        tails = ui.activity_long_tail(key, engine)
        cols = st.columns(2, gap="large")
        for col, (label, frame) in zip(cols, tails.items(), strict=True):
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
            col.plotly_chart(fig, key=f"tail_{label}", config=chart_config)
            median = int(frame["ratings"].median()) if len(frame) else 0
            col.caption(
                f"{len(frame):,} {label}s · median {median:,} ratings · "
                f"top {label}: {int(frame['ratings'].max()) if len(frame) else 0:,}"
            )

        st.markdown("##### Genres: how popular, how well rated")
        genres = ui.genre_stats(key, engine)
        left, right = st.columns(2, gap="large")
        fig = px.bar(
            genres,
            x="genre",
            y="ratings",
            labels={"genre": "", "ratings": "ratings"},
            hover_data={"movies": True},
        )
        fig.update_layout(height=340, margin={"l": 0, "r": 0, "t": 10, "b": 0})
        left.plotly_chart(fig, key="genre_pop", config=chart_config)
        ordered = genres.sort_values("mean_rating", ascending=False)
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
        fig.update_layout(
            height=340, margin={"l": 0, "r": 0, "t": 10, "b": 0}, coloraxis_showscale=False
        )
        right.plotly_chart(fig, key="genre_mean", config=chart_config)

if signals_tab.open:
    with signals_tab:
        st.markdown("##### How similar each signal finds a set of movies")
        st.caption(
            "Row = the seed movie, column = how strongly that signal recommends the other movie "
            "for it. Colours are scaled within each signal (hover for the raw score); the diagonal "
            "is left blank. The signals disagree on purpose: that is why they are blended."
        )
        options = ui.movie_options(engine)
        chosen = st.multiselect(
            "Movies",
            list(options),
            default=list(options)[:8],
            format_func=options.get,
            max_selections=15,
            key="heatmap_movies",
        )
        if len(chosen) < 2:
            st.info("Pick at least two movies.", icon=":material/info:")
        else:
            matrices = {}
            for signal in ("collab", "genre_tag", "semantic"):
                matrix = ui.attempt(ui.similarity_matrix, key, engine, tuple(chosen), signal)
                if matrix is not None:
                    matrices[signal] = matrix
            if matrices:
                st.plotly_chart(ui.heatmaps_figure(matrices), key="heatmaps", config=chart_config)

if map_tab.open:
    with map_tab:
        st.markdown("##### A map of the movies by what they are about")
        left, right = st.columns([1, 3], vertical_alignment="bottom")
        method = left.segmented_control(
            "Projection", ["PCA", "t-SNE"], default="PCA", key="map_method"
        )
        with st.spinner("Projecting the embeddings…"):
            points = ui.embedding_map(key, engine, method or "PCA")
        right.caption(
            f"Sentence embeddings of each movie's text, projected to 2-D, for the {len(points):,} "
            "most-rated movies; colour = the movie's most specific genre. Drag a box or lasso "
            "around points to list those movies."
            + (" t-SNE takes a few seconds the first time." if method == "t-SNE" else "")
        )
        if points.empty:
            st.info("Too few movies with embeddings to draw a map.", icon=":material/info:")
        else:
            event = st.plotly_chart(
                ui.embedding_figure(points, method or "PCA"),
                key="embedding_map",
                on_select="rerun",
                selection_mode=("points", "box", "lasso"),
                config=chart_config,
            )
            selected = ui.selected_movie_ids(event)
            if selected:
                st.markdown(f"##### {len(selected):,} selected movies")
                st.dataframe(
                    ui.movies_frame(engine, selected),
                    column_config=ui.movie_columns(),
                    width="stretch",
                )
            else:
                st.caption("Nothing selected yet.")
