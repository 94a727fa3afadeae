"""The command line's arguments: one sub-command per operation, grouped by purpose.

Only argparse definitions live here; what each command does is :mod:`core.cli.commands`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (``--top 0`` would list nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def int64_id(text: str) -> int:
    """An argparse type: a whole-number id that fits the 64-bit ids of the data."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole-number id, got {text!r}") from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise argparse.ArgumentTypeError(f"{value} is outside the range of ids (64-bit integers)")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m core`` parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="python -m core", description="Movie recommendation workbench (core engine)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _data_commands(sub)
    _answer_commands(sub)
    _quality_commands(sub)
    return parser


def add_common(p: argparse.ArgumentParser, top: bool = True) -> None:
    """``--data``, ``--json`` and (for commands that list movies) ``--top``."""
    p.add_argument(
        "--data",
        default=None,
        help="MovieLens folder (ml-100k, ml-1m, ml-latest-small, ml-25m, ml-32m layouts); "
        "default: the built-in snapshot",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    if top:
        p.add_argument("--top", type=positive_int, default=10, help="how many movies (default 10)")


def _data_commands(sub: Any) -> None:
    """Building, checking and generating data sets."""
    p = sub.add_parser("build", help="build or refresh the artifacts of a data set")
    add_common(p, top=False)
    p.add_argument("--force", action="store_true", help="rebuild everything")
    p.add_argument(
        "--no-tune",
        action="store_true",
        help="keep the built-in defaults instead of tuning the collaborative model and the "
        "blend weights on a validation split of this data set's ratings",
    )
    p.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="train the ALS ranker and the popularity aggregates locally or with Apache Spark "
        "(pyspark + Java; see docs/scaling.md)",
    )
    p.add_argument(
        "--spark-master",
        metavar="URL",
        default="local[*]",
        help="Spark master for --engine spark: local[*] (default), local[2], "
        "spark://host:7077, yarn",
    )

    p = sub.add_parser("prune", help="remove the artifacts of data folders that no longer exist")
    p.add_argument("--dry-run", action="store_true", help="list them, remove nothing")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("status", help="say whether the artifacts are up to date")
    add_common(p, top=False)

    p = sub.add_parser("synth", help="write a synthetic MovieLens-style folder (benchmarks only)")
    p.add_argument("--users", type=int, required=True, help="number of users")
    p.add_argument("--movies", type=int, required=True, help="number of movies")
    p.add_argument("--ratings", type=int, required=True, help="number of ratings")
    p.add_argument("--tags", type=int, default=None, help="tag rows (default: 4%% of ratings)")
    p.add_argument(
        "--out", type=Path, required=True, help="new or empty folder, or an earlier synth output"
    )
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _answer_commands(sub: Any) -> None:
    """The operations that answer with movies or ratings."""
    p = sub.add_parser("recommend", help="personal picks for a user")
    add_common(p)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=int64_id, help="user id")
    who.add_argument("--all-users", action="store_true", help="one JSON line per user")
    who.add_argument(
        "--rate",
        metavar="ID=RATING,...",
        help="a new user's ratings, folded in without retraining, e.g. 1=5,260=4.5",
    )
    p.add_argument("--include-rated", action="store_true", help="allow already rated movies")
    p.add_argument(
        "--model",
        choices=("blend", "twotower"),
        default="blend",
        help="rank with the blend of signals (default) or the two-tower model alone",
    )

    p = sub.add_parser("similar", help="movies like a named movie (typos are fine)")
    add_common(p)
    p.add_argument("--title", required=True, help='e.g. "usual suspects"')

    p = sub.add_parser(
        "chat", help="a conversation in the terminal (one message a line), as on the Ask page"
    )
    add_common(p)
    p.add_argument("--user", type=int, default=None, help="personalise for this user")

    p = sub.add_parser(
        "search", help="answer a request as the first message of a chat (or a file of them)"
    )
    add_common(p)
    p.add_argument("text", nargs="?", help='e.g. "90s space adventure, no horror"')
    p.add_argument(
        "--queries",
        type=Path,
        help='JSONL file with {"query": ...} per line (and an optional "id"): one JSON answer '
        "per good line; each bad line is reported on stderr as FILE:LINE and skipped, and the "
        "exit status is then 2",
    )
    p.add_argument("--user", type=int64_id, default=None, help="re-rank for this user")
    p.add_argument(
        "--clusters",
        type=int,
        default=0,
        metavar="N",
        help="two-stage search: only the N genre clusters nearest the request (default: off)",
    )

    p = sub.add_parser(
        "predict", help="predicted ratings (stacked SVD + kNN) for (userId, movieId) pairs"
    )
    add_common(p, top=False)
    p.add_argument(
        "--pairs",
        type=Path,
        required=True,
        help="CSV with userId,movieId columns of whole-number ids; rows with an empty or "
        "non-numeric id are skipped with a note, fractional, infinite or out-of-range ids "
        "are an error naming the line",
    )


def _quality_commands(sub: Any) -> None:
    """Offline evaluation and training of the search models."""
    p = sub.add_parser(
        "evaluate", help="offline quality: rating, ranking, search and the extra models"
    )
    add_common(p, top=False)
    p.add_argument(
        "--parts",
        default=None,
        help="comma-separated subset of rating,ranking,search,models,chat (default: all, or all "
        "but models with --quick; models = two-tower retrieval and rating, cold start, ANN "
        "recall, director & cast and TMDB metadata in the blend, genre-cluster search; chat = "
        "the everyday chat on --requests)",
    )
    p.add_argument(
        "--queries",
        type=Path,
        default=None,
        help='JSONL with {"query": ..., "movieId": ...} per line (needed for search)',
    )
    p.add_argument(
        "--requests",
        type=Path,
        default=None,
        help='chat requests, JSONL with {"query": ..., "answers": [movieId, ...], "seeds": '
        "[...]} per line, as in ReDial-style files (needed for chat)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes instead of the better part of an hour: 2 rating folds instead of 5, "
        "a seeded sample of 200 users for ranking and of 300 requests for search (the "
        "protocols say so); the models part is skipped unless --parts names it",
    )
    p.add_argument(
        "--save-reference",
        action="store_true",
        help="also write the results, with the date, command, machine and git commit, as the "
        "reference results shipped in core/resources/reference/<dataset>/ (maintainers)",
    )

    p = sub.add_parser(
        "tune-search",
        help="train the search re-ranker and its request-vector adapter on requests with "
        "known answers (prints held-out cross-validated figures)",
    )
    add_common(p, top=False)
    p.add_argument(
        "--queries", type=Path, required=True, help='JSONL with {"query": ..., "movieId": ...}'
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the re-ranker "
        "(default: the shipped core/resources/search_reranker.json)",
    )
    p.add_argument(
        "--adapter-out",
        type=Path,
        default=None,
        help="where to write the adapter (default: the shipped core/resources/search_adapter.npz, "
        "or beside --out as <name>.adapter.npz when --out is given)",
    )
