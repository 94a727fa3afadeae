"""For you: personal picks for a user of the data, or for a newcomer who rates a dozen movies."""

from __future__ import annotations

import streamlit as st

import ui

engine = ui.engine_or_stop()
key = ui.engine_key(engine)
user = ui.user_picker(engine)
weights, filters = ui.blend_controls(engine)

st.title("Picks for you")
mode = st.segmented_control(
    "Whose taste?",
    ["A user from the data", "New here: rate a few movies"],
    default="A user from the data",
    key="for_you_mode",
    persist_state="session",
    label_visibility="collapsed",
)
model_label = st.segmented_control(
    "Ranked by",
    list(ui.PICK_MODELS),
    default=next(iter(ui.PICK_MODELS)),
    key="for_you_model",
    persist_state="session",
    help="The blend weighs every signal with the sidebar weights. 'Led by my latest ratings' "
    "lets the most recent ratings lead the collaborative signal: what to watch next rather "
    "than overall taste. The two-tower model is one neural network of users and movies (see "
    "the Evaluation page for how each scores).",
)
model = ui.PICK_MODELS.get(model_label or "", "blend")

if mode == "New here: rate a few movies":
    st.caption(
        "Rate the movies you have seen (one star = disliked, five = loved) and skip the rest. "
        "Your ratings are folded into the models at once; nothing is retrained."
    )
    movies = ui.well_known_movies(key, engine)
    ratings = ui.rating_grid(engine)
    left, right, _ = st.columns([1, 1, 3])
    left.button(
        "Show other movies",
        on_click=ui.next_onboarding_batch,
        args=(len(movies),),
        icon=":material/refresh:",
        width="stretch",
    )
    right.button(
        "Clear my ratings",
        on_click=ui.clear_new_ratings,
        icon=":material/delete:",
        disabled=not ratings,
        width="stretch",
    )
    if not ratings:
        st.info("Rate at least one movie to see picks.", icon=":material/star:")
        st.stop()
    st.subheader(f"Picks from your {len(ratings)} rating{'s' * (len(ratings) != 1)}")
    picks = ui.attempt(
        ui.recommend, key, engine, None, tuple(sorted(ratings.items())), weights, filters,
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
    users = ui.user_directory(key, engine)
    info = users.loc[users["userId"] == user].iloc[0]
    profile = ui.user_genre_profile(key, engine, int(user))
    a, b, c, d = st.columns(4)
    a.metric("User", f"#{user}", border=True)
    b.metric("Movies rated", f"{int(info['n_ratings']):,}", border=True)
    c.metric("Their average rating", ui.stars(info["mean_rating"]), border=True)
    d.metric("Most-watched genre", profile["genre"].iloc[0] if len(profile) else "–", border=True)
    picks = ui.attempt(ui.recommend, key, engine, int(user), (), weights, filters, model=model)

if picks is None:
    st.stop()
if picks.items.empty:
    ui.show_notes(picks.notes or ["Nothing passes these filters; loosen them."], empty=True)
    st.stop()

st.markdown("##### Recommended")
ui.show_movie_table(picks.items, key="picks_table")
ui.show_notes(picks.notes)

why, context = st.columns(2, gap="large")
with why:
    st.markdown("##### Why these picks")
    figure = ui.contributions_chart(picks.items)
    if figure is not None:
        st.plotly_chart(figure, key="contrib_chart", config={"displayModeBar": False})
    used = ", ".join(
        f"{ui.SIGNAL_LABELS.get(name, name)} {ui.percent(share)}"
        for name, share in sorted(picks.weights_used.items(), key=lambda kv: -kv[1])
    )
    if model == "twotower":
        st.caption(
            "Ranked by the two-tower model alone: the blend weights do not apply, the filters "
            "do. Each reason names the movie you liked that is closest in its learned space."
        )
    elif used:
        st.caption(f"Effective weights: {used}.")
with context:
    if mode != "New here: rate a few movies" and user is not None:
        st.markdown(f"##### What user {user} rated highest")
        favourites = ui.user_favourites(key, engine, int(user))
        st.dataframe(
            favourites,
            hide_index=True,
            width="stretch",
            height=ui.table_height(len(favourites)),
            column_config=ui.favourite_columns(),
        )
        if not profile.empty:
            st.caption("The genres they rate most; colour = their mean rating there.")
            st.plotly_chart(
                ui.genre_profile_figure(profile),
                key="genre_profile",
                config={"displayModeBar": False},
            )
    else:
        st.markdown("##### Your ratings")
        rated = ui.rated_movies(engine, ui.new_ratings())
        st.dataframe(
            rated,
            hide_index=True,
            width="stretch",
            height=ui.table_height(len(rated)),
            column_config=ui.favourite_columns(),
        )
