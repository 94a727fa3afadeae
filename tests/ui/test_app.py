"""In-process tests of every page of the Streamlit app with ``streamlit.testing.v1.AppTest``.

One tiny engine (20 movies, 40 users) is built per test session into temporary folders and
served to every test through the app's own cached loader; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_support import APP, tiny_app_env, write_metrics

PAGES = {
    "ask": "pages/ask.py",
    "for_you": "pages/for_you.py",
    "similar": "pages/similar.py",
    "analytics": "pages/analytics.py",
    "evaluation": "pages/evaluation.py",
    "data": "pages/data.py",
}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], object]:
    """The environment that points the app at a tiny catalogue, and its engine, built once.

    The variables are set only while building and, by :func:`_serve_tiny`, during each test
    of this file, so tests elsewhere in the session still see the real environment.
    """
    env = tiny_app_env(tmp_path_factory.mktemp("app"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        from core.serving.engine import Engine

        # Built here rather than by the first page, so no AppTest run hits its timeout.
        engine = Engine.open(env["MOVIE_DATA"])
    return env, engine


@pytest.fixture(autouse=True)
def _serve_tiny(tiny: tuple[dict[str, str], object], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in tiny[0].items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def tiny_engine(tiny: tuple[dict[str, str], object]) -> object:
    """The tiny catalogue's engine (the app's cached loader serves an equal one)."""
    return tiny[1]


def app(*, page: str | None = None, user: int | None = None) -> AppTest:
    """A fresh session of the app, run once (and switched to ``page``)."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    if user is not None:
        at.query_params["user"] = str(user)
    at.run()
    if page is not None:
        at.switch_page(PAGES[page]).run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    """No traceback anywhere on the page."""
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    """Every markdown, caption and alert text on the page, joined."""
    parts = [m.value for m in (*at.title, *at.header, *at.subheader, *at.markdown, *at.caption)]
    parts += [e.value for e in (*at.info, *at.warning, *at.success, *at.error)]
    return "\n".join(str(p) for p in parts)


def assistant_titles(at: AppTest, turn: int = -1) -> list[str]:
    """Movie titles listed in an assistant answer (from the stored conversation)."""
    answers = [m for m in at.session_state["chat_history"] if m["role"] == "assistant"]
    return [r["title"] for r in answers[turn]["results"]]


# -- Ask -------------------------------------------------------------------------------------
def answers(at: AppTest) -> list[dict]:
    """The assistant messages of the stored conversation."""
    return [m for m in at.session_state["chat_history"] if m["role"] == "assistant"]


def suggestion_buttons(at: AppTest) -> list:
    """The suggestion buttons on the page (only the latest answer has them)."""
    return [b for b in at.button if str(b.key).startswith("suggestion_")]


def say(at: AppTest, text: str) -> dict:
    """Send ``text`` through the chat box; returns the answer (the page has no traceback)."""
    at.chat_input[0].set_value(text).run()
    assert_clean(at)
    assert at.session_state["chat_history"][-2] == {"role": "user", "content": text}
    return answers(at)[-1]


def test_ask_landing_shows_examples() -> None:
    from ui.chat import EXAMPLE_PROMPTS

    at = app()
    labels = [b.label for b in at.button]
    assert all(example in labels for example in EXAMPLE_PROMPTS)
    assert len(at.chat_input) == 1
    assert not at.toggle, "the two-stage search switch is gone: the chat decides"


