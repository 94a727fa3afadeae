"""Analytics: what the ratings look like, and how each signal sees the movies."""

from __future__ import annotations

import streamlit as st

from ui import app, cached, charts, movies, state

engine = app.engine_or_stop()
key = app.engine_key(engine)
chart_config = {"displaylogo": False}

st.title("Analytics")
st.caption(app.data_summary_line(engine))

# A stateful tab set: only the open tab is computed, and a chart selection (a rerun) keeps
# the Map tab open instead of jumping back to the first tab.
ratings_tab, signals_tab, map_tab = st.tabs(
    list(charts.ANALYTICS_TABS), key=state.ANALYTICS_VIEW_KEY, on_change="rerun"
)

if ratings_tab.open:
    with ratings_tab:
        left, right = st.columns(2, gap="large")
        with left:
            st.markdown("##### Distribution of ratings")
            figure = charts.rating_distribution_figure(cached.rating_distribution(key, engine))
            st.plotly_chart(figure, key="rating_dist", config=chart_config)
        with right:
            st.markdown("##### Ratings over time")
            over_time = cached.ratings_over_time(key, engine)
            if over_time.empty:
                st.caption("The ratings carry no usable timestamps.")
            else:
                figure = charts.over_time_figure(over_time)
                st.plotly_chart(figure, key="over_time", config=chart_config)

        st.markdown("##### The long tail: ratings per user and per movie")
        tails = cached.activity_long_tail(key, engine)
        cols = st.columns(2, gap="large")
        for col, (label, frame) in zip(cols, tails.items(), strict=True):
            col.plotly_chart(
                charts.long_tail_figure(label, frame), key=f"tail_{label}", config=chart_config
            )
            col.caption(charts.long_tail_caption(label, frame))

        st.markdown("##### Genres: how popular, how well rated")
        genres = cached.genre_stats(key, engine)
        left, right = st.columns(2, gap="large")
        left.plotly_chart(
            charts.genre_popularity_figure(genres), key="genre_pop", config=chart_config
        )
        right.plotly_chart(charts.genre_mean_figure(genres), key="genre_mean", config=chart_config)

if signals_tab.open:
    with signals_tab:
        st.markdown("##### How similar each signal finds a set of movies")
        st.caption(
            "Row = the seed movie, column = how strongly that signal recommends the other movie "
            "for it. Colours are scaled within each signal (hover for the raw score); the diagonal "
            "is left blank. The signals disagree on purpose: that is why they are blended."
        )
        options = movies.movie_options(engine)
        chosen = st.multiselect(
            "Movies",
            list(options),
            default=list(options)[:8],
            format_func=options.get,
            max_selections=15,
            key=state.HEATMAP_MOVIES_KEY,
        )
        if len(chosen) < 2:
            st.info("Pick at least two movies.", icon=":material/info:")
        else:
            matrices = {}
            for signal in ("collab", "genre_tag", "semantic"):
                matrix = app.attempt(cached.similarity_matrix, key, engine, tuple(chosen), signal)
                if matrix is not None:
                    matrices[signal] = matrix
            if matrices:
                figure = charts.heatmaps_figure(matrices)
                st.plotly_chart(figure, key="heatmaps", config=chart_config)

if map_tab.open:
    with map_tab:
        st.markdown("##### A map of the movies by what they are about")
        left, right = st.columns([1, 3], vertical_alignment="bottom")
        method = left.segmented_control(
            "Projection", ["PCA", "t-SNE"], default="PCA", key=state.MAP_METHOD_KEY
        )
        with st.spinner("Projecting the embeddings…"):
            points = cached.embedding_map(key, engine, method or "PCA")
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
                charts.embedding_figure(points, method or "PCA"),
                key=state.EMBEDDING_MAP_KEY,
                on_select="rerun",
                selection_mode=("points", "box", "lasso"),
                config=chart_config,
            )
            selected = charts.selected_movie_ids(event)
            if selected:
                st.markdown(f"##### {len(selected):,} selected movies")
                st.dataframe(
                    movies.movies_frame(engine, selected),
                    column_config=movies.movie_columns(),
                    width="stretch",
                )
            else:
                st.caption("Nothing selected yet.")
