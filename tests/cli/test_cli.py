"""The command line end to end on the tiny folder: every command, batch forms, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from tests.conftest import REPO


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_build_reports_and_is_up_to_date(capsys, cli_env):
    code, out, _ = run(capsys, "build", *cli_env)
    assert code == 0
    assert "40 users, 20 movies" in out and "up to date" in out
    code, out, _ = run(capsys, "status", *cli_env)
    assert code == 0 and "up to date" in out


def test_recommend_similar_search_json(capsys, cli_env):
    code, out, _ = run(capsys, "recommend", "--user", "1", "--top", "3", "--json", *cli_env)
    assert code == 0
    results = json.loads(out)["results"]
    assert len(results) == 3 and {"movieId", "predicted_rating", "reason"} <= set(results[0])
    code, out, _ = run(capsys, "similar", "--title", "usual suspect", "--json", *cli_env)
    assert code == 0 and "Usual Suspects" in json.loads(out)["title"]
    code, out, _ = run(capsys, "search", "romantic comedy in london", "--top", "5", *cli_env)
    # The first line says what was understood (the chat's reply), then the movies.
    first = out.splitlines()[0]
    assert code == 0 and "Comedy" in first and "Romance" in first and "london" in first
    code, out, _ = run(capsys, "recommend", "--rate", "1=5,2=4.5,9=1", "--top", "2", *cli_env)
    assert code == 0 and "your ratings" in out


def test_batch_forms(capsys, cli_env, tmp_path):
    code, out, _ = run(capsys, "recommend", "--all-users", "--top", "4", *cli_env)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 40 and all(len(x["movieIds"]) == 4 for x in lines)
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"query": "space marines"}\n\n{"id": "b", "query": "   "}\n')
    code, out, _ = run(capsys, "search", "--queries", str(queries), "--top", "3", *cli_env)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 2
    assert len(lines[0]["movieIds"]) == 3 and lines[1]["error"] and lines[1]["id"] == "b"
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("userId,movieId\n1,2\n1,999999\n424242,1\nx,1\n")
    code, out, err = run(capsys, "predict", "--pairs", str(pairs), "--json", *cli_env)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 3 and "skipped 1" in err
    assert [r["was_impossible"] for r in rows] == [False, True, True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "--user", "424242"], "no ratings"),
        (["similar", "--title", "qqqq zzzz"], "No movie matches"),
        (["search", "  "], "describe"),
        (["recommend", "--rate", "abc"], "MOVIEID=RATING"),
        (["recommend", "--rate", "1=9"], "outside this catalogue's scale 0.5-5"),
        (["recommend", "--rate", "1=4,2=0"], "outside this catalogue's scale"),
        (["recommend", "--rate", "1=nan"], "outside this catalogue's scale"),
        (["predict", "--pairs", "/nonexistent.csv"], "does not exist"),
    ],
)
def test_bad_input_is_one_clear_line(capsys, cli_env, args, message):
    code, _, err = run(capsys, *args, *cli_env)
    assert code == 2
    assert err.startswith("error:") and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "--user", "1", "--top", "0"],
        ["similar", "--title", "alien", "--top", "-3"],
        ["search", "space", "--top", "0"],
        ["recommend", "--all-users", "--top", "many"],
    ],
)
def test_top_must_be_at_least_one(capsys, args):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "--top" in err and "Traceback" not in err


def test_bad_data_folder(capsys, tmp_path):
    code, _, err = run(capsys, "status", "--data", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err
    (tmp_path / "movies.csv").write_text("movieId;title;genres\n1;A (1999);Drama\n")
    (tmp_path / "ratings.csv").write_text("userId;movieId;rating;timestamp\n1;1;4;0\n")
    env = {"MOVIE_ARTIFACTS": str(tmp_path / "art"), "MOVIE_TEXT_SOURCES": "0"}
    os.environ.update(env)
    try:
        code, _, err = run(capsys, "build", "--data", str(tmp_path))
    finally:
        for key in env:
            os.environ.pop(key)
    assert code == 2 and "error:" in err and "Traceback" not in err


def test_module_entry_point_exits_non_zero_without_traceback(cli_env, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "core", "recommend", "--user", "424242", *cli_env],
        cwd=Path(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "no ratings" in proc.stderr and "Traceback" not in proc.stderr


def test_rich_tables_on_a_terminal(capsys, cli_env, monkeypatch):
    import io

    from rich.console import Console

    import core.cli.commands as commands
    from core.cli.output import rich_section
    from core.evaluation.results import Section

    monkeypatch.setattr(commands, "terminal", lambda: Console(force_terminal=True, width=120))
    code, out, _ = run(capsys, "status", *cli_env)
    assert code == 0 and "component" in out and "fresh" in out and "┏" in out
    code, out, _ = run(capsys, "build", *cli_env)
    assert code == 0 and "Load report" in out and "up to date" in out
    section = Section("demo", "a protocol", [{"model": "a", "nDCG@10": 0.5}, {"model": "b"}])
    buffer = io.StringIO()
    rich_section(Console(file=buffer, width=100), section)
    text = buffer.getvalue()
    assert "demo" in text and "0.5000" in text and "a protocol" in text and "-" in text


def test_search_reads_the_request_as_a_chat_turn(capsys, cli_env):
    # "Title (year)" is the movie named, not a year filter; it is never recommended back.
    code, out, _ = run(capsys, "search", "Hi! I loved Alien (1979), what else?", "--json",
                       *cli_env)  # fmt: skip
    assert code == 0
    ids = [row["movieId"] for row in json.loads(out)["results"]]
    assert ids and 1 not in ids


def test_chat_holds_a_conversation_from_standard_input(capsys, cli_env, monkeypatch):
    import io

    lines = "hi\nI loved Alien (1979)\nseen the first one\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code, out, _ = run(capsys, "chat", "--json", *cli_env)
    assert code == 0
    answers = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [a["kind"] for a in answers] == ["smalltalk", "recommend", "refine"]
    assert answers[0]["suggestions"], "a vague turn gets suggestions"
    first = answers[1]["results"][0]["movieId"]
    assert first not in [r["movieId"] for r in answers[2]["results"]], "seen it is remembered"


OSC = "\x1b]0;pwned\x07"  # sets the terminal title


def test_search_understood_line_and_error_are_clean(capsys, cli_env) -> None:
    code = main(["search", f"{OSC}90s \x1b[31mcomedy\x1b[0m", "--top", "3", *cli_env])
    out, err = capsys.readouterr()
    assert code == 0 and "comedy" in out.lower()
    assert "\x1b" not in out + err and "\x07" not in out + err
    code = main(["similar", "--title", f"zzqx{OSC}", *cli_env])
    out, err = capsys.readouterr()
    assert code == 2 and "error:" in err and "\x1b" not in out + err and "\x07" not in err


def test_status_prints_what_the_build_chose(capsys, cli_env):
    code, out, _ = run(capsys, "status", *cli_env)
    assert code == 0
    assert "chosen on this data set's validation ratings:" in out
    assert "tuning: blend weights:" in out or "tuning: not tuned" in out
    (svd,) = [line for line in out.splitlines() if line.strip().startswith("svd: ")]
    assert "components ['svd', 'knn', 'user_knn', 'bmf']" in svd and "validation RMSE" in svd
    code, out, _ = run(capsys, "status", "--json", *cli_env)
    chosen = json.loads(out)["chosen"]
    assert {"tuning", "svd"} <= set(chosen) and "tuned" in chosen["tuning"]
