"""Many browser sessions at once: chat answers and the For-you page under concurrent load.

Usage: python benchmarks/concurrency.py [--sessions 1,8,16] [--single-rounds 3] [--data DIR]

Builds the artifacts (``python -m core build``, a no-op when fresh), starts ``streamlit run`` on
a free localhost port and warms it with one session. Then, for each N of ``--sessions``, opens N
headless Chromium sessions (pip ``playwright`` driving Debian's ``/usr/bin/chromium``), each
viewing as a different user; once all are loaded they start together: each asks the chat one
question, then opens the For-you page through the sidebar (same session, so its user is kept).

Times are from the action (Enter; the click) until the app's script is done
(``data-test-script-state="notRunning"``) with the answer or the picks on screen; the
``*_server`` rows are the server's share (first websocket frame out to the last frame in, in the
browser's clock), without the page's rendering, which the browsers do on the same cores. Prints
p50 and p95 per action, each p95 over the one-session p50 (the ratio survives the noise of a shared
2-core machine better than absolute times), errors (exception boxes, timeouts), the server's
peak RSS (``psutil``, the server and its children) and the load average at the start and end.
Browsers and server share the cores: report the load average with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "streamlit_app.py"
CHROMIUM = "/usr/bin/chromium"
#: DEVELOPERS.md: Playwright's own browser download does not work here; Debian's Chromium does.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CONNECTED = '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
CHAT_BOX = '[data-testid="stChatInputTextArea"]'
MESSAGE = '[data-testid="stChatMessage"]'
EXCEPTION = '[data-testid="stException"]'
TIMEOUT_MS = 180_000
#: Everyday requests (one per session, in turn).
PROMPTS = [
    "I loved The Matrix, what else?",
    "feel-good comedy from the 80s",
    "space adventure",
    "a heist movie with a twist",
    "romantic drama set in Paris",
    "animated movie for kids",
    "dark psychological thriller",
    "war movie based on a true story",
    "something like Toy Story",
]


@dataclass
class Round:
    """One round's timings (seconds) and errors."""

    chat: list[float] = field(default_factory=list)
    for_you: list[float] = field(default_factory=list)
    #: The server's share: from the browser's first websocket frame out after the action to
    #: its last frame in (the script's end), in the browser's own clock. Excludes the page's
    #: rendering, which the browsers do on the same cores.
    chat_server: list[float] = field(default_factory=list)
    for_you_server: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: CPU of the timed part only (after every session has opened): the machine's busy seconds,
    #: the part's wall seconds and the busy seconds of each kind of process.
    cpu_busy: float = 0.0
    cpu_wall: float = 0.0
    cpu_kinds: dict[str, float] = field(default_factory=dict)

    def add(self, other: Round) -> None:
        self.chat += other.chat
        self.for_you += other.for_you
        self.chat_server += other.chat_server
        self.for_you_server += other.for_you_server
        self.errors += other.errors
        self.cpu_busy += other.cpu_busy
        self.cpu_wall += other.cpu_wall
        for kind, seconds in other.cpu_kinds.items():
            self.cpu_kinds[kind] = self.cpu_kinds.get(kind, 0.0) + seconds


class Frames:
    """A tab's websocket frame times (Chrome DevTools Protocol timestamps, seconds)."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.received: list[float] = []

    def clear(self) -> None:
        self.sent.clear()
        self.received.clear()

    def server_seconds(self) -> float:
        if not self.sent or not self.received:
            return float("nan")
        return max(self.received) - min(self.sent)


FRAMES: dict[int, Frames] = {}


# -- the server ----------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}; see {log}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response,
        ):
            if response.status == 200:
                return process, url
        time.sleep(0.2)
    process.terminate()
    raise TimeoutError(f"{url} not healthy after 120 s")


class PeakRss:
    """Polls the resident memory of a process and its children (psutil) in a thread."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(Exception):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.peak = max(self.peak, self._rss())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class CpuLedger:
    """CPU seconds (user + system) each kind of process spends during a block.

    Samples every process's CPU times in a thread (psutil) and keeps the last value seen per
    process, so renderers that exit when their session closes still count (up to one sampling
    interval of their end is lost). The machine's total busy time comes from the kernel's own
    counters (``psutil.cpu_times``), which miss nothing; the kinds split it.
    """

    def __init__(self, server_pid: int, every: float = 0.2) -> None:
        import psutil

        self.psutil = psutil
        self.server_pid = server_pid
        self.every = every
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _classify(self, proc: object) -> str:
        pid = proc.pid  # type: ignore[attr-defined]
        if pid == os.getpid():
            return "harness"
        if pid == self.server_pid:
            return "server"
        try:
            name = proc.name()  # type: ignore[attr-defined]
            cmdline = " ".join(proc.cmdline())  # type: ignore[attr-defined]
        except Exception:
            return "other"
        if "chrom" in name or "chrom" in cmdline.split(" ")[0]:
            if "--type=renderer" in cmdline:
                return "browser: pages"
            if "--type=gpu-process" in cmdline:
                return "browser: compositing"
            return "browser: other"
        if name == "node" or "playwright" in cmdline:
            return "playwright driver"
        return "other"

    def _sample(self) -> None:
        for proc in self.psutil.process_iter():
            with contextlib.suppress(Exception):
                times = proc.cpu_times()
                pid = proc.pid
                if pid not in self.kind:
                    self.kind[pid] = self._classify(proc)
                self.last[pid] = times.user + times.system

    def _busy(self) -> float:
        times = self.psutil.cpu_times()
        # guest time is already inside user; steal is time the machine did not give us.
        not_busy = ("idle", "iowait", "steal", "guest", "guest_nice")
        return sum(times) - sum(getattr(times, name, 0.0) for name in not_busy)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> CpuLedger:
        self._sample()
        self.start = dict(self.last)
        self.busy_start = self._busy()
        self.wall_start = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.busy = self._busy() - self.busy_start
        self.wall = time.perf_counter() - self.wall_start

    def by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, seconds in self.last.items():
            spent = seconds - self.start.get(pid, 0.0)
            if spent > 0:
                kind = self.kind.get(pid, "other")
                totals[kind] = totals.get(kind, 0.0) + spent
        return dict(sorted(totals.items(), key=lambda item: -item[1]))


