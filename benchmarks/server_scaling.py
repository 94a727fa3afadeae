"""The app's own share of concurrent load, without browsers: N sessions run in one process.

Usage: python benchmarks/server_scaling.py [--sessions 1,8,16] [--rounds 3]

``benchmarks/concurrency.py`` drives real browsers, which share the cores with the server: on a
2-core machine their rendering takes most of the CPU, so its ratios mix the app's scaling with
the browsers'. Here each session is a Streamlit ``AppTest`` of a page script (the same
scripts ``streamlit run`` serves, without the websocket and without rendering), run in its own
thread as the server runs each session's script: the chat answers one prompt on the Ask page
(the prompts of ``concurrency.py``) and the For-you page is opened for a user of the built-in
data (artifacts built beforehand: ``python -m core build``). Prints p50 and p95 per action, and
each p95 over the one-session p50. Python threads share one interpreter lock, so work that
holds it (pandas, plotly figures, Streamlit's element tree) runs one session at a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from concurrency import PROMPTS, percentile  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

ASK = str(REPO / "pages" / "ask.py")
FOR_YOU = str(REPO / "pages" / "for_you.py")


def page(script: str, user: int) -> AppTest:
    app = AppTest.from_file(script, default_timeout=600)
    app.query_params["user"] = str(user)
    return app


def ask(number: int) -> Callable[[], None]:
    """A session on the Ask page, loaded; the returned action asks its prompt."""
    app = page(ASK, 1 + number)
    app.run()
    prompt = PROMPTS[number % len(PROMPTS)]
    return lambda: app.chat_input[0].set_value(prompt).run()  # type: ignore[no-any-return]


def for_you(number: int) -> Callable[[], None]:
    """The returned action opens the For-you page for a user of its own."""
    app = page(FOR_YOU, 101 + number)
    return lambda: app.run()  # type: ignore[no-any-return]


def together(actions: list[Callable[[], None]]) -> list[float]:
    """Run the actions in one thread each, started together; seconds per action."""
    seconds = [0.0] * len(actions)
    start = threading.Barrier(len(actions))

    def run(index: int) -> None:
        start.wait()
        began = time.perf_counter()
        actions[index]()
        seconds[index] = time.perf_counter() - began

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,8,16")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the one-session case")
    args = parser.parse_args()
    ask(0)()  # warm-up: engine, encoder and caches loaded once, as a running server has them
    for_you(0)()
    single: dict[str, float] = {}
    offset = 1
    for n in (int(s) for s in args.sessions.split(",")):
        rounds = args.rounds if n == 1 else 1
        row = []
        for name, make in (("chat", ask), ("for_you", for_you)):
            times: list[float] = []
            for _ in range(rounds):
                times += together([make(offset + i) for i in range(n)])
                offset += n
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            single.setdefault(name, p50)
            row.append(f"{name} p50 {p50:.3f} s p95 {p95:.3f} s, p95/1-session p50 "
                       f"{p95 / single[name]:.1f}x")  # fmt: skip
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"{n:>2} sessions | " + " | ".join(row) + f" | load {load}", flush=True)


if __name__ == "__main__":
    main()
