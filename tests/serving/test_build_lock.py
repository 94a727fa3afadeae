"""One build per data set at a time: a second build waits for the first and then reuses what
it built; the lock's state is readable (the Data page shows "a build is running")."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from core.serving.build import BuildResult, build, build_lock, build_running, lock_path
from core.serving.staleness import check


@pytest.fixture
def stale_popularity(tmp_path: Path, tiny_engine, tiny_data_dir: Path, tiny_settings):
    """A copy of the tiny artifacts whose cheap "popularity" component is stale."""
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    shutil.copytree(tiny_settings.artifacts_dir, settings.artifacts_dir, symlinks=True)
    manifest_path = check(tiny_data_dir, settings).folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["components"]["popularity"]["key"] = "from other settings"
    manifest_path.write_text(json.dumps(manifest))
    assert set(check(tiny_data_dir, settings).stale) == {"popularity"}
    return settings


def test_lock_file_sits_next_to_the_data_sets_folder(tiny_data_dir: Path, tiny_settings) -> None:
    folder = check(tiny_data_dir, tiny_settings).folder
    assert lock_path(tiny_data_dir, tiny_settings) == folder.with_name(folder.name + ".lock")


def test_build_running_reads_the_lock(tiny_data_dir: Path, stale_popularity) -> None:
    settings = stale_popularity
    assert not build_running(tiny_data_dir, settings)
    with build_lock(lock_path(tiny_data_dir, settings)):
        assert build_running(tiny_data_dir, settings)
    assert not build_running(tiny_data_dir, settings)


def test_second_build_waits_then_reuses_the_first_ones_work(
    tiny_data_dir: Path, stale_popularity
) -> None:
    settings = stale_popularity
    first_building, release_first = threading.Event(), threading.Event()
    second_messages: list[str] = []
    results: dict[str, BuildResult] = {}

    def first_progress(message: str, fraction: float) -> None:
        if message.startswith("Building popularity"):
            first_building.set()
            release_first.wait(60)  # hold the build (and its lock) until the second asked

    def run(name: str, progress) -> None:
        results[name] = build(tiny_data_dir, settings, progress=progress)

    first = threading.Thread(target=run, args=("first", first_progress))
    first.start()
    assert first_building.wait(60)
    second = threading.Thread(target=run, args=("second", lambda m, f: second_messages.append(m)))
    second.start()
    deadline = time.monotonic() + 20
    while not second_messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert build_running(tiny_data_dir, settings)
    release_first.set()
    first.join(120)
    second.join(120)
    assert second_messages[0] == "Waiting for another build of this data set to finish"
    assert list(results["first"].built) == ["popularity"]
    assert results["second"].built == {}, "the second build found everything fresh"
    assert check(tiny_data_dir, settings).up_to_date
    assert not build_running(tiny_data_dir, settings)