def test_four_turn_conversation_remembers() -> None:
    at = app()
    hello = say(at, "hi")
    assert hello["kind"] == "smalltalk" and hello["results"], "crowd-pleasers while it asks"
    buttons = suggestion_buttons(at)
    assert [b.label for b in buttons] == hello["suggestions"] and len(buttons) >= 2

    liked = say(at, "I loved Alien (1979)")
    first = assistant_titles(at)
    assert liked["kind"] == "recommend" and first and "Alien" not in first
    assert "like: Alien (1979)" in liked["understood"]
    assert "like: Alien (1979)" in texts(at), "the badge of what was understood is shown"

    rejected = say(at, "not that one")
    second = assistant_titles(at)
    assert rejected["kind"] == "refine" and second
    assert first[0] not in second, "the rejected top pick is gone"
    assert "Alien" not in second and "like: Alien (1979)" in rejected["understood"]

    lighter = say(at, "something lighter")
    third = assistant_titles(at)
    assert third != second and first[0] not in third and "Alien" not in third
    assert any("Comedy" in u for u in lighter["understood"])
    assert "Comedy" in texts(at)

    # Only the latest answer offers follow-ups; clicking one sends it as the next message.
    buttons = suggestion_buttons(at)
    assert buttons and all(
        b.key.startswith(f"suggestion_{len(at.session_state['chat_history']) - 1}_")
        for b in buttons
    )
    older = next(b for b in buttons if b.label == "Older")
    older.click().run()
    assert_clean(at)
    assert at.session_state["chat_history"][-2] == {"role": "user", "content": "Older"}
    assert any(u.startswith("up to") for u in answers(at)[-1]["understood"])
    assert len(at.chat_message) == 10
    # The entry script ran on this later run too (it writes the data caption last).
    assert any("users" in c.value for c in at.sidebar.caption)


def test_vague_first_turn_and_constraint_only() -> None:
    at = app()
    vague = say(at, "more like the second one")
    assert vague["kind"] == "vague" and "?" in vague["content"]
    assert vague["results"], "crowd-pleasers while it asks"
    labels = [b.label for b in suggestion_buttons(at)]
    assert labels == vague["suggestions"] and labels
    next(b for b in suggestion_buttons(at) if b.label == labels[0]).click().run()
    assert_clean(at)
    assert at.session_state["chat_history"][-2]["content"] == labels[0]
    no_animation = say(at, "not animated")
    assert no_animation["results"] and "Toy Story" not in assistant_titles(at)
    assert "no animation" in no_animation["understood"]


def test_predicted_column_names_the_stacked_model() -> None:
    from ui.movies import movie_columns

    help_text = movie_columns()["Predicted"]["help"]
    assert "kNN" in help_text and "SVD" in help_text


def test_example_button_and_clear() -> None:
    at = app()
    example = next(b for b in at.button if "funny" in b.label)
    example.click().run()
    assert_clean(at)
    assert len(at.chat_message) == 2
    assert at.session_state["chat_history"][0]["content"] == example.label
    assert at.session_state["chat_state"], "the dialogue state is kept for the next turn"
    next(b for b in at.button if b.label == "Clear chat").click().run()
    assert len(at.chat_message) == 0
    assert "chat_state" not in at.session_state
    after = say(at, "something lighter")  # no memory of the cleared conversation
    assert after["understood"] and "for: family" not in after["understood"]


def test_chat_bad_inputs() -> None:
    at = app()
    at.chat_input[0].set_value("   ").run()
    assert_clean(at)
    at.chat_input[0].set_value("!!! ???").run()
    assert_clean(at)
    at.chat_input[0].set_value("space " * 1000).run()  # 6,000 characters
    assert_clean(at)
    history = at.session_state["chat_history"]
    assert history[-1]["role"] == "assistant"
    assert any("first 1,000 characters" in n for n in history[-1].get("notes", []))


