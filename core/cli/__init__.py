"""Command line: ``python -m core build|status|recommend|similar|search|predict|...``.

Readable tables (rich) on a terminal, JSON with ``--json``; batch forms print one JSON line per
user or query for evaluation scripts. Bad input prints one clear line and exits with status 2,
never a traceback. Arguments: :mod:`core.cli.parser`; commands: :mod:`core.cli.commands`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from core.cli.commands import COMMANDS
from core.cli.output import say
from core.cli.parser import build_parser
from core.errors import WorkbenchError

EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        status = COMMANDS[args.command](args)
    except WorkbenchError as err:
        say(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        say("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    if args.command in ("build",) and not getattr(args, "json", False):
        say(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return status
