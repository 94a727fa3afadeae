"""Nothing the command line prints can drive the terminal: escape sequences and control
characters in titles, queries, notes and errors are removed before printing."""

from __future__ import annotations

import io
import sys

import pandas as pd
import pytest

from core.cli.output import clean, print_table, rich_section, say
from core.evaluation.results import Section

OSC_TITLE = "\x1b]0;pwned\x07"
HOSTILE = [
    (f"heat{OSC_TITLE} 1995", "heat 1995"),  # OSC: sets the terminal's title
    ("\x1b]0;pwned\x1b\\x", "x"),  # OSC ended by ESC \ instead of BEL
    ("\x1b[31mred\x1b[0m", "red"),  # ANSI colour (CSI)
    ("\x1b[2J\x1b[1;1Hwiped", "wiped"),  # clear screen, move cursor
    ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink
    ("a\x9b31mb", "ab"),  # the 8-bit CSI (C1)
    ("bell\x07 back\x08 cr\r del\x7f nel\x85", "bell back cr del nel"),
    ("lone escape \x1b", "lone escape "),
    ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
    ("Amélie — 千と千尋", "Amélie — 千と千尋"),  # ordinary text is untouched
]


@pytest.mark.parametrize(("raw", "shown"), HOSTILE)
def test_clean_removes_escapes_and_controls(raw: str, shown: str) -> None:
    assert clean(raw) == shown


@pytest.mark.parametrize(("raw", "shown"), HOSTILE)
def test_say_prints_cleaned(capsys, raw: str, shown: str) -> None:
    say("note:", raw)
    say(raw, file=sys.stderr)
    out, err = capsys.readouterr()
    assert out == f"note: {shown}\n" and err == f"{shown}\n"


def _hostile_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "movieId": [1],
            "title": [f"Evil{OSC_TITLE} [link=http://evil]x[/link]"],
            "genres": ["\x1b[31mRed\x1b[0m"],
            "score": [1.0],
            "reason": ["because\x07"],
        }
    )


def test_plain_table_has_no_control_characters(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    print_table(_hostile_frame(), f"Results for {OSC_TITLE}", use_json=False)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "Evil" in out and "Red" in out and "pwned" not in out


def test_rich_table_has_no_injected_escapes_or_markup(capsys, monkeypatch) -> None:
    from rich.console import Console

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    buffer = io.StringIO()
    # no_color: any ESC left in the output came from the data, not from rich's own styling
    monkeypatch.setattr("rich.console.Console", lambda: Console(file=buffer, no_color=True))
    print_table(_hostile_frame(), f"Results for {OSC_TITLE}", use_json=False)
    text = buffer.getvalue()
    assert "pwned" not in text and "\x07" not in text
    assert "[link=http://evil]" in text  # rich markup in a title is shown, not obeyed


def test_json_output_escapes_controls(capsys) -> None:
    print_table(_hostile_frame(), "t", use_json=True)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\u001b" in out


def test_rich_section_cleans_protocol_and_cells() -> None:
    from rich.console import Console

    section = Section("demo", f"protocol{OSC_TITLE}", [{"model": f"m{OSC_TITLE}", "x": 0.5}])
    buffer = io.StringIO()
    rich_section(Console(file=buffer, width=100, no_color=True), section)
    assert "pwned" not in buffer.getvalue() and "\x1b]" not in buffer.getvalue()
