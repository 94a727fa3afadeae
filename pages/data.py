"""Data: which catalogue is loaded, how it was read, how fresh the models are; rebuild."""

from __future__ import annotations

import streamlit as st

from ui import app, state

engine = app.engine_or_stop()

st.title("Data and models")
if message := state.pop_rebuild_message():
    st.success(message, icon=":material/check:")

report = engine.catalog.report
a, b, c, d = st.columns(4)
a.metric("Users", f"{report.n_users:,}", border=True)
b.metric("Movies", f"{report.n_movies:,}", border=True)
c.metric("Ratings", f"{report.n_ratings:,}", border=True)
d.metric("Models built", app.built_age(engine), border=True)

left, right = st.columns(2, gap="large")
with left:
    st.markdown("##### Catalogue")
    st.markdown(app.source_text(engine))
    st.code(report.summary(), language=None)
with right:
    st.markdown("##### Artifacts")
    status = engine.status()
    if status.up_to_date:
        st.success(status.describe(), icon=":material/check_circle:")
    else:
        st.warning(status.describe(), icon=":material/update:")
    st.dataframe(
        app.component_table(engine),
        hide_index=True,
        width="stretch",
        column_config={
            "build seconds": st.column_config.NumberColumn(format="%.1f s"),
            "size MB": st.column_config.NumberColumn(format="%.1f MB"),
        },
    )
    if engine.folder is not None:
        st.caption(f"Stored in `{engine.folder}`.")

st.markdown("##### Chosen for this data set")
if chosen := app.chosen_markdown(engine):
    st.caption(
        "The build tunes the collaborative model and the blend on a validation split of these "
        "ratings (overall taste and what comes next), so the default picks suit this data. "
        "`python -m core build --no-tune` keeps the built-in defaults."
    )
    st.markdown(chosen)
else:
    st.caption("Nothing recorded: these models were built with the built-in defaults.")

st.markdown("##### Rebuild")
running = app.build_running(app.data_arg())
if running:
    st.info(
        "A build of this data set is running (started here by another visitor or from a "
        "shell). Reload this page when it has finished to see the new models.",
        icon=":material/hourglass_top:",
    )
allowed = app.rebuild_allowed()
if not allowed:
    st.caption(
        f"Rebuilding from the app is off. Start the app with `{app.REBUILD_ENV}=1` to allow it, "
        "or rebuild from a shell: `python -m core build`."
    )
force = st.checkbox(
    "Rebuild everything (otherwise only what the data or settings changed)",
    key=state.FORCE_REBUILD_KEY,
    disabled=not allowed or running,
)
if st.button(
    "Rebuild the models",
    icon=":material/build:",
    type="primary",
    disabled=not allowed or running,
):
    bar = st.progress(0.0, text="Starting")
    result = app.attempt(
        app.rebuild, app.data_arg(), force=force, progress=app.progress_bar_callback(bar)
    )
    if result is not None:
        # A toast would be lost in the rerun that loads the new models; show it after.
        state.leave_rebuild_message(app.rebuild_summary(result))
        st.rerun()