#: Messages whose Markdown/LaTeX specials must be shown as typed, never rendered.
HOSTILE_PROMPTS = (
    "$9.99 *bold* <b>x</b> [link](http://x)",
    "# heading `code` ~~strike~~ | pipe | table",
    "I loved $Alien$ (1979) and <Aliens>",
    "<script>alert(1)</script>",
    "'; DROP TABLE movies; --",
    "🎬🍿 ñandú \u202e reversed",
    "\x00\x1b[31m control \t chars",
)


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS)
def test_chat_escapes_what_it_echoes(prompt: str) -> None:
    import re

    from ui.format import escape_md

    at = app()
    say(at, prompt)
    user, answer = at.chat_message[0], at.chat_message[1]
    assert user.markdown[0].value == escape_md(at.session_state["chat_history"][0]["content"])
    # The page's own Markdown never uses these; a bare one came from data or the user.
    bare = re.compile(r"(?<!\\)[$<>`#|~]")
    for block in (user, answer):
        for element in (*block.markdown, *block.caption):
            assert not bare.search(element.value), element.value


def test_chat_with_selected_user_shows_predicted_ratings() -> None:
    at = app(user=3)
    assert at.selectbox(key="user_select").value == 3
    at.chat_input[0].set_value("romantic comedy").run()
    assert_clean(at)
    answer = at.session_state["chat_history"][-1]
    assert answer["user"] == 3
    assert any(r["predicted_rating"] is not None for r in answer["results"])
    assert "predicted for you" in texts(at)


# -- For you ---------------------------------------------------------------------------------
def picks(at: AppTest) -> list[str]:
    """Titles in the picks table."""
    return at.dataframe[0].value["Title"].tolist()


def test_for_you_user_select_and_sliders_change_picks() -> None:
    at = app(page="for_you")
    assert "Pick a user id" in texts(at)
    at.selectbox(key="user_select").set_value(1).run()  # odd users love sci-fi
    assert_clean(at)
    sci_fi_fan = picks(at)
    assert sci_fi_fan
    assert at.query_params["user"] == "1"
    at.selectbox(key="user_select").set_value(2).run()  # even users love romance
    romance_fan = picks(at)
    assert romance_fan != sci_fi_fan
    assert at.get("plotly_chart"), "the contribution chart is drawn"

    at.slider(key="w_collab").set_value(0.0)
    at.slider(key="w_semantic").set_value(0.0)
    at.slider(key="w_genre_tag").set_value(0.0)
    at.slider(key="w_popularity").set_value(1.0).run()
    assert_clean(at)
    assert picks(at) != romance_fan, "popularity alone ranks differently"


def test_user_and_weights_survive_page_switches() -> None:
    at = app(page="for_you", user=4)
    assert at.selectbox(key="user_select").value == 4
    at.slider(key="w_collab").set_value(0.3).run()
    at.switch_page(PAGES["analytics"]).run()
    at.switch_page(PAGES["similar"]).run()
    assert at.slider(key="w_collab").value == 0.3, "weights are shared with Similar"
    at.switch_page(PAGES["for_you"]).run()
    assert at.selectbox(key="user_select").value == 4
    assert at.query_params["user"] == "4"
    at.switch_page(PAGES["ask"]).run()
    assert at.selectbox(key="user_select").value == 4


def test_for_you_two_tower_picks() -> None:
    at = app(page="for_you", user=1)
    blend = picks(at)
    at.button_group(key="for_you_model").set_value("Two-tower model").run()
    assert_clean(at)
    two_tower = picks(at)
    assert two_tower and "Ranked by the two-tower model" in texts(at)
    assert all("two-tower" in why for why in at.dataframe[0].value["Why"])
    assert blend and len(two_tower) == len(blend)


def test_for_you_picks_led_by_latest_ratings() -> None:
    at = app(page="for_you", user=1)
    at.button_group(key="for_you_model").set_value("Blend, led by my latest ratings").run()
    assert_clean(at)
    assert picks(at) and "Effective weights" in texts(at)


def test_for_you_filters_excluding_everything() -> None:
    at = app(page="for_you", user=1)
    at.multiselect(key="f_include").set_value(["Documentary"])
    at.number_input(key="f_min_ratings").set_value(20).run()
    assert_clean(at)
    assert at.warning, "an empty result explains itself"
    assert "filter" in " ".join(w.value for w in at.warning).lower()


