"""Warm latency of picks, similar movies and natural-language search, idle and under load.

Usage: python benchmarks/latency.py [--data DIR] [--calls N]

Prints the median and 95th percentile per operation, first with the machine idle, then while a
separate process keeps one core busy (the situation of a Streamlit server on 2 cores), and the
ratio of the two. Targets (built-in data): picks <= 20 ms, similar <= 10 ms, search <= 50 ms
(chat-length requests; long stories are timed separately: they are re-ranked and their
80-word chunks encoded too), chat answer p50 <= 100 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.chat import Chat
from core.serving.engine import Engine

QUERIES = [
    "a 90s space adventure, no horror",
    "funny animated movie for kids",
    "like Alien but funnier",
    "hidden gem crime thriller from the 70s",
    "romantic comedy set in New York",
    "a heist movie with a twist ending",
    "something about dreams inside dreams",
    "war drama after 2005",
]
#: Long "which movie is this?" requests (over 30 words: re-ranked by the learned model, the
#: longer ones also encoded in 80-word chunks).
STORIES = [
    "I watched this as a kid in the 90s: a family moves into an old house and the youngest "
    "daughter starts talking to people inside the television, then she disappears and they "
    "can hear her voice somewhere in the house but cannot find her.",
    "Looking for a movie where a man wakes up every day on the same day in a small town with "
    "snow, he is a weather reporter and at first he uses it to trick people and rob an armoured "
    "car, then he gets depressed and tries to end it many times, but finally he learns to play "
    "the piano and helps everyone in the town, and the woman he works with falls in love with "
    "him. I think it was a comedy, maybe early 90s, and there was a groundhog in it somewhere, "
    "the whole thing felt like a fable about becoming a better person one day at a time and "
    "the ending is in the morning when the clock radio finally plays a different song.",
]
TITLES = ["usual suspects", "the matrix", "toy story", "alien", "amelie", "godfather", "heat"]
#: Everyday chat messages (ReDial-like): named movies, kinds of movie, small talk.
CHAT = [
    "Hi! I loved The Matrix (1999), what else would I like?",
    "any good crime movies from the 90s?",
    "something funny for family movie night",
    "I really enjoyed Toy Story (1995) and Up (2009)",
    "hello, how are you? I'm looking for a scary movie",
    "a feel-good romantic comedy, nothing too long",
]


def _spin(stop: mp.Event) -> None:  # type: ignore[valid-type]
    while not stop.is_set():  # type: ignore[attr-defined]
        pass


def measure(fn: Callable[[int], object], calls: int) -> tuple[float, float]:
    """Median and p95 in milliseconds of ``fn(i)`` over ``calls`` calls (after 3 warm-ups)."""
    for i in range(3):
        fn(i)
    times = []
    for i in range(calls):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def run(engine: Engine, chat: Chat, calls: int, tag: str) -> dict[str, tuple[float, float]]:
    users = engine.catalog.user_ids.tolist()
    first = chat.respond(CHAT[0])
    ids = engine.catalog.movie_ids
    return {
        "picks (recommend)": measure(lambda i: engine.recommend(users[i % len(users)]), calls),
        "similar (by title)": measure(lambda i: engine.similar(TITLES[i % len(TITLES)]), calls),
        "similar (by movieId)": measure(
            lambda i: engine.similar(int(ids[(i * 97) % len(ids)])), calls
        ),
        "search (encode+search+blend)": measure(
            # A fresh text each call, so the query-embedding cache never answers.
            lambda i: engine.search(f"{QUERIES[i % len(QUERIES)]} {tag}{i}"),
            calls,
        ),
        "search, long story (re-ranked)": measure(
            lambda i: engine.search(f"{STORIES[i % len(STORIES)]} {tag}{i}"), calls
        ),
        # The Ask page's answer: understand the turn, rank from the dialogue state, reply.
        "chat answer (first turn)": measure(
            lambda i: chat.respond(f"{CHAT[i % len(CHAT)]} {tag}{i}"), calls
        ),
        "chat follow-up (2nd turn)": measure(
            lambda i: chat.respond("something lighter", first.state), calls
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    t0 = time.perf_counter()
    engine = Engine.open(args.data)
    print(f"engine open: {time.perf_counter() - t0:.2f} s ({engine.catalog.n_items:,} movies)")
    t0 = time.perf_counter()
    chat = Chat(engine)
    print(f"chat ready: {time.perf_counter() - t0:.2f} s (its item-item matrices, once)")
    idle = run(engine, chat, args.calls, "a")
    stop = mp.Event()
    hog = mp.Process(target=_spin, args=(stop,), daemon=True)
    hog.start()
    try:
        loaded = run(engine, chat, args.calls, "b")
    finally:
        stop.set()
        hog.join(timeout=5)
    print(f"\n{'operation':<30} {'idle p50':>9} {'idle p95':>9} {'busy p50':>9} {'busy p95':>9}"
          f" {'busy/idle':>9}")  # fmt: skip
    for name in idle:
        (i50, i95), (b50, b95) = idle[name], loaded[name]
        print(f"{name:<30} {i50:8.1f}ms {i95:8.1f}ms {b50:8.1f}ms {b95:8.1f}ms {b50 / i50:8.2f}x")


if __name__ == "__main__":
    main()
