"""Command line: ``python -m core build|status|recommend|similar|search|predict``.

Readable tables (rich) on a terminal, JSON with ``--json``; batch forms print one JSON line per
user or query for evaluation scripts. Bad input prints one clear line and exits with status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import Settings
from core.errors import DataError, WorkbenchError

EXIT_BAD_INPUT = 2


def _positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (``--top 0`` would list nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core", description="Movie recommendation workbench (core engine)."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, top: bool = True) -> None:
        p.add_argument(
            "--data",
            default=None,
            help="MovieLens folder (ml-100k, ml-1m, ml-latest-small, ml-25m, ml-32m layouts); "
            "default: the built-in snapshot",
        )
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if top:
            p.add_argument(
                "--top", type=_positive_int, default=10, help="how many movies (default 10)"
            )

    p = sub.add_parser("build", help="build or refresh the artifacts of a data set")
    common(p, top=False)
    p.add_argument("--force", action="store_true", help="rebuild everything")
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

    p = sub.add_parser("status", help="say whether the artifacts are up to date")
    common(p, top=False)

    p = sub.add_parser("recommend", help="personal picks for a user")
    common(p)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=int, help="user id")
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
    common(p)
    p.add_argument("--title", required=True, help='e.g. "usual suspects"')

    p = sub.add_parser("search", help="natural-language search")
    common(p)
    p.add_argument("text", nargs="?", help='e.g. "90s space adventure, no horror"')
    p.add_argument("--queries", type=Path, help='JSONL file with {"query": ...} per line')
    p.add_argument("--user", type=int, default=None, help="re-rank for this user")
    p.add_argument(
        "--clusters",
        type=int,
        default=0,
        metavar="N",
        help="two-stage search: only the N genre clusters nearest the request (default: off)",
    )

    p = sub.add_parser(
        "evaluate", help="offline quality: rating, ranking, search and the extra models"
    )
    common(p, top=False)
    p.add_argument(
        "--parts",
        default="rating,ranking,search,models",
        help="comma-separated subset of rating,ranking,search,models (default: all; models = "
        "two-tower retrieval and rating, cold start, ANN recall, director & cast and TMDB "
        "metadata in the blend, genre-cluster search)",
    )
    p.add_argument(
        "--queries",
        type=Path,
        default=None,
        help='JSONL with {"query": ..., "movieId": ...} per line (needed for search)',
    )

    p = sub.add_parser(
        "tune-search",
        help="train the search re-ranker and its request-vector adapter on requests with "
        "known answers (prints held-out cross-validated figures)",
    )
    common(p, top=False)
    p.add_argument(
        "--queries", type=Path, required=True, help='JSONL with {"query": ..., "movieId": ...}'
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the re-ranker (default: the shipped core/resources/search_reranker.json)",
    )
    p.add_argument(
        "--adapter-out",
        type=Path,
        default=None,
        help="where to write the adapter (default: the shipped core/resources/search_adapter.npz, "
        "or beside --out as <name>.adapter.npz when --out is given)",
    )

    p = sub.add_parser(
        "predict", help="predicted ratings (stacked SVD + kNN) for (userId, movieId) pairs"
    )
    common(p, top=False)
    p.add_argument("--pairs", type=Path, required=True, help="CSV with userId,movieId columns")

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
    return parser


def _progress_printer(enabled: bool) -> Any:
    last = [""]

    def show(message: str, fraction: float) -> None:
        if enabled and message != last[0]:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)
            last[0] = message

    return show


def _open(args: argparse.Namespace) -> Any:
    from core.serving.engine import Engine

    return Engine.open(args.data, Settings(), progress=_progress_printer(not args.json))


def _print_table(frame: pd.DataFrame, title: str, *, use_json: bool) -> None:
    if use_json:
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        print(json.dumps({"title": title, "results": records}, default=str))
        return
    columns = [
        c
        for c in ("movieId", "title", "year", "genres", "predicted_rating", "score", "reason")
        if c in frame.columns
    ]
    shown = frame[columns].copy()
    if "predicted_rating" in shown and shown["predicted_rating"].isna().all():
        shown = shown.drop(columns="predicted_rating")
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for col in shown.columns:
            table.add_column(col, overflow="fold", justify="right" if col != "title" else "left")
        for row in shown.itertuples(index=False):
            table.add_row(*(_fmt(v) for v in row))
        Console().print(table)
    else:
        print(title)
        print(shown.to_string(index=False, formatters=_formatters(shown)))


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _formatters(frame: pd.DataFrame) -> dict[str, Any]:
    return {c: _fmt for c in frame.columns if frame[c].dtype.kind == "f"}


# -- rich output on a terminal ----------------------------------------------------------------
def _console() -> Any | None:
    """A rich console when stdout is a terminal; ``None`` for pipes and files (plain text)."""
    if not sys.stdout.isatty():
        return None
    from rich.console import Console

    return Console()


def _rich_build(console: Any, result: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    if result.report:
        console.print(Panel(Text(result.report.summary()), title="Load report", expand=False))
    table = Table(title=f"Artifacts of {result.dataset}")
    table.add_column("component")
    table.add_column("state")
    table.add_column("seconds", justify="right")
    for name, seconds in result.built.items():
        table.add_row(name, "[green]built[/]", f"{seconds:.2f}")
    for name in result.reused:
        table.add_row(name, "up to date", "-")
    console.print(table)
    console.print(f"total {result.seconds:.2f} s  ->  artifacts/{result.dataset}")


def _rich_status(console: Any, status: Any) -> None:
    from rich.table import Table

    age = f"built {status.manifest.age_seconds() / 60:.0f} min ago" if status.manifest else None
    table = Table(title=f"Artifacts of {status.dataset}", caption=age)
    table.add_column("component")
    table.add_column("state")
    table.add_column("why", overflow="fold")
    for name in status.fresh:
        table.add_row(name, "[green]fresh[/]", "")
    for name, why in status.stale.items():
        table.add_row(name, "[yellow]stale[/]", why)
    console.print(table)
    console.print(status.describe().splitlines()[0])


def _rich_section(console: Any, section: Any) -> None:
    """One evaluation section as a rich table, its protocol above and its choices below."""
    from rich.table import Table
    from rich.text import Text

    columns: list[str] = []
    for row in section.rows:
        columns.extend(c for c in row if c not in columns)
    table = Table(title=f"{section.name} ({section.seconds:.0f} s)", title_justify="left")
    for column in columns:
        numeric = any(isinstance(r.get(column), int | float) for r in section.rows)
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in section.rows:
        table.add_row(*(_metric(row.get(c)) for c in columns))
    console.print(Text(section.protocol, style="dim"))
    console.print(table)
    if section.chosen:
        console.print(Text("chosen: " + json.dumps(section.chosen, default=str), style="dim"))
    console.print()


def _metric(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4f}" if isinstance(value, float) else f"{value:,}"


def _parse_ratings(text: str, scale: tuple[float, float] = (0.5, 5.0)) -> dict[int, float]:
    """``"1=5,260=4.5"`` as ``{movieId: rating}``, each rating within the catalogue's ``scale``."""
    low, high = (float(v) for v in scale)
    ratings: dict[int, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            movie, rating = part.split("=")
            ratings[int(movie)] = float(rating)
        except ValueError as err:
            raise WorkbenchError(f"Cannot read rating {part!r}; use MOVIEID=RATING,...") from err
        value = ratings[int(movie)]
        if not (math.isfinite(value) and low <= value <= high):
            raise WorkbenchError(
                f"Rating {part.strip()!r} is outside this catalogue's scale {low:g}-{high:g}."
            )
    if not ratings:
        raise WorkbenchError("--rate needs at least one MOVIEID=RATING pair.")
    return ratings


def _cmd_build(args: argparse.Namespace) -> int:
    from core.serving.engine import build

    result = build(
        args.data,
        Settings(),
        force=args.force,
        progress=_progress_printer(True),
        engine=args.engine,
        spark_master=args.spark_master,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "dataset": result.dataset,
                    "built": result.built,
                    "reused": result.reused,
                    "seconds": result.seconds,
                    "report": result.report.to_dict() if result.report else None,
                }
            )
        )
        return 0
    console = _console()
    if console is not None:
        _rich_build(console, result)
        return 0
    if result.report:
        print(result.report.summary())
    for name, seconds in result.built.items():
        print(f"built {name:<11} {seconds:7.2f} s")
    if result.reused:
        print(f"up to date: {', '.join(result.reused)}")
    print(f"total {result.seconds:.2f} s  ->  artifacts/{result.dataset}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from core.serving.engine import check

    status = check(args.data, Settings())
    if args.json:
        print(json.dumps({"dataset": status.dataset, "fresh": status.fresh, "stale": status.stale}))
    elif (console := _console()) is not None:
        _rich_status(console, status)
    else:
        print(status.describe())
        if status.manifest:
            age = status.manifest.age_seconds() / 60
            print(f"built {age:.0f} min ago")
    return 0 if status.up_to_date else 1


def _cmd_recommend(args: argparse.Namespace) -> int:
    from core.serving.blend import Filters

    engine = _open(args)
    filters = Filters(exclude_rated=not args.include_rated)
    if args.all_users:
        for user in engine.catalog.user_ids.tolist():
            picks = engine.recommend(int(user), filters=filters, top=args.top, model=args.model)
            print(json.dumps({"userId": int(user), "movieIds": picks.items["movieId"].tolist()}))
        return 0
    scale = engine.catalog.report.rating_scale
    ratings = _parse_ratings(args.rate, scale) if args.rate else None
    result = engine.recommend(args.user, ratings, filters=filters, top=args.top, model=args.model)
    who = f"user {args.user}" if args.user is not None else "your ratings"
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    _print_table(result.items, f"Picks for {who}", use_json=args.json)
    return 0


def _cmd_similar(args: argparse.Namespace) -> int:
    engine = _open(args)
    result = engine.similar(args.title, top=args.top)
    anchor = result.anchor.title if result.anchor else args.title
    _print_table(result.items, f"Movies like {anchor}", use_json=args.json)
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    if not args.text and not args.queries:
        raise WorkbenchError("Give a request text or --queries FILE.jsonl.")
    engine = _open(args)
    if args.queries:
        if not args.queries.is_file():
            raise DataError(f"Query file {args.queries} does not exist.")
        for number, line in enumerate(args.queries.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = record["query"]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise DataError(f'{args.queries}:{number}: expected {{"query": ...}}') from err
            out: dict[str, Any] = {"query": text}
            if "id" in record:
                out["id"] = record["id"]
            try:
                answer = engine.search(
                    text, top=args.top, user_id=args.user, clusters=args.clusters
                )
                out["movieIds"] = answer.items["movieId"].tolist()
            except WorkbenchError as err:
                out["movieIds"], out["error"] = [], str(err)
            print(json.dumps(out))
        return 0
    answer = engine.search(args.text, top=args.top, user_id=args.user, clusters=args.clusters)
    if not args.json:
        print(answer.reply())
        for note in answer.notes:
            print(f"note: {note}")
    _print_table(answer.items, f"Results for {args.text!r}", use_json=args.json)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    if not args.pairs.is_file():
        raise DataError(f"Pairs file {args.pairs} does not exist.")
    try:
        pairs = pd.read_csv(args.pairs)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(f"Cannot read {args.pairs}: {err}") from err
    missing = {"userId", "movieId"} - set(pairs.columns)
    if missing:
        raise DataError(f"{args.pairs} needs columns userId,movieId (missing {sorted(missing)}).")
    pairs = pairs[["userId", "movieId"]].apply(pd.to_numeric, errors="coerce")
    bad = int(pairs.isna().any(axis=1).sum())
    if bad:
        print(f"note: skipped {bad} rows with non-numeric ids", file=sys.stderr)
    pairs = pairs.dropna().astype("int64")
    engine = _open(args)
    frames = []
    for user, group in pairs.groupby("userId", sort=False):
        frame = engine.predict(int(user), group["movieId"].tolist())
        frame.insert(0, "userId", int(user))
        frames.append(frame)
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if args.json:
        for record in result.to_dict(orient="records"):
            print(json.dumps(record, default=str))
    else:
        print(result.to_string(index=False))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from core.evaluation.results import format_section
    from core.evaluation.runner import PARTS, run
    from core.evaluation.targets import target_rows

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise WorkbenchError(f"Unknown part(s) {unknown}; choose from {', '.join(PARTS)}.")
    if args.queries is not None and not args.queries.is_file():
        raise DataError(f"Query file {args.queries} does not exist.")
    if "search" in parts and args.queries is None:
        print("note: no --queries file given, skipping the search part", file=sys.stderr)
    if "models" in parts and args.queries is None:
        print("note: no --queries file given, skipping the genre-cluster search", file=sys.stderr)
    sections = run(
        args.data, Settings(), parts=parts, queries=args.queries,
        progress=_progress_printer(not args.json),
    )  # fmt: skip
    if args.json:
        payload = {name: s.to_dict() for name, s in sections.items()}
        print(json.dumps({**payload, "targets": target_rows(sections)}, default=float))
    elif (console := _console()) is not None:
        for section in sections.values():
            _rich_section(console, section)
    else:
        for section in sections.values():
            print(format_section(section), end="\n\n")
    if not args.json and (targets := target_rows(sections)):
        print("== targets (set for ml-latest-small and the tomt-movies requests)")
        for row in targets:
            mark = "met" if row["met"] else "NOT met"
            print(f"{row['measure']:<28} {row['target']:>8}  {row['measured']:.4f}  {mark}"
                  f"  ({row['row']})")  # fmt: skip
    return 0


def _cmd_tune_search(args: argparse.Namespace) -> int:
    from core.search import adapter
    from core.search import rerank
    from core.serving.engine import Engine
    from core.evaluation.results import format_section
    from core.evaluation.search import train_search_reranker

    if not args.queries.is_file():
        raise DataError(f"Query file {args.queries} does not exist.")
    out = args.out or rerank.DEFAULT_PATH
    adapter_out = args.adapter_out or (
        adapter.DEFAULT_PATH if args.out is None else out.with_suffix(".adapter.npz")
    )
    progress = _progress_printer(not args.json)
    engine = Engine.open(args.data, Settings(), progress=progress)
    try:
        models, section = train_search_reranker(
            engine, args.queries, out, adapter_out, progress=progress
        )
    except ValueError as err:
        raise DataError(str(err)) from None
    if args.json:
        payload = {"model": models.reranker.to_dict(), "search": section.to_dict()}
        if models.adapter is not None:
            payload["adapter"] = models.adapter.trained_on
        print(json.dumps(payload, default=float))
    else:
        print(format_section(section))
        print(f"re-ranker written to {out}")
        if models.adapter is not None:
            print(f"adapter written to {adapter_out}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from core.data.synth import generate

    summary = generate(
        args.out, users=args.users, movies=args.movies, ratings=args.ratings, tags=args.tags,
        seed=args.seed, progress=_progress_printer(not args.json),
    )  # fmt: skip
    print(json.dumps(summary.to_dict()) if args.json else summary.line())
    return 0


COMMANDS = {
    "build": _cmd_build,
    "status": _cmd_status,
    "recommend": _cmd_recommend,
    "similar": _cmd_similar,
    "search": _cmd_search,
    "predict": _cmd_predict,
    "evaluate": _cmd_evaluate,
    "tune-search": _cmd_tune_search,
    "synth": _cmd_synth,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    try:
        status = COMMANDS[args.command](args)
    except WorkbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    if args.command in ("build",) and not getattr(args, "json", False):
        print(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return status