def test_new_user_rates_and_gets_picks() -> None:
    at = app(page="for_you")
    at.button_group(key="for_you_mode").set_value("New here: rate a few movies").run()
    assert_clean(at)
    assert "Rate at least one movie" in texts(at)
    assert len(at.feedback) == 12 or len(at.feedback) >= 8
    at.feedback[0].set_value(4)
    at.feedback[1].set_value(0).run()
    assert_clean(at)
    assert at.session_state["new_user_ratings"]
    assert picks(at), "folded-in ratings give picks at once"


# -- Similar ---------------------------------------------------------------------------------
def test_similar_with_typo() -> None:
    at = app(page="similar")
    at.text_input(key="similar_title").set_value("the matrx").run()
    assert_clean(at)
    assert "The Matrix" in texts(at)
    assert at.dataframe, "blended picks are shown"
    assert "Collaborative" in texts(at) and "Semantic" in texts(at)
    assert "Lana Wachowski" in texts(at) or "Keanu Reeves" in texts(at)


def test_similar_people_rows_and_explore() -> None:
    at = app(page="similar")
    at.text_input(key="similar_title").set_value("Alien").run()
    assert "More by Ridley Scott" in texts(at)
    assert "Also with Sigourney Weaver" in texts(at)  # the director & cast index's lead actors
    explore = next(b for b in at.button if b.label == "Explore")
    explore.click().run()
    assert_clean(at)
    assert at.text_input(key="similar_title").value != "Alien"


def test_similar_unknown_title_and_suggestions() -> None:
    at = app(page="similar")
    at.text_input(key="similar_title").set_value("qqqqzzzz xxyy").run()
    assert_clean(at)
    assert at.info, "an unknown title says so"
    at.text_input(key="similar_title").set_value("Alienz Nation Resurrection Movie").run()
    assert_clean(at)


# -- Analytics, Evaluation, Data -------------------------------------------------------------
def test_analytics_renders_every_tab() -> None:
    from ui.charts import ANALYTICS_TABS

    at = app(page="analytics")
    keys = {chart.key for chart in at.get("plotly_chart")}
    assert {"rating_dist", "tail_user", "tail_movie", "genre_pop", "genre_mean"} <= keys
    at.session_state["analytics_view"] = ANALYTICS_TABS[1]
    at.run()
    assert_clean(at)
    assert "heatmaps" in {chart.key for chart in at.get("plotly_chart")}
    at.session_state["analytics_view"] = ANALYTICS_TABS[2]
    at.run()
    assert_clean(at)
    assert "embedding_map" in {chart.key for chart in at.get("plotly_chart")}
    at.button_group(key="map_method").set_value("t-SNE").run()
    assert_clean(at)
    assert "embedding_map" in {chart.key for chart in at.get("plotly_chart")}


@pytest.fixture
def no_scaling_results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Hide the repository's benchmarks/scaling.json (its table would be one more frame)."""
    from ui import evaluation

    monkeypatch.setattr(evaluation, "SCALING_JSON", tmp_path / "missing.json")


def test_evaluation_without_and_with_metrics(tiny_engine: object, no_scaling_results) -> None:
    at = app(page="evaluation")
    assert "python -m core evaluate" in " ".join(c.value for c in at.code)
    folder = Path(tiny_engine.folder) / "evaluation"  # type: ignore[attr-defined]
    write_metrics(folder)
    try:
        at = app(page="evaluation")
        shown = texts(at)
        assert len(at.dataframe) == 3
        assert shown.index("Rating prediction") < shown.index("Top-N ranking (leave last out)")
        assert "80/20 random split" in shown and "Leave each user" in shown
        assert "Natural-language search" in shown and "MRR@10" in shown
        assert "chosen: weights = collab 0.6, semantic 0.4" in shown
        assert len(at.get("plotly_chart")) == 3
        (folder / "broken.json").write_text("{not json")
        at = app(page="evaluation")
        assert at.warning and "broken.json" in at.warning[0].value
        assert len(at.dataframe) == 3, "the readable files are still shown"
    finally:
        for file in folder.glob("*.json"):
            file.unlink()


