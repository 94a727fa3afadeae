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

from core.cli.batch import query_lines, read_pairs
from core.cli.output import (
    print_answer,
    print_table,
    progress_printer,
    rich_build,
    rich_section,
    rich_status,
    say,
    terminal,
)
from core.cli.parser import INT64_MAX, INT64_MIN
from core.config import BUILTIN_DATA, Settings
from core.data.layouts import rating_step
from core.errors import DataError, EmptyQuery, UnknownUser, WorkbenchError


def open_engine(args: argparse.Namespace) -> Any:
    from core.serving.engine import Engine

    return Engine.open(args.data, Settings(), progress=progress_printer(not args.json))


def parse_ratings(text: str, scale: tuple[float, float] = (0.5, 5.0)) -> dict[int, float]:
    """``"1=5,260=4.5"`` as ``{movieId: rating}``, each rating on the catalogue's ``scale`` and
    step (half stars, or whole stars for ml-100k and ml-1m), as the loader keeps them."""
    low, high = (float(v) for v in scale)
    step = rating_step(scale)
    stars = "whole stars" if step == 1 else "half stars"
    ratings: dict[int, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        movie_text, _, rating_text = part.partition("=")
        try:
            movie, value = int(movie_text), float(rating_text)
        except ValueError as err:
            raise WorkbenchError(f"Cannot read rating {part!r}; use MOVIEID=RATING,...") from err
        if not INT64_MIN <= movie <= INT64_MAX:
            raise WorkbenchError(f"Movie id {movie} in --rate is outside the range of ids.")
        if not (math.isfinite(value) and low <= value <= high):
            raise WorkbenchError(
                f"Rating {part.strip()!r} is outside this catalogue's scale {low:g}-{high:g} "
                f"({stars})."
            )
        if math.fmod(value, step):
            raise WorkbenchError(
                f"Rating {part.strip()!r} is not on this catalogue's scale: {stars} from "
                f"{low:g} to {high:g}."
            )
        if movie in ratings:
            raise WorkbenchError(f"Movie {movie} is rated twice in --rate.")
        ratings[movie] = value
    if not ratings:
        raise WorkbenchError("--rate needs at least one MOVIEID=RATING pair.")
    return ratings


def _cmd_build(args: argparse.Namespace) -> int:
    from core.serving.build import build

    result = build(
        args.data,
        Settings(tune=not args.no_tune),
        force=args.force,
        progress=progress_printer(True),
        engine=args.engine,
        spark_master=args.spark_master,
    )
    if args.json:
        say(
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
        say(result.report.summary())
    for name, seconds in result.built.items():
        say(f"built {name:<11} {seconds:7.2f} s")
    if result.reused:
        say(f"up to date: {', '.join(result.reused)}")
    say(f"total {result.seconds:.2f} s  ->  artifacts/{result.dataset}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from core.serving.choices import chosen, chosen_lines
    from core.serving.staleness import check

    status = check(args.data, Settings())
    if args.json:
        say(json.dumps({"dataset": status.dataset, "fresh": status.fresh, "stale": status.stale,
                        "chosen": chosen(status.manifest)}))  # fmt: skip
        return 0 if status.up_to_date else 1
    if (console := terminal()) is not None:
        rich_status(console, status)
    else:
        say(status.describe())
        if status.manifest:
            age = status.manifest.age_seconds() / 60
            say(f"built {age:.0f} min ago")
    lines = chosen_lines(status.manifest)
    if lines:
        say("chosen on this data set's validation ratings:")
        for line in lines:
            say(f"  {line}")
    return 0 if status.up_to_date else 1


def _cmd_prune(args: argparse.Namespace) -> int:
    from core.serving.prune import prune

    removed = prune(Settings().artifacts_dir, dry_run=args.dry_run)
    if args.json:
        say(json.dumps([{"folder": str(o.folder), "source": o.source, "bytes": o.bytes}
                        for o in removed]))  # fmt: skip
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for orphan in removed:
        say(f"{verb} {orphan.folder.name} ({orphan.bytes / 1e6:,.0f} MB; {orphan.source} is gone)")
    total = sum(o.bytes for o in removed) / 1e6
    say(f"{len(removed)} folder(s), {total:,.0f} MB" if removed else "nothing to prune")
    return 0


def _cmd_recommend(args: argparse.Namespace) -> int:
    from core.serving.blend import Filters

    engine = open_engine(args)
    filters = Filters(exclude_rated=not args.include_rated)
    if args.all_users:
        for user in engine.catalog.user_ids.tolist():
            picks = engine.recommend(int(user), filters=filters, top=args.top, model=args.model)
            say(json.dumps({"userId": int(user), "movieIds": picks.items["movieId"].tolist()}))
        return 0
    scale = engine.catalog.report.rating_scale
    ratings = parse_ratings(args.rate, scale) if args.rate else None
    result = engine.recommend(args.user, ratings, filters=filters, top=args.top, model=args.model)
    who = f"user {args.user}" if args.user is not None else "your ratings"
    for note in result.notes:
        say(f"note: {note}", file=sys.stderr)
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
    if args.text is not None and not args.text.strip():
        raise EmptyQuery()
    from core.chat import Chat

    engine = open_engine(args)
    if args.user is not None and not engine.known_user(args.user):
        raise UnknownUser(args.user, engine.catalog.user_ids[:5].tolist())
    # Each request is the first turn of a conversation, read as the Ask page reads it.
    chat = Chat(engine)
    if args.queries:
        return _search_batch(args, chat)
    answer = chat.respond(args.text, None, args.user, args.top, clusters=args.clusters)
    if not args.json:
        say(answer.reply)
        for note in answer.notes:
            say(f"note: {note}")
        if answer.suggestions:
            say("try: " + " | ".join(answer.suggestions))
    print_table(answer.items, f"Results for {args.text!r}", use_json=args.json)
    return 0


def _search_batch(args: argparse.Namespace, chat: Any) -> int:
    """One JSON answer per good line of ``--queries``; bad lines are named on stderr and make
    the exit status 2."""
    bad = 0
    for number, record, problem in query_lines(args.queries):
        if record is None:
            bad += 1
            say(f"{args.queries}:{number}: {problem}", file=sys.stderr)
            continue
        out: dict[str, Any] = {"query": record["query"]}
        if "id" in record:
            out["id"] = record["id"]
        try:
            text = record["query"]
            if not text.strip():
                raise EmptyQuery()
            # Each request is the first turn of a fresh conversation.
            answer = chat.respond(text, None, args.user, args.top, clusters=args.clusters)
            out["movieIds"] = answer.items["movieId"].tolist()
        except WorkbenchError as err:
            out["movieIds"], out["error"] = [], str(err)
        say(json.dumps(out))
    if bad:
        say(
            f"error: {bad} bad line{'s' if bad != 1 else ''} in {args.queries} skipped",
            file=sys.stderr,
        )
        return 2
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    """A conversation in the terminal: one message a line, the same answers as the Ask page."""
    from core.chat import Chat, Conversation

    engine = open_engine(args)
    if args.user is not None and not engine.known_user(args.user):
        raise UnknownUser(args.user, engine.catalog.user_ids[:5].tolist())
    conversation = Conversation(Chat(engine), user_id=args.user)
    interactive = sys.stdin.isatty()
    if interactive:
        say("Tell me what you feel like watching (an empty line or Ctrl-D ends).")
    while True:
        try:
            text = input("you> " if interactive else "")
        except EOFError:
            break
        if not text.strip() or text.strip().lower() in ("quit", "exit", "bye"):
            break
        answer = conversation.say(text, top=args.top)
        print_answer(answer, use_json=args.json)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    pairs = read_pairs(args.pairs)
    engine = open_engine(args)
    frames = []
    for user, group in pairs.groupby("userId", sort=False):
        frame = engine.predict(int(user), group["movieId"].tolist())
        frame.insert(0, "userId", int(user))
        frames.append(frame)
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if args.json:
        for record in result.to_dict(orient="records"):
            say(json.dumps(record, default=str))
    else:
        say(result.to_string(index=False))
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
    for path in (args.queries, args.requests):
        if path is not None and not path.is_file():
            raise DataError(f"File {path} does not exist.")
    if "chat" in parts and args.requests is None:
        say("note: no --requests file given, skipping the chat part", file=sys.stderr)
    if "search" in parts and args.queries is None:
        say("note: no --queries file given, skipping the search part", file=sys.stderr)
    if "models" in parts and args.queries is None:
        say("note: no --queries file given, skipping the genre-cluster search", file=sys.stderr)
    context = {**machine(), "git_commit": git_commit()} if args.save_reference else {}
    started = (time.perf_counter(), _cpu_seconds(), context)
    sections = run(
        args.data, Settings(), parts=parts, queries=args.queries, requests=args.requests,
        quick=args.quick,
        progress=progress_printer(not args.json),
    )  # fmt: skip
    if args.save_reference:
        _save_reference(args, parts, sections, started)
    if args.json:
        payload = {name: s.to_dict() for name, s in sections.items()}
        say(json.dumps({**payload, "targets": target_rows(sections)}, default=float))
    elif (console := terminal()) is not None:
        for section in sections.values():
            rich_section(console, section)
    else:
        for section in sections.values():
            say(format_section(section), end="\n\n")
    if not args.json and (targets := target_rows(sections)):
        say("== targets (set for ml-latest-small, the tomt-movies and ReDial requests)")
        for row in targets:
            mark = "met" if row["met"] else "NOT met"
            say(f"{row['measure']:<28} {row['target']:>8}  {row['measured']:.4f}  {mark}"
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
        say(json.dumps(payload, default=float))
    else:
        say(format_section(section))
        say(f"re-ranker written to {out}")
        if models.adapter is not None:
            say(f"adapter written to {adapter_out}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from core.data.synth import generate

    summary = generate(
        args.out, users=args.users, movies=args.movies, ratings=args.ratings, tags=args.tags,
        seed=args.seed, progress=progress_printer(not args.json),
    )  # fmt: skip
    say(json.dumps(summary.to_dict()) if args.json else summary.line())
    return 0


COMMANDS = {
    "build": _cmd_build,
    "status": _cmd_status,
    "prune": _cmd_prune,
    "recommend": _cmd_recommend,
    "similar": _cmd_similar,
    "search": _cmd_search,
    "chat": _cmd_chat,
    "predict": _cmd_predict,
    "evaluate": _cmd_evaluate,
    "tune-search": _cmd_tune_search,
    "synth": _cmd_synth,
}
