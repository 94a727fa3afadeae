"""Hostile input to the command line: batch files and ids, each answered by a clear message."""

from __future__ import annotations

import json
import re

import pytest

from core.cli import main
from core.cli.commands import parse_ratings
from core.data.layouts import HALF_STAR_SCALE, WHOLE_STAR_SCALE
from core.errors import WorkbenchError
from tests.cli.test_cli import run

BIG = 2**63 - 1


def test_queries_batch_names_each_bad_line_and_answers_the_rest(capsys, cli_env, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_bytes(
        b'\xef\xbb\xbf{"id": "a", "query": "space marines"}\n'
        b'{"query": 42}\n'
        b"not json\n"
        b"[1, 2]\n"
        b'{"id": 5}\n'
        b'{"query": "caf\xe9"}\n'
        b"\n"
        b'{"id": "b", "query": "romantic comedy"}\n'
        b'{"query": null}\n'
    )
    code, out, err = run(capsys, "search", "--queries", str(queries), "--top", "2", *cli_env)
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 2
    assert [a["id"] for a in answers] == ["a", "b"]
    assert all(len(a["movieIds"]) == 2 for a in answers)
    for expected in (
        f'{queries}:2: "query" must be text, got 42',
        f"{queries}:3: not JSON (Expecting value at column 1)",
        f'{queries}:4: expected a JSON object like {{"query": "..."}}, got [1, 2]',
        f'{queries}:5: no "query" field',
        f"{queries}:6: not UTF-8 text (byte 0xe9 at column 15)",
        f'{queries}:9: "query" must be text, got null',
        f"error: 6 bad lines in {queries} skipped",
    ):
        assert expected in err
    assert "Traceback" not in err


def test_queries_batch_of_good_lines_exits_zero(capsys, cli_env, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"query": "space marines"}\r\n{"query": "heist"}\r\n')
    code, out, err = run(capsys, "search", "--queries", str(queries), "--top", "1", *cli_env)
    assert code == 0 and len(out.splitlines()) == 2
    assert "error" not in err and "jsonl:" not in err


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1.5,1", "line 3: userId '1.5' is not a whole number"),
        ("1,2.7", "line 3: movieId '2.7' is not a whole number"),
        ("inf,1", "line 3: userId 'inf' is not a finite number"),
        ("1,-Infinity", "movieId '-Infinity' is not a finite number"),
        ("nan,nan", "userId 'nan' is not a finite number; movieId 'nan' is not a finite"),
        ("1e29,1", "userId '1e29' is outside the range of ids (64-bit integers)"),
        ("9223372036854775808,1", "is outside the range of ids"),
        ("1,-9223372036854775809", "movieId '-9223372036854775809' is outside the range"),
        ("1e999999999,1", "is outside the range of ids"),
    ],
)
def test_predict_rejects_ids_it_would_have_to_round_or_wrap(
    capsys, cli_env, tmp_path, row, message
):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"userId,movieId\n1,2\n{row}\n")
    code, out, err = run(capsys, "predict", "--pairs", str(pairs), *cli_env)
    assert code == 2 and not out
    assert err.startswith(f"error: {pairs}: ") and message in err and "Traceback" not in err


def test_predict_names_many_bad_lines_briefly(capsys, cli_env, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("userId,movieId\n" + "1.5,1\n" * 5)
    code, _, err = run(capsys, "predict", "--pairs", str(pairs), *cli_env)
    assert code == 2 and "line 2:" in err and "line 4:" in err and "line 5:" not in err
    assert "(and 2 more)" in err


def test_predict_keeps_whole_ids_exact_and_names_skipped_lines(capsys, cli_env, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"movieId,userId\n2,1\n\n3.0,1\n1,{BIG}\n1,x\n,2\n")
    code, out, err = run(capsys, "predict", "--pairs", str(pairs), "--json", *cli_env)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(r["userId"], r["movieId"]) for r in rows] == [(1, 2), (1, 3), (BIG, 1)]
    assert "skipped 2 rows with empty or non-numeric ids (line 6, 7)" in err


def test_predict_file_not_utf8_names_the_line(capsys, cli_env, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_bytes(b"userId,movieId\n1,2\n1,\xe9\n")
    code, _, err = run(capsys, "predict", "--pairs", str(pairs), *cli_env)
    assert code == 2 and f"{pairs}:3: not UTF-8 text (byte 0xe9)" in err


@pytest.mark.parametrize(
    ("scale", "text", "message"),
    [
        (HALF_STAR_SCALE, "1=4.3", "not on this catalogue's scale: half stars from 0.5 to 5"),
        (HALF_STAR_SCALE, "1=2.25", "not on this catalogue's scale"),
        (HALF_STAR_SCALE, "1=0", "outside this catalogue's scale 0.5-5"),
        (HALF_STAR_SCALE, "1=inf", "outside this catalogue's scale"),
        (WHOLE_STAR_SCALE, "1=4.5", "not on this catalogue's scale: whole stars from 1 to 5"),
        (WHOLE_STAR_SCALE, "1=0.5", "outside this catalogue's scale 1-5 (whole stars"),
        (HALF_STAR_SCALE, "1=4,1=5", "Movie 1 is rated twice"),
        (HALF_STAR_SCALE, "1.5=4", "Cannot read rating"),
        (HALF_STAR_SCALE, "1=4=5", "Cannot read rating"),
        (HALF_STAR_SCALE, f"{2**63}=4", "outside the range of ids"),
        (HALF_STAR_SCALE, " , ", "at least one"),
    ],
)
def test_rate_accepts_only_ratings_the_loader_would_keep(scale, text, message):
    with pytest.raises(WorkbenchError, match=re.escape(message)):
        parse_ratings(text, scale)


@pytest.mark.parametrize(
    ("scale", "text", "expected"),
    [
        (HALF_STAR_SCALE, "1=4.5, 2=0.5,3=5", {1: 4.5, 2: 0.5, 3: 5.0}),
        (WHOLE_STAR_SCALE, "1=1,2=5.0", {1: 1.0, 2: 5.0}),
    ],
)
def test_rate_reads_ratings_on_the_scale(scale, text, expected):
    assert parse_ratings(text, scale) == expected


def test_rate_off_step_is_a_clear_cli_error(capsys, cli_env):
    code, _, err = run(capsys, "recommend", "--rate", "1=4.3", *cli_env)
    assert code == 2 and "not on this catalogue's scale: half stars" in err


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "--user", str(2**63)],
        ["recommend", "--user", "-99999999999999999999"],
        ["search", "space", "--user", "1" + "0" * 29],
        ["recommend", "--user", "1.5"],
    ],
)
def test_user_outside_int64_is_an_argument_error(capsys, args):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2 and "--user" in err and "Traceback" not in err
    assert "outside the range of ids" in err or "whole-number id" in err


def test_largest_user_id_is_not_wrapped(capsys, cli_env):
    code, _, err = run(capsys, "recommend", "--user", str(BIG), *cli_env)
    assert code == 2 and f"User {BIG} has no ratings" in err
