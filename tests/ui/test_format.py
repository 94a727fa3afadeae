"""``escape_md``: catalogue fields and user text put into Markdown are shown as written.

Each hostile string is escaped, rendered by a CommonMark parser (markdown-it-py, the one rich
uses, with GitHub tables and strikethrough) and must come out as the same text with no
element at all; Streamlit's own syntax (maths, directives) is checked on the source.
"""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from ui.format import escape_md, escape_md_after_bold

HOSTILE = [
    "![x](http://127.0.0.1:9/genre.png)",
    "[click](javascript:alert(1))",
    "[ref]: http://127.0.0.1:9/x",
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>",
    "<http://127.0.0.1:9/autolink>",
    "&lt;img src=x&gt; and &amp;",
    "*bold* __under__ ~~strike~~ `code`",
    "| a | b |\n|---|---|\n| c | d |",
    "# Heading",
    "> quoted",
    "- item",
    "+ item",
    "1. first",
    "2) second",
    "Title\n===",
    "---",
    "    indented code",
    "line one\n\nline two",
    "back\\slash \\*",
    "$x^2$ and $$y$$",
    ":red[x] :blue-background[y] :orange-badge[z]",
    ":material/home: :smile:",
    "nul\x00 bell\x07 esc\x1b]0;pwned\x07 c1\x85 del\x7f",
    "bidi \u202eevil\u202c",
]
BLOCK_TAGS = re.compile(r"<(?!/?p>)[a-z]", re.IGNORECASE)


def _render(markdown: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


def _as_written(text: str) -> str:
    text = re.sub("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", " ", text)
    return " ".join(text.split())


@pytest.mark.parametrize("raw", HOSTILE)
def test_escaped_text_renders_as_written_with_no_markup(raw: str) -> None:
    rendered = _render(escape_md(raw))
    assert not BLOCK_TAGS.search(rendered), rendered  # nothing but one paragraph
    shown = html.unescape(re.sub(r"</?p>\n?", "", rendered)).strip()
    assert shown == _as_written(raw)


@pytest.mark.parametrize("raw", HOSTILE)
def test_no_streamlit_syntax_or_html_left_in_the_source(raw: str) -> None:
    escaped = escape_md(raw)
    assert "\n" not in escaped and "<" not in escaped and ">" not in escaped
    assert not re.search(r"(?<!\\)[$\[\]`*_~|#]", escaped), escaped
    assert not re.search(r"(?<!\\):[A-Za-z]", escaped), escaped  # :red[ :material/ :smile:
    assert ":material/" not in escaped  # Streamlit rewrites it before parsing
    assert not re.search("[\x00-\x1f\x7f-\x9f]", escaped)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Alien: Resurrection (1997)", "Alien: Resurrection (1997)"),
        ("Amélie — 千と千尋の神隠し", "Amélie — 千と千尋の神隠し"),
        ("Se7en", "Se7en"),
        (None, ""),
        (1999, "1999"),
    ],
)
def test_ordinary_text_is_left_readable(raw: object, shown: str) -> None:
    assert escape_md(raw) == shown


def test_after_bold_keeps_the_label_and_escapes_the_rest() -> None:
    line = escape_md_after_bold("**Directed by** ![x](http://127.0.0.1:9/a.png)")
    assert line.startswith("**Directed by** ") and "![" not in line and "!\\[x\\]" in line