def test_evaluation_shows_the_quality_targets(tiny_engine: object, no_scaling_results) -> None:
    folder = Path(tiny_engine.folder) / "evaluation"  # type: ignore[attr-defined]
    folder.mkdir(parents=True, exist_ok=True)
    rating = {"name": "rating", "protocol": "5-fold", "rows": [
        {"model": "global mean", "RMSE": 1.04},
        {"model": "stacked ensemble (product)", "RMSE": 0.8347},
    ]}  # fmt: skip
    search = {"name": "search", "protocol": "tomt", "rows": [
        {"model": "full search, score fusion only", "Recall@10": 0.231},
        {"model": "full search (product: fusion + shipped re-ranker) [in-sample: trained on "
                  "these requests]", "Recall@10": 0.243},
        {"model": "full search, re-ranker 5-fold cross-validated on these requests",
         "Recall@10": 0.239},
    ]}  # fmt: skip
    (folder / "rating.json").write_text(json.dumps(rating))
    (folder / "search.json").write_text(json.dumps(search))
    try:
        at = app(page="evaluation")
        shown = texts(at)
        assert "Quality targets" in shown
        targets = at.dataframe[0].value
        assert list(targets["measure"]) == ["rating RMSE, 5-fold", "search Recall@10"]
        assert list(targets["met"]) == ["✅ met", "❌ not met"]
        assert list(targets["measured"]) == [0.8347, 0.239]  # the held-out search row
        assert len(at.dataframe) == 3  # targets + the two tables
    finally:
        for file in folder.glob("*.json"):
            file.unlink()


def test_evaluation_shows_the_extra_models_and_verdicts(
    tiny_engine: object, no_scaling_results
) -> None:
    import json

    folder = Path(tiny_engine.folder) / "evaluation"  # type: ignore[attr-defined]
    folder.mkdir(parents=True, exist_ok=True)
    sections = {
        "twotower_ranking_stratified": [
            {"model": "blend, default weights", "Recall@10": 0.16, "nDCG@10": 0.40},
            {"model": "two-tower alone", "Recall@10": 0.15, "nDCG@10": 0.37},
        ],
        "crew_metadata": [
            {"protocol": "stratified", "model": "blend + director & cast", "nDCG@10": 0.41},
        ],
    }
    for name, rows in sections.items():
        chosen = {"verdict": {"crew (stratified)": "helps: weight 0.2"}} if "crew" in name else {}
        payload = {"name": name, "protocol": "p", "rows": rows, "chosen": chosen, "seconds": 1}
        (folder / f"{name}.json").write_text(json.dumps(payload))
    try:
        at = app(page="evaluation")
        shown = texts(at)
        assert "Two-tower retrieval vs the blend (stratified split)" in shown
        assert "Director & cast and TMDB metadata in the blend" in shown
        assert any("helps: weight 0.2" in i.value for i in at.info), "the verdict is shown"
    finally:
        for file in folder.glob("*.json"):
            file.unlink()


def test_data_page() -> None:
    at = app(page="data")
    assert_clean(at)
    assert "up to date" in texts(at)
    assert any("ratings" in c.value for c in at.code)


def test_unknown_user_in_url_is_ignored() -> None:
    at = app(page="for_you", user=987654)
    assert at.selectbox(key="user_select").value is None
    assert "user" not in at.query_params


def test_missing_data_folder_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOVIE_DATA", str(tmp_path / "no-such-folder"))
    at = app()
    assert at.error and "does not exist" in at.error[0].value


