"""End to end through the app: a catalogue whose title, genres, tags, overview and people
hold Markdown, HTML, maths and Streamlit directives, and a visitor who types them. Every
piece of Markdown the pages send must show them as text: no image, link, HTML or directive.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.app_support import APP, tiny_app_env

IMAGE = "![x](http://127.0.0.1:9/genre.png)"
HTML = "<img src=x onerror=alert(1)>"
# Each must appear only escaped in what the pages render.
FORBIDDEN = ("![", "<img", "<script", ":red[", ":material/home", "](http://127.0.0.1:9", "$x$")
HOSTILE_TITLE = "Alien <script>alert(1)</script> $x$ :red[x] :material/home:"


def _poison(data: Path, tmdb: Path) -> None:
    """Give movie 1 ("Alien") hostile text in every field the pages show."""
    movies = pd.read_csv(data / "movies.csv")
    first = movies["movieId"] == 1
    movies.loc[first, "title"] = f"{HOSTILE_TITLE} (1979)"
    movies.loc[first, "genres"] = f"Horror|Sci-Fi|{IMAGE}|{HTML}"
    movies.loc[movies["movieId"] == 2, "genres"] = f"{IMAGE}|{HTML}"
    movies.to_csv(data / "movies.csv", index=False)
    ratings = pd.read_csv(data / "ratings.csv")  # user 41's top genre is a hostile one
    ratings.loc[len(ratings)] = [41, 2, 5.0, 2_000_000]
    ratings.to_csv(data / "ratings.csv", index=False)
    tags = pd.read_csv(data / "tags.csv")
    tags.loc[len(tags)] = [1, 1, f"space {IMAGE} :red[tag]", 1_000_009]
    tags.to_csv(data / "tags.csv", index=False)
    text = pd.read_csv(tmdb)
    row = text["id"] == text["id"].iloc[0]
    text.loc[row, "overview"] = f"A crew in deep space meets a deadly alien. {IMAGE} {HTML} $x$"
    text.loc[row, "director"] = f"Ridley Scott|{HTML}"
    text.loc[row, "cast"] = f"Sigourney Weaver|:red[Evil] {IMAGE}"
    text.to_csv(tmdb, index=False)


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = tiny_app_env(tmp_path_factory.mktemp("hostile"))
    _poison(Path(env["MOVIE_DATA"]), Path(env["MOVIE_TMDB_CSV"]))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        from core.serving.engine import Engine

        engine = Engine.open(env["MOVIE_DATA"])  # built here, not inside an AppTest timeout
    assert (
        engine.catalog.movies.loc[lambda m: m["movieId"] == 1, "genres"]
        .str.contains("!\\[x\\]", regex=True)
        .all()
    ), "the hostile genre reached the catalogue"
    return env


@pytest.fixture(autouse=True)
def _serve(hostile_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in hostile_env.items():
        monkeypatch.setenv(name, value)


def _run(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def _markdown_sources(at: AppTest) -> list[str]:
    """Every string the page sends to be rendered as Markdown."""
    parts = [m.value for m in (*at.title, *at.header, *at.subheader, *at.markdown, *at.caption)]
    parts += [e.value for e in (*at.info, *at.warning, *at.success, *at.error)]
    parts += [b.label for b in at.button] + [e.label for e in at.expander]
    return [str(p) for p in parts]


def _assert_escaped(at: AppTest, *, expect: tuple[str, ...]) -> None:
    assert not at.exception, [e.value for e in at.exception]
    sources = _markdown_sources(at)
    leaks = [(bad, s) for s in sources for bad in FORBIDDEN if bad in s]
    assert not leaks, leaks
    joined = "\n".join(sources)
    for shown in expect:
        assert shown in joined, f"{shown!r} not on the page"


def test_similar_page_shows_hostile_fields_as_text() -> None:
    at = _run("pages/similar.py")
    at.text_input(key="similar_title").set_value(HOSTILE_TITLE).run()
    _assert_escaped(
        at,
        expect=(
            "Alien &lt;script&gt;alert(1)&lt;/script&gt; \\$x\\$ \\:red\\[x\\]",  # title
            "!\\[x\\](http\\://127.0.0.1\\:9/genre.png)",  # genre and overview
            "&lt;img src=x onerror=alert(1)&gt;",  # genre, overview and director
            "\\:red\\[Evil\\]",  # cast
        ),
    )
    # Its neighbour's page lists it in the signals' columns and the people rows.
    at.text_input(key="similar_title").set_value("Aliens").run()
    _assert_escaped(at, expect=("Alien &lt;script&gt;",))


def test_chat_shows_hostile_answers_and_prompts_as_text() -> None:
    at = _run()
    at.chat_input[0].set_value("deadly alien on a crew in deep space").run()
    answer = at.session_state["chat_history"][-1]
    assert any(r["movieId"] == 1 for r in answer["results"]), "the hostile movie is listed"
    _assert_escaped(at, expect=("!\\[x\\]", "&lt;img", "Alien &lt;script&gt;"))
    at.chat_input[0].set_value(f"{IMAGE} {HTML} :red[x] :material/home: $x$ space horror").run()
    _assert_escaped(at, expect=("!\\[x\\](http\\://127.0.0.1\\:9/genre.png) &lt;img",))


def test_for_you_metric_shows_a_hostile_top_genre_as_text() -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["user"] = "41"
    at.run()
    at.switch_page("pages/for_you.py").run()
    genre = next(m for m in at.metric if m.label == "Most-watched genre").value
    assert "!\\[x\\]" in genre or "&lt;img" in genre
    assert not [bad for bad in FORBIDDEN if bad in genre]
    _assert_escaped(at, expect=())
