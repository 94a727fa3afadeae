"""How the command line prints: rich tables on a terminal, plain text or JSON otherwise.

Formatting only; the commands that produce the results are :mod:`core.cli.commands`.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pandas as pd

# Terminal escape sequences (CSI "ESC [ ... letter", OSC "ESC ] ... BEL or ESC \\", any other
# "ESC x"), then the C0 controls but tab and newline, DEL and the C1 controls. A title, tag
# or query holding them could retitle the terminal, recolour it or rewrite earlier lines.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """``text`` with every terminal escape sequence and control character removed."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", str(text)))


def say(*values: object, file: Any = None, end: str = "\n", flush: bool = False) -> None:
    """``print`` for everything the command line shows: control characters removed."""
    print(clean(" ".join(str(v) for v in values)), file=file, end=end, flush=flush)


def plain(value: object) -> Any:
    """A rich ``Text`` of ``value``, cleaned: shown as written, never read as rich markup."""
    from rich.text import Text

    return Text(clean(value))


def print_answer(answer: Any, *, use_json: bool) -> None:
    """One chat answer: what was understood, notes and suggestions, then the movies."""
    if use_json:
        records = answer.items.astype(object).where(answer.items.notna(), None)
        print(json.dumps({"kind": answer.kind, "reply": answer.reply,
                          "suggestions": answer.suggestions, "understood": answer.understood,
                          "notes": answer.notes,
                          "results": records.to_dict(orient="records")}, default=str))  # fmt: skip
        return
    say(answer.reply)
    for note in answer.notes:
        say(f"note: {note}")
    if answer.suggestions:
        say("try: " + " | ".join(answer.suggestions))
    if len(answer.items):
        print_table(answer.items, f"{len(answer.items)} movies", use_json=False)
    say()


def progress_printer(enabled: bool) -> Any:
    last = [""]

    def show(message: str, fraction: float) -> None:
        if enabled and message != last[0]:
            say(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)
            last[0] = message

    return show


def print_table(frame: pd.DataFrame, title: str, *, use_json: bool) -> None:
    if use_json:  # json.dumps writes control characters as \\u escapes
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        say(json.dumps({"title": title, "results": records}, default=str))
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

        table = Table(title=plain(title), show_lines=False)
        for col in shown.columns:
            table.add_column(col, overflow="fold", justify="right" if col != "title" else "left")
        for row in shown.itertuples(index=False):
            table.add_row(*(plain(fmt(v)) for v in row))
        Console().print(table)
    else:
        say(title)
        say(shown.to_string(index=False, formatters=formatters(shown)))


def fmt(value: object) -> str:
    """A table cell: ``-`` for missing values, two decimals for floats, text cleaned."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return clean(value)


def formatters(frame: pd.DataFrame) -> dict[str, Any]:
    return {c: fmt for c in frame.columns if frame[c].dtype.kind == "f"}


# -- rich output on a terminal ----------------------------------------------------------------
def terminal() -> Any | None:
    """A rich console when stdout is a terminal; ``None`` for pipes and files (plain text)."""
    if not sys.stdout.isatty():
        return None
    from rich.console import Console

    return Console()


def rich_build(console: Any, result: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    if result.report:
        console.print(Panel(plain(result.report.summary()), title="Load report", expand=False))
    table = Table(title=plain(f"Artifacts of {result.dataset}"))
    table.add_column("component")
    table.add_column("state")
    table.add_column("seconds", justify="right")
    for name, seconds in result.built.items():
        table.add_row(name, Text("built", style="green"), f"{seconds:.2f}")
    for name in result.reused:
        table.add_row(name, "up to date", "-")
    console.print(table)
    console.print(plain(f"total {result.seconds:.2f} s  ->  artifacts/{result.dataset}"))


def rich_status(console: Any, status: Any) -> None:
    from rich.table import Table

    age = f"built {status.manifest.age_seconds() / 60:.0f} min ago" if status.manifest else None
    table = Table(title=plain(f"Artifacts of {status.dataset}"), caption=age)
    table.add_column("component")
    table.add_column("state")
    table.add_column("why", overflow="fold")
    for name in status.fresh:
        table.add_row(name, "[green]fresh[/]", "")
    for name, why in status.stale.items():
        table.add_row(name, "[yellow]stale[/]", plain(why))
    console.print(table)
    console.print(plain(status.describe().splitlines()[0]))


def rich_section(console: Any, section: Any) -> None:
    """One evaluation section as a rich table, its protocol above and its choices below."""
    from rich.table import Table
    from rich.text import Text

    columns: list[str] = []
    for row in section.rows:
        columns.extend(c for c in row if c not in columns)
    table = Table(title=plain(f"{section.name} ({section.seconds:.0f} s)"), title_justify="left")
    for column in columns:
        numeric = any(isinstance(r.get(column), int | float) for r in section.rows)
        table.add_column(plain(column), justify="right" if numeric else "left", overflow="fold")
    for row in section.rows:
        table.add_row(*(plain(metric(row.get(c))) for c in columns))
    console.print(Text(clean(section.protocol), style="dim"))
    console.print(table)
    if section.chosen:
        console.print(Text("chosen: " + json.dumps(section.chosen, default=str), style="dim"))
    console.print()


def metric(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4f}" if isinstance(value, float) else f"{value:,}"