# -- one browser session --------------------------------------------------------------------------
async def wait_idle(page: object) -> None:
    await page.wait_for_selector(CONNECTED, timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    await page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)  # type: ignore[attr-defined]


async def open_session(browser: object, url: str, user: int) -> object:
    """A new session (its own browser context) on the Ask page, viewing as ``user``."""
    context = await browser.new_context(viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    page = await context.new_page()
    frames = FRAMES.setdefault(id(page), Frames())
    devtools = await context.new_cdp_session(page)
    await devtools.send("Network.enable")
    devtools.on("Network.webSocketFrameSent", lambda e: frames.sent.append(e["timestamp"]))
    devtools.on("Network.webSocketFrameReceived", lambda e: frames.received.append(e["timestamp"]))
    await page.goto(f"{url}/?user={user}", timeout=TIMEOUT_MS)
    await page.wait_for_selector(CHAT_BOX, timeout=TIMEOUT_MS)
    await wait_idle(page)
    return page


async def ask(page: object, prompt: str) -> tuple[float, float]:
    """Seconds from Enter until the answer is shown and the script is done, and the server's
    share of them."""
    before = await page.locator(MESSAGE).count()  # type: ignore[attr-defined]
    box = page.locator(CHAT_BOX)  # type: ignore[attr-defined]
    await box.fill(prompt)
    FRAMES[id(page)].clear()
    sent = time.perf_counter()
    await box.press("Enter")
    await page.locator(MESSAGE).nth(before + 1).wait_for(timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    await wait_idle(page)
    return time.perf_counter() - sent, FRAMES[id(page)].server_seconds()


async def open_for_you(page: object) -> tuple[float, float]:
    """Seconds from the sidebar click until the picks are shown and the script is done, and
    the server's share of them."""
    nav = page.locator('[data-testid="stSidebarNav"] a', has_text="For you")  # type: ignore[attr-defined]
    FRAMES[id(page)].clear()
    clicked = time.perf_counter()
    await nav.first.click()
    # The last element the page draws for a user from the data is their genre profile chart;
    # "Why these picks" comes with the picks.
    await page.get_by_text("Why these picks").wait_for(timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    await wait_idle(page)
    return time.perf_counter() - clicked, FRAMES[id(page)].server_seconds()


async def exception_text(page: object) -> str | None:
    boxes = page.locator(EXCEPTION)  # type: ignore[attr-defined]
    if await boxes.count():
        return (await boxes.first.inner_text())[:300]
    return None


async def one_round(
    browser: object, url: str, sessions: int, users: list[int], first: int, server_pid: int
) -> Round:
    result = Round()
    opened = await asyncio.gather(
        *(open_session(browser, url, users[(first + i) % len(users)]) for i in range(sessions)),
        return_exceptions=True,
    )
    pages = []
    for item in opened:
        if isinstance(item, BaseException):
            result.errors.append(f"open: {type(item).__name__}: {str(item)[:200]}")
        else:
            pages.append(item)

    async def work(number: int, page: object) -> None:
        prompt = PROMPTS[(first + number) % len(PROMPTS)]
        try:
            total, server = await ask(page, prompt)
            result.chat.append(total)
            result.chat_server.append(server)
            if problem := await exception_text(page):
                result.errors.append(f"chat: {problem}")
            total, server = await open_for_you(page)
            result.for_you.append(total)
            result.for_you_server.append(server)
            if problem := await exception_text(page):
                result.errors.append(f"for you: {problem}")
        except Exception as err:  # a timeout is an error of the run, not of the benchmark
            result.errors.append(f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")

    with CpuLedger(server_pid) as cpu:
        await asyncio.gather(*(work(n, p) for n, p in enumerate(pages)))
    result.cpu_busy, result.cpu_wall, result.cpu_kinds = cpu.busy, cpu.wall, cpu.by_kind()
    for page in pages:
        await page.context.close()  # type: ignore[attr-defined]
    return result


# -- figures -------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    values = [v for v in values if v == v]  # NaN: a tab whose frames were not seen
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def load_text() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


async def main_async(args: argparse.Namespace, url: str, server_pid: int) -> list[dict]:
    from playwright.async_api import async_playwright

    users = [int(u) for u in args.users.split(",")]
    rows: list[dict] = []
    baseline: dict[str, float] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        # Warm-up: loads the engine and the chat, and compiles whatever runs on first use.
        warm = await one_round(browser, url, 1, users, len(users) - 1, server_pid)
        print(f"warm-up: chat {warm.chat}, for you {warm.for_you}, errors {warm.errors}")
        first = 0
        for n in args.sessions:
            rounds = args.single_rounds if n == 1 else args.rounds
            merged = Round()
            load_before = load_text()
            with PeakRss(server_pid) as memory:
                started = time.perf_counter()
                for _ in range(rounds):
                    merged.add(await one_round(browser, url, n, users, first, server_pid))
                    first += n
                wall = time.perf_counter() - started
            row: dict = {
                "sessions": n,
                "rounds": rounds,
                "wall_s": round(wall, 1),
                "errors": len(merged.errors),
                "error_samples": merged.errors[:3],
                "peak_rss_mb": round(memory.peak / 1e6),
                "load_before": load_before,
                "load_after": load_text(),
                # All CPU the timed part used (every process, kernel counters) per session's
                # pair of actions, and over the part's wall time: on 2 cores, N sessions
                # starting together cannot all finish sooner than N x (CPU per pair) / 2.
                "cpu_s_per_session": round(merged.cpu_busy / max(n * rounds, 1), 3),
                "cores_busy": round(merged.cpu_busy / max(merged.cpu_wall, 1e-9), 2),
                "cpu_s_by_kind_per_session": {
                    kind: round(seconds / max(n * rounds, 1), 3)
                    for kind, seconds in sorted(merged.cpu_kinds.items(), key=lambda kv: -kv[1])
                },
            }
            for action, values in (
                ("chat", merged.chat),
                ("for_you", merged.for_you),
                ("chat_server", merged.chat_server),
                ("for_you_server", merged.for_you_server),
            ):
                p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
                if n == 1 and action not in baseline:
                    baseline[action] = p50
                row[action] = {
                    "n": len(values),
                    "p50_s": round(p50, 3),
                    "p95_s": round(p95, 3),
                    "max_s": round(max(values), 3) if values else None,
                    "p95_over_1": round(p95 / baseline[action], 2) if action in baseline else None,
                }
            rows.append(row)
            print_row(row)
        await browser.close()
    return rows


def print_row(row: dict) -> None:
    parts = [f"{row['sessions']:>2} sessions ({row['rounds']} round(s), {row['wall_s']} s):"]
    for action in ("chat", "for_you", "chat_server", "for_you_server"):
        r = row[action]
        ratio = f", p95/1-session p50 {r['p95_over_1']}x" if r["p95_over_1"] is not None else ""
        parts.append(f"{action} p50 {r['p50_s']:.2f} s p95 {r['p95_s']:.2f} s{ratio} (n={r['n']})")
    parts.append(f"errors {row['errors']}")
    parts.append(f"server peak RSS {row['peak_rss_mb']} MB")
    parts.append(f"load {row['load_before']} -> {row['load_after']}")
    print(" | ".join(parts), flush=True)
    kinds = ", ".join(f"{k} {v:.2f}" for k, v in row["cpu_s_by_kind_per_session"].items())
    print(
        f"    CPU per session (chat + For you): {row['cpu_s_per_session']:.2f} s "
        f"({kinds}); {row['cores_busy']:.2f} cores busy on average",
        flush=True,
    )
    for sample in row["error_samples"]:
        print(f"    error: {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="1,8,16", help="comma-separated session counts")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per count above one")
    parser.add_argument("--single-rounds", type=int, default=3, help="rounds of one session")
    parser.add_argument(
        "--users",
        default="15,23,42,57,68,73,91,102,118,130,147,164,177,199,212,232,247,260,288,303",
        help="user ids the sessions view as, in turn",
    )
    parser.add_argument("--data", default=None, help="MovieLens folder (default: built-in)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    args.sessions = [int(s) for s in args.sessions.split(",")]

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.setdefault("MALLOC_ARENA_MAX", "2")  # as run.sh starts the app
    if args.data:
        env["MOVIE_DATA"] = args.data
    else:
        env.pop("MOVIE_DATA", None)
    build = subprocess.run([sys.executable, "-m", "core", "build"], cwd=REPO, env=env,
                           capture_output=True, text=True)  # fmt: skip
    if build.returncode != 0:
        sys.exit(f"build failed:\n{build.stdout[-2000:]}{build.stderr[-2000:]}")
    log = Path(tempfile.mkdtemp(prefix="concurrency-")) / "server.log"
    process, url = start_server(env, log)
    print(
        f"server {url} (pid {process.pid}, log {log}); {os.cpu_count()} cores, load {load_text()}"
    )
    try:
        rows = asyncio.run(main_async(args, url, process.pid))
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
