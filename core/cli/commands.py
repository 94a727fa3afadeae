"""What each ``python -m core`` command does: parse its arguments' values, call the engine,
print through :mod:`core.cli.output`. Bad input raises a :class:`~core.errors.WorkbenchError`.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from core.cli.output import (
    print_table,
    progress_printer,
    rich_build,
    rich_section,
    rich_status,
    terminal,
)
from core.config import BUILTIN_DATA, Settings
from core.errors import DataError, WorkbenchError


def open_engine(args: argparse.Namespace) -> Any:
    from core.serving.engine import Engine

    return Engine.open(args.data, Settings(), progress=progress_printer(not args.json))


def parse_ratings(text: str, scale: tuple[float, float] = (0.5, 5.0)) -> dict[int, float]:
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
    from core.serving.build import build

    result = build(
        args.data,
        Settings(),
        force=args.force,
        progress=progress_printer(True),
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
    console = terminal()
    if console is not None:
        rich_build(console, result)
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
    from core.serving.staleness import check

    status = check(args.data, Settings())
    if args.json:
        print(json.dumps({"dataset": status.dataset, "fresh": status.fresh, "stale": status.stale}))
    elif (console := terminal()) is not None:
        rich_status(console, status)
    else:
        print(status.describe())
        if status.manifest:
            age = status.manifest.age_seconds() / 60
            print(f"built {age:.0f} min ago")
    return 0 if status.up_to_date else 1


def _cmd_recommend(args: argparse.Namespace) -> int:
    from core.serving.blend import Filters

    engine = open_engine(args)
    filters = Filters(exclude_rated=not args.include_rated)
    if args.all_users:
        for user in engine.catalog.user_ids.tolist():
            picks = engine.recommend(int(user), filters=filters, top=args.top, model=args.model)
            print(json.dumps({"userId": int(user), "movieIds": picks.items["movieId"].tolist()}))
        return 0
    scale = engine.catalog.report.rating_scale
    ratings = parse_ratings(args.rate, scale) if args.rate else None
    result = engine.recommend(args.user, ratings, filters=filters, top=args.top, model=args.model)
    who = f"user {args.user}" if args.user is not None else "your ratings"
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print_table(result.items, f"Picks for {who}", use_json=args.json)
    return 0


def _cmd_similar(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    result = engine.similar(args.title, top=args.top)
    anchor = result.anchor.title if result.anchor else args.title
    print_table(result.items, f"Movies like {anchor}", use_json=args.json)
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    if not args.text and not args.queries:
        raise WorkbenchError("Give a request text or --queries FILE.jsonl.")
    engine = open_engine(args)
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
    print_table(answer.items, f"Results for {args.text!r}", use_json=args.json)
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
    engine = open_engine(args)
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
    from core.evaluation.reference import git_commit, machine
    from core.evaluation.results import format_section
    from core.evaluation.runner import PARTS, run
    from core.evaluation.targets import target_rows

    if args.parts is None:
        # The models part is not reduced by --quick and alone exceeds its budget.
        parts = [p for p in PARTS if not (args.quick and p == "models")]
    else:
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
    context = {**machine(), "git_commit": git_commit()} if args.save_reference else {}
    started = (time.perf_counter(), _cpu_seconds(), context)
    sections = run(
        args.data, Settings(), parts=parts, queries=args.queries, quick=args.quick,
        progress=progress_printer(not args.json),
    )  # fmt: skip
    if args.save_reference:
        _save_reference(args, parts, sections, started)
    if args.json:
        payload = {name: s.to_dict() for name, s in sections.items()}
        print(json.dumps({**payload, "targets": target_rows(sections)}, default=float))
    elif (console := terminal()) is not None:
        for section in sections.values():
            rich_section(console, section)
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


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _save_reference(
    args: argparse.Namespace, parts: list[str], sections: dict[str, Any], started: tuple
) -> None:
    """Write ``sections`` as the shipped reference results of the data set just evaluated."""
    from core.evaluation.reference import save_reference

    if not sections:
        raise WorkbenchError("Nothing was measured, so no reference results were written.")
    dataset = next(iter(sections.values())).dataset or (
        BUILTIN_DATA if args.data is None else Path(args.data).name
    )
    command = " ".join(
        ["python -m core evaluate"]
        + ([f"--data {shlex.quote(str(args.data))}"] if args.data else [])
        + ([f"--parts {','.join(parts)}"] if args.parts is not None else [])
        + ([f"--queries {shlex.quote(str(args.queries))}"] if args.queries else [])
        + (["--quick"] if args.quick else [])
    )
    folder = save_reference(
        sections, dataset, command=command, started=started[2],
        wall_seconds=time.perf_counter() - started[0], cpu_seconds=_cpu_seconds() - started[1],
    )  # fmt: skip
    print(f"reference results written to {folder}", file=sys.stderr)


def _cmd_tune_search(args: argparse.Namespace) -> int:
    from core.evaluation.results import format_section
    from core.evaluation.search import train_search_reranker
    from core.search import adapter, rerank
    from core.serving.engine import Engine

    if not args.queries.is_file():
        raise DataError(f"Query file {args.queries} does not exist.")
    out = args.out or rerank.DEFAULT_PATH
    adapter_out = args.adapter_out or (
        adapter.DEFAULT_PATH if args.out is None else out.with_suffix(".adapter.npz")
    )
    progress = progress_printer(not args.json)
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
        seed=args.seed, progress=progress_printer(not args.json),
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