def test_first_start_builds_with_progress(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOVIE_ARTIFACTS", str(tmp_path / "fresh-artifacts"))
    at = app()
    assert list((tmp_path / "fresh-artifacts").glob("*/manifest.json")), "built on first start"
    at.chat_input[0].set_value("romantic comedy").run()
    assert_clean(at)
    assert assistant_titles(at)


def test_data_page_rebuild_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOVIE_ALLOW_REBUILD", raising=False)
    at = app(page="data")
    button = next(b for b in at.button if b.label == "Rebuild the models")
    assert button.disabled and "MOVIE_ALLOW_REBUILD=1" in texts(at)
    # A forged click (the browser cannot click a disabled button) still builds nothing.
    from core.errors import WorkbenchError
    from ui import app as ui_app

    with pytest.raises(WorkbenchError, match="MOVIE_ALLOW_REBUILD=1"):
        ui_app.rebuild(None, force=True, progress=lambda message, fraction: None)


def test_data_page_says_when_a_build_is_running(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.serving.build import build_lock, lock_path

    monkeypatch.setenv("MOVIE_ALLOW_REBUILD", "1")
    with build_lock(lock_path(os.environ["MOVIE_DATA"])):  # as a shell's `core build` would
        at = app(page="data")
        assert any("build of this data set is running" in i.value for i in at.info)
        assert next(b for b in at.button if b.label == "Rebuild the models").disabled
    at = app(page="data")
    assert not at.info
    assert not next(b for b in at.button if b.label == "Rebuild the models").disabled


def test_data_page_rebuild_button(monkeypatch: pytest.MonkeyPatch) -> None:
    # Last: the rebuild clears every cache, so the next run loads the engine again.
    monkeypatch.setenv("MOVIE_ALLOW_REBUILD", "1")
    at = app(page="data")
    next(b for b in at.button if b.label == "Rebuild the models").click().run()
    assert_clean(at)
    assert any("Rebuilt in" in s.value for s in at.success)


def test_evaluation_falls_back_to_another_data_sets_results(
    tiny_engine: object, no_scaling_results
) -> None:
    own = Path(tiny_engine.folder)  # type: ignore[attr-defined]
    other = own.parent / "another-data-set" / "evaluation"
    write_metrics(other)
    try:
        at = app(page="evaluation")
        assert_clean(at)
        assert "python -m core evaluate" in " ".join(c.value for c in at.code)
        assert at.selectbox[0].value == "another-data-set"
        assert any("another-data-set" in w.value for w in at.warning)
        assert len(at.dataframe) == 3, "the other data set's tables are shown"
    finally:
        shutil.rmtree(other.parent)


@pytest.fixture
def shipped_reference(
    tiny_engine: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, int]:
    """The committed built-in reference results, shipped (in a temporary reference folder)
    under the tiny data set's name, so the page serving it finds them; their name and count."""
    from core.config import BUILTIN_DATA
    from core.evaluation import reference

    shipped = reference.find_reference(BUILTIN_DATA)
    assert shipped is not None, "the built-in reference results are committed"
    name = tiny_engine.manifest.dataset  # type: ignore[attr-defined]
    shutil.copytree(shipped.folder.parent, tmp_path / "reference" / name)
    monkeypatch.setattr(reference, "REFERENCE_ROOT", tmp_path / "reference")
    return name, len(list(shipped.folder.glob("*.json")))


def test_evaluation_shows_labelled_reference_results_on_a_fresh_machine(
    shipped_reference: tuple[str, int], no_scaling_results
) -> None:
    name, count = shipped_reference
    at = app(page="evaluation")
    commands = " ".join(c.value for c in at.code)
    assert "python -m core evaluate --data" in commands and 'tiny-movielens" --quick' in commands
    assert at.selectbox[0].value == f"{name} (shipped reference results)"
    label = " ".join(i.value for i in at.info)
    assert "Reference results shipped with the project" in label
    assert (
        "with `python -m core evaluate --quick`" in label
        and "not measured on this machine" in label
    )
    assert "measure your own" in label
    assert not at.warning, "shipped results are not another data set's"
    shown = texts(at)
    assert f"{name} (shipped reference, not measured here)" in shown
    assert "Quick protocol (python -m core evaluate --quick)" in shown
    assert "Rating prediction" in shown and "Top-N ranking (leave last out)" in shown
    assert len(at.dataframe) == count + 1, "every shipped table and the quality targets"
    assert all("(quick protocol)" in m for m in at.dataframe[0].value["measure"])


def test_evaluation_own_results_replace_the_reference(
    tiny_engine: object, shipped_reference: tuple[str, int], no_scaling_results
) -> None:
    folder = Path(tiny_engine.folder) / "evaluation"  # type: ignore[attr-defined]
    write_metrics(folder)
    try:
        at = app(page="evaluation")
        assert not at.selectbox and not at.info
        shown = texts(at)
        assert "shipped" not in shown and "Quick protocol" not in shown
        assert "80/20 random split" in shown
        assert len(at.dataframe) == 3
    finally:
        for file in folder.glob("*.json"):
            file.unlink()


def test_evaluation_prefers_the_reference_to_another_data_set(
    tiny_engine: object, shipped_reference: tuple[str, int], no_scaling_results
) -> None:
    name, count = shipped_reference
    own = Path(tiny_engine.folder)  # type: ignore[attr-defined]
    other = own.parent / "another-data-set" / "evaluation"
    write_metrics(other)
    try:
        at = app(page="evaluation")
        assert at.selectbox[0].options == [
            f"{name} (shipped reference results)",
            "another-data-set",
        ]
        assert len(at.dataframe) == count + 1
        at.selectbox[0].set_value("another-data-set").run()
        assert_clean(at)
        assert any("another-data-set" in w.value for w in at.warning)
        assert not any("Reference results shipped" in i.value for i in at.info)
        assert len(at.dataframe) == 3
    finally:
        shutil.rmtree(other.parent)


def test_scaling_table_and_figure(tmp_path: Path) -> None:
    import json

    from ui import charts, evaluation

    row = {"size": "1M", "users": 6040, "movies": 3706, "ratings": 1_000_209, "engine": "local",
           "build_s": 600.0, "build_peak_mb": 1024.0, "open_s": 5.0,
           "picks": {"median_ms": 5.0}, "similar": {"median_ms": 3.0},
           "search": {"median_ms": 11.0}, "serve_peak_mb": 800.0}  # fmt: skip
    path = tmp_path / "scaling.json"
    path.write_text(json.dumps({"machine": {"cores": 2}, "rows": [row, {"size": "old"}]}))
    found = evaluation.scaling_table(path)
    assert found is not None
    frame, machine = found
    assert len(frame) == 1 and frame["build (min)"].iloc[0] == 10.0 and "2 cores" in machine
    assert len(charts.scaling_figure(frame).data) == 6
    path.write_text("{broken")
    assert evaluation.scaling_table(path) is None


def test_evaluation_page_shows_the_scaling_benchmark(
    tiny_engine: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    from ui import evaluation

    row = {"size": "100k", "users": 610, "movies": 9742, "ratings": 100_836, "engine": "local",
           "build_s": 170.0, "build_peak_mb": 1300.0, "open_s": 2.0,
           "picks": {"median_ms": 9.0}, "similar": {"median_ms": 5.0},
           "search": {"median_ms": 12.0}, "serve_peak_mb": 900.0}  # fmt: skip
    path = tmp_path / "scaling.json"
    path.write_text(json.dumps({"machine": {"cores": 2}, "rows": [row]}))
    monkeypatch.setattr(evaluation, "SCALING_JSON", path)
    at = app(page="evaluation")
    assert_clean(at)
    assert "Scaling: build, latency and memory by data size" in texts(at)
    assert "scaling_chart" in {chart.key for chart in at.get("plotly_chart")}
