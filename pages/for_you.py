"""For you: personal picks for a user of the data, or for a newcomer who rates a dozen movies."""

from __future__ import annotations

import streamlit as st

from ui import app, cached, charts, movies, sidebar, state
from ui.format import escape_md, stars, weights_text

NEWCOMER = "New here: rate a few movies"

engine = app.engine_or_stop()
key = app.engine_key(engine)
user = sidebar.user_picker(engine)
weights, filters = sidebar.blend_controls(engine)

st.title("Picks for you")
mode = st.segmented_control(
    "Whose taste?",
    ["A user from the data", NEWCOMER],
    default="A user from the data",
    key=state.FOR_YOU_MODE_KEY,
    persist_state="session",
    label_visibility="collapsed",
)
model_label = st.segmented_control(
    "Ranked by",
    list(movies.PICK_MODELS),
    default=next(iter(movies.PICK_MODELS)),
    key=state.FOR_YOU_MODEL_KEY,
    persist_state="session",
    help="The blend weighs every signal with the sidebar weights. 'Led by my latest ratings' "
    "lets the most recent ratings lead the collaborative signal: what to watch next rather "
    "than overall taste. The two-tower model is one neural network of users and movies (see "
    "the Evaluation page for how each scores).",
)
model = movies.PICK_MODELS.get(model_label or "", "blend")

if mode == NEWCOMER:
    st.caption(
        "Rate the movies you have seen (one star = disliked, five = loved) and skip the rest. "
        "Your ratings are folded into the models at once; nothing is retrained."
    )
    known = cached.well_known_movies(key, engine)
    ratings = movies.rating_grid(engine)
    left, right, _ = st.columns([1, 1, 3])
    left.button(
        "Show other movies",
        on_click=movies.next_onboarding_batch,
        args=(len(known),),
        icon=":material/refresh:",
        width="stretch",
    )
    right.button(
        "Clear my ratings",
        on_click=movies.clear_new_ratings,
        icon=":material/delete:",
        disabled=not ratings,
        width="stretch",
    )
    if not ratings:
        st.info("Rate at least one movie to see picks.", icon=":material/star:")
        st.stop()
    st.subheader(f"Picks from your {len(ratings)} rating{'s' * (len(ratings) != 1)}")
    picks = app.attempt(
        cached.recommend, key, engine, None, tuple(sorted(ratings.items())), weights, filters,
        model=model,
    )  # fmt: skip
else:
    if user is None:
        st.info(
            "Pick a user id in the sidebar (type to search), or switch to *New here* and rate "
            "a few movies yourself.",
            icon=":material/person_search:",
        )
        st.stop()
    facts = movies.user_facts(engine, int(user))
    a, b, c, d = st.columns(4)
    a.metric("User", f"#{user}", border=True)
    b.metric("Movies rated", f"{facts['n_ratings']:,}", border=True)
    c.metric("Their average rating", stars(facts["mean_rating"]), border=True)
    d.metric("Most-watched genre", escape_md(facts["top_genre"]), border=True)  # value is Markdown
    picks = app.attempt(cached.recommend, key, engine, int(user), (), weights, filters, model=model)

if picks is None:
    st.stop()
if picks.items.empty:
    app.show_notes(picks.notes or ["Nothing passes these filters; loosen them."], empty=True)
    st.stop()

st.markdown("##### Recommended")
movies.show_movie_table(picks.items, key="picks_table")
app.show_notes(picks.notes)

why, context = st.columns(2, gap="large")
with why:
    st.markdown("##### Why these picks")
    figure = charts.contributions_chart(picks.items)
    if figure is not None:
        st.plotly_chart(figure, key="contrib_chart", config={"displayModeBar": False})
    used = weights_text(picks.weights_used)
    if model == "twotower":
        st.caption(
            "Ranked by the two-tower model alone: the blend weights do not apply, the filters "
            "do. Each reason names the movie you liked that is closest in its learned space."
        )
    elif used:
        st.caption(f"Effective weights: {used}.")
with context:
    if mode != NEWCOMER and user is not None:
        st.markdown(f"##### What user {user} rated highest")
        favourites = movies.favourites_table(engine, int(user))
        st.dataframe(
            favourites,
            hide_index=True,
            width="stretch",
            height=movies.table_height(len(favourites)),
            column_config=movies.favourite_columns(),
        )
        profile = cached.user_genre_profile(key, engine, int(user))
        if not profile.empty:
            st.caption("The genres they rate most; colour = their mean rating there.")
            st.plotly_chart(
                charts.genre_profile_figure(profile),
                key="genre_profile",
                config={"displayModeBar": False},
            )
    else:
        st.markdown("##### Your ratings")
        rated = movies.rated_movies(engine, state.new_ratings())
        st.dataframe(
            rated,
            hide_index=True,
            width="stretch",
            height=movies.table_height(len(rated)),
            column_config=movies.favourite_columns(),
        )
