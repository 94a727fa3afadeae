"""Data: which catalogue is loaded, how it was read, how fresh the models are; rebuild."""

from __future__ import annotations

import streamlit as st

import ui

engine = ui.engine_or_stop()

st.title("Data and models")
if message := st.session_state.pop("rebuild_message", None):
    st.success(message, icon=":material/check:")

report = engine.catalog.report
age = engine.manifest.age_seconds() if engine.manifest else None
a, b, c, d = st.columns(4)
a.metric("Users", f"{report.n_users:,}", border=True)
b.metric("Movies", f"{report.n_movies:,}", border=True)
c.metric("Ratings", f"{report.n_ratings:,}", border=True)
d.metric("Models built", ui.age_text(age), border=True)

left, right = st.columns(2, gap="large")
with left:
    st.markdown("##### Catalogue")
    st.markdown(ui.source_text(engine))
    st.code(report.summary(), language=None)
with right:
    st.markdown("##### Artifacts")
    status = engine.status()
    if status.up_to_date:
        st.success(status.describe(), icon=":material/check_circle:")
    else:
        st.warning(status.describe(), icon=":material/update:")
    st.dataframe(
        ui.component_table(engine),
        hide_index=True,
        width="stretch",
        column_config={
            "build seconds": st.column_config.NumberColumn(format="%.1f s"),
            "size MB": st.column_config.NumberColumn(format="%.1f MB"),
        },
    )
    if engine.folder is not None:
        st.caption(f"Stored in `{engine.folder}`.")

st.markdown("##### Rebuild")
force = st.checkbox(
    "Rebuild everything (otherwise only what the data or settings changed)", key="force_rebuild"
)
if st.button("Rebuild the models", icon=":material/build:", type="primary"):
    bar = st.progress(0.0, text="Starting")
    result = ui.attempt(
        ui.rebuild, ui.data_arg(), force=force, progress=ui.progress_bar_callback(bar)
    )
    if result is not None:
        built = ", ".join(f"{k} {v:.0f} s" for k, v in result.built.items()) or "nothing"
        # A toast would be lost in the rerun that loads the new models; show it after.
        st.session_state["rebuild_message"] = f"Rebuilt in {result.seconds:.0f} s: {built}."
        st.rerun()
