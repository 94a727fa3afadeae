"""Evaluation: the latest offline metrics written by ``python -m core evaluate``."""

from __future__ import annotations

import streamlit as st

from ui import app, charts, evaluation, state


def show_scaling() -> None:
    """The scaling benchmark's table and chart, when ``benchmarks/scaling.json`` exists."""
    found = evaluation.scaling_table()
    if found is None:
        return
    frame, machine = found
    st.subheader("Scaling: build, latency and memory by data size")
    st.markdown(
        ":gray[**Protocol.** `python benchmarks/scaling.py --sizes 100k,1M,10M,32M`: synthetic "
        "MovieLens-shaped folders (`python -m core synth`), a forced full build and a fresh "
        f"serving process per size, medians of many requests; {machine}.]"
    )
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config=evaluation.metric_column_config(frame))  # fmt: skip
    st.plotly_chart(charts.scaling_figure(frame), key="scaling_chart",
                    config={"displaylogo": False})  # fmt: skip


engine = app.engine_or_stop()
folder = evaluation.evaluation_folder(engine)
files = evaluation.evaluation_files(folder)

st.title("Offline evaluation")

shown_name = folder.parent.name
if not files:
    st.info(
        f"No evaluation results for **{engine.catalog.name}** yet. Measure them from a shell in "
        "the project folder: the quick protocol takes a few minutes on 2 cores; every part, "
        "with a file of search requests, the better part of an hour:",
        icon=":material/lab_research:",
    )
    st.code(
        evaluation.evaluate_command(app.data_arg(), quick=True)
        + "\n"
        + evaluation.evaluate_command(app.data_arg()),
        language="bash",
    )
    st.caption(
        "`FILE.jsonl` holds one request per line with its answer, "
        '`{"query": "...", "movieId": 123}`; the search and genre-cluster search parts only run '
        "with it; `--parts` picks a subset of rating, ranking, search, models. Results are read "
        f"from `{folder}/*.json`; reload this page afterwards."
    )
    # Fallback order: shipped results for this very data set, then other data sets' results.
    reference = evaluation.reference_results(engine)
    choices = {}
    if reference is not None:
        choices[f"{reference.dataset} (shipped reference results)"] = reference.folder
    choices.update(evaluation.other_evaluation_folders(engine))
    if not choices:
        show_scaling()
        st.stop()
    shown = str(
        st.selectbox(
            "Meanwhile, show",
            list(choices),
            help="Results shipped with the project for this data set, or written earlier for "
            "another data set in the same artifacts folder.",
        )
    )
    folder = choices[shown]
    files = evaluation.evaluation_files(folder)
    if reference is not None and folder == reference.folder:
        shown_name = f"{reference.dataset} (shipped reference, not measured here)"
        st.info(evaluation.reference_label(reference), icon=":material/inventory_2:")
    else:
        shown_name = shown
        st.warning(
            f"Showing results for **{shown}**, not for the data set being served "
            f"(**{engine.catalog.name}**).",
            icon=":material/swap_horiz:",
        )

tables, errors = evaluation.read_evaluation(evaluation.evaluation_stamp(files))
for error in errors:
    st.warning(error, icon=":material/warning:")
if not tables:
    show_scaling()
    st.stop()
st.caption(
    f"{len(tables)} result table{'s' * (len(tables) != 1)} for **{shown_name}** from "
    f"`{folder}`. Re-run `python -m core evaluate --quick` (a few minutes) or "
    "`python -m core evaluate --queries FILE.jsonl` (every part) to refresh them."
)

targets = evaluation.targets_frame(tables)
if targets is not None:
    st.subheader("Quality targets")
    st.markdown(
        ":gray[Set for ml-latest-small and the tomt-movies requests; each is measured on the "
        "product's row of the table below it (search: when the shipped re-ranker and adapter "
        "were trained on these very requests, both cross-validated on them, a held-out "
        "figure).]"
    )
    st.dataframe(targets, hide_index=True, width="stretch")

for table in tables:
    st.subheader(table.title)
    if table.protocol:
        st.markdown(f":gray[**Protocol.** {table.protocol}]")
    verdict = evaluation.verdict_text(table)
    if verdict:
        # Whether an extra signal earns a place in the blend, as decided on validation data.
        st.info(verdict, icon=":material/rule:")
    if table.details:
        st.caption(evaluation.details_text(table.details))
    metrics = evaluation.metric_columns(table.frame)
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.dataframe(
            table.frame,
            hide_index=True,
            width="stretch",
            column_config=evaluation.metric_column_config(table.frame),
        )
    with right:
        picked = st.multiselect(
            "Metrics to chart",
            metrics,
            default=evaluation.default_chart_metrics(metrics),
            key=state.metrics_choice_key(table.source, table.key),
            label_visibility="collapsed",
        )
        if picked:
            st.plotly_chart(
                charts.metrics_figure(table, picked),
                key=f"metrics_chart_{table.source}_{table.key}",
                config={"displaylogo": False},
            )

show_scaling()
