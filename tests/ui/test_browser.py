"""Real-browser tests: ``streamlit run`` on the built-in data, driven by Debian's Chromium.

Measures the time from starting the server to the first answered chat message, checks that a
follow-up in the chat uses the conversation's memory, that every page renders without an
exception box, saves screenshots (``tests/_screenshots/``; the two
README images in ``docs/screenshots/`` too when ``UPDATE_DOC_SCREENSHOTS=1``) and checks that
eight tabs asking in turn each get their answer within two seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.app_support import APP, REPO, child_env, free_port

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "tests" / "_screenshots"
DOC_SHOTS = REPO / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CONNECTED = '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
CHAT_BOX = '[data-testid="stChatInputTextArea"]'
MESSAGE = '[data-testid="stChatMessage"]'
EXCEPTION = '[data-testid="stException"]'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install "
                       "chromium); Playwright's own browser download does not work offline"),
]  # fmt: skip


@dataclass
class Server:
    """A running ``streamlit run`` subprocess."""

    url: str
    started: float  # time.monotonic() just before the process was started
    process: subprocess.Popen[bytes]
    log: Path


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app on the built-in data, artifacts built beforehand (a no-op when fresh)."""
    env = child_env()
    env.pop("MOVIE_DATA", None)  # the built-in snapshot
    build = subprocess.run(
        [sys.executable, "-m", "core", "build"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("wb") as sink:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=sink)
    try:
        _wait_healthy(url, process, timeout=120)
        yield Server(url, started, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Chromium context with a fresh profile."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def wait_idle(page: object, timeout: float = 90_000) -> None:
    """Wait until the app is connected and no script run is in progress."""
    page.wait_for_selector(CONNECTED, timeout=timeout)  # type: ignore[attr-defined]
    page.wait_for_selector(IDLE, timeout=timeout)  # type: ignore[attr-defined]


def ask(page: object, text: str, timeout: float = 90_000) -> float:
    """Type ``text`` into the chat and wait for the answer; returns seconds until it showed."""
    before = page.locator(MESSAGE).count()  # type: ignore[attr-defined]
    box = page.locator(CHAT_BOX)  # type: ignore[attr-defined]
    box.fill(text)
    sent = time.perf_counter()
    box.press("Enter")
    # The answer is the second new message; it carries the movie list.
    page.locator(MESSAGE).nth(before + 1).wait_for(timeout=timeout)  # type: ignore[attr-defined]
    answered = time.perf_counter() - sent
    wait_idle(page, timeout)
    return answered


def answer_titles(page: object, message: int) -> list[str]:
    """The numbered movie titles of one chat message (``"1. The Matrix"`` -> ``"The Matrix"``)."""
    entries = page.locator(MESSAGE).nth(message).locator("strong")  # type: ignore[attr-defined]
    titles = []
    for text in entries.all_inner_texts():
        number, dot, title = text.partition(". ")
        if dot and number.isdigit():
            titles.append(title.strip())
    return titles


def assert_no_exception(page: object, where: str) -> None:
    """No Streamlit exception box on the page."""
    count = page.locator(EXCEPTION).count()  # type: ignore[attr-defined]
    assert count == 0, f"{where}: {page.locator(EXCEPTION).first.inner_text()}"  # type: ignore[attr-defined]


def screenshot(page: object, name: str, *, height: int = 1500, doc: bool = False) -> Path:
    """Save a screenshot of the visible app (taller viewport so whole pages fit)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": height})  # type: ignore[attr-defined]
    page.wait_for_timeout(600)  # type: ignore[attr-defined]  # let charts finish their layout
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    if doc and os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":  # README images: on request only
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SHOTS / f"{name}.png")
    return path


def open_page(page: object, link_text: str) -> None:
    """Switch pages through the sidebar navigation (same session)."""
    nav = page.locator('[data-testid="stSidebarNav"] a', has_text=link_text)  # type: ignore[attr-defined]
    nav.first.click()
    page.wait_for_timeout(300)  # type: ignore[attr-defined]
    wait_idle(page)


def lasso_everything(page: object) -> None:
    """Draw a lasso around the left half of the embedding map (selects points, reruns)."""
    chart = page.locator('[data-testid="stPlotlyChart"]').last  # type: ignore[attr-defined]
    area = chart.locator(".nsewdrag").first.bounding_box()
    x, y, w, h = area["x"], area["y"], area["width"], area["height"]
    mouse = page.mouse  # type: ignore[attr-defined]
    mouse.move(x + 0.02 * w, y + 0.02 * h)
    mouse.down()
    for fx, fy in ((0.5, 0.02), (0.5, 0.98), (0.02, 0.98), (0.02, 0.04)):
        mouse.move(x + fx * w, y + fy * h, steps=8)
    mouse.up()
    page.wait_for_timeout(800)  # type: ignore[attr-defined]
    wait_idle(page)


def test_first_answer_and_every_page(server: Server, browser_context: object) -> None:
    page = browser_context.new_page()  # type: ignore[attr-defined]
    page.goto(server.url)
    page.wait_for_selector(CHAT_BOX, timeout=180_000)
    wait_idle(page, 180_000)
    assert_no_exception(page, "Ask (landing)")
    ask(page, "I loved The Matrix, what else?")
    first_answer = time.monotonic() - server.started
    print(f"\nstart of `streamlit run` to first answered chat message: {first_answer:.1f} s")
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "timing.json").write_text(
        json.dumps({"start_to_first_answer_s": round(first_answer, 2)}, indent=2)
    )
    assert page.locator(MESSAGE).count() == 2
    assert_no_exception(page, "Ask")
    first = answer_titles(page, 1)
    assert len(first) >= 5 and "The Matrix" not in first, first
    follow_up = ask(page, "I've seen the first one")
    print(f"follow-up answered in {follow_up:.2f} s")
    assert_no_exception(page, "Ask follow-up")
    second = answer_titles(page, 3)
    assert second and first[0] not in second, (first, second)
    assert "The Matrix" not in second, "the liked movie is still remembered"
    # From the page's title down: the first answer, the follow-up and the start of its answer.
    page.locator("h1").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    screenshot(page, "chat", height=2300, doc=True)

    open_page(page, "For you")
    assert_no_exception(page, "For you (no user)")
    page.goto(f"{server.url}/for_you?user=15")  # a shared link selects the user
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
    wait_idle(page)
    assert "user=15" in page.url
    assert_no_exception(page, "For you")
    screenshot(page, "for_you", height=1700, doc=True)

    page.get_by_text("New here: rate a few movies").click()
    wait_idle(page)
    stars = page.locator('[data-testid="stFeedback"]')
    for card, value in ((0, 5), (1, 4), (2, 2), (4, 5), (6, 4)):
        stars.nth(card).locator(f'[aria-label="{value} out of 5 stars"]').click()
        page.wait_for_timeout(300)
        wait_idle(page)
    page.get_by_text("Picks from your 5 ratings").wait_for(timeout=60_000)
    assert_no_exception(page, "For you (new user)")
    screenshot(page, "for_you_new", height=2100)

    open_page(page, "Similar movies")
    box = page.get_by_role("textbox", name="A movie you like")
    box.fill("usual suspects")
    box.press("Enter")
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
    wait_idle(page)
    assert_no_exception(page, "Similar")
    screenshot(page, "similar", height=1900)

    open_page(page, "Analytics")
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    wait_idle(page)
    assert_no_exception(page, "Analytics")
    screenshot(page, "analytics", height=1700)
    page.get_by_role("tab", name="Similarity").click()
    page.wait_for_timeout(500)
    wait_idle(page)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    assert_no_exception(page, "Analytics: similarity")
    screenshot(page, "analytics_similarity", height=1100)
    page.get_by_role("tab", name="Map").click()
    page.wait_for_timeout(500)
    wait_idle(page)
    lasso_everything(page)
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
    assert_no_exception(page, "Analytics: map")
    screenshot(page, "analytics_map", height=1500)

    open_page(page, "Evaluation")
    assert_no_exception(page, "Evaluation")
    screenshot(page, "evaluation", height=1200)

    open_page(page, "Data")
    assert_no_exception(page, "Data")
    screenshot(page, "data", height=1200)
    page.close()


def test_eight_tabs_answer_within_two_seconds(server: Server, browser_context: object) -> None:
    prompts = [
        "feel-good comedy from the 80s",
        "space adventure",
        "a heist movie with a twist",
        "romantic drama set in Paris",
        "animated movie for kids",
        "dark psychological thriller",
        "war movie based on a true story",
        "something like Toy Story",
    ]
    pages = []
    for _ in prompts:
        tab = browser_context.new_page()  # type: ignore[attr-defined]
        tab.goto(server.url)
        tab.wait_for_selector(CHAT_BOX, timeout=120_000)
        wait_idle(tab)
        pages.append(tab)
    latencies = []
    for number, (tab, prompt) in enumerate(zip(pages, prompts, strict=True), 1):
        tab.bring_to_front()
        seconds = ask(tab, prompt)
        assert_no_exception(tab, f"tab {number}")
        latencies.append(seconds)
    print("\nper-tab answer latency (s): " + ", ".join(f"{s:.2f}" for s in latencies))
    timing = SHOTS / "timing.json"
    data = json.loads(timing.read_text()) if timing.exists() else {}
    data["eight_tab_latencies_s"] = [round(s, 3) for s in latencies]
    SHOTS.mkdir(parents=True, exist_ok=True)
    timing.write_text(json.dumps(data, indent=2))
    for tab in pages:
        tab.close()
    assert max(latencies) < 2.0, latencies
