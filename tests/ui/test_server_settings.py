"""The server's settings that keep many sessions responsive and the app private by default."""

from __future__ import annotations

import gc
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from ui import app

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_config_serves_this_machine_only_and_skips_per_run_collections() -> None:
    config = tomllib.loads(CONFIG.read_text())
    assert config["server"]["address"] == "localhost"
    # A full collection after every script run holds the interpreter lock for about 0.24 s
    # with the models loaded; every session waits for it (docs/experiments/serving.md).
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["fileWatcherType"] == "none"


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_loaded_objects_leave_the_full_collections_and_come_back_on_rebuild(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app._settle_heap()
    assert gc.get_freeze_count() > 0

    import core.serving.build

    monkeypatch.setenv(app.REBUILD_ENV, "1")
    monkeypatch.setattr(
        core.serving.build, "build", lambda data, force, progress: SimpleNamespace(built={"x": 1.0})
    )
    app.rebuild(None, force=True, progress=lambda message, fraction: None)
    assert gc.get_freeze_count() == 0  # the dropped engines can be collected in full


def test_the_launcher_caps_malloc_arenas() -> None:
    # glibc reads MALLOC_ARENA_MAX when malloc starts up, so it must be in the server's
    # environment at process start (a mallopt from the app made no difference); without it, a
    # server serving many sessions in turn grows past 1.5 GB (docs/experiments/serving.md).
    launcher = (CONFIG.parents[1] / "run.sh").read_text()
    assert 'export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"' in launcher
    assert launcher.index("MALLOC_ARENA_MAX") < launcher.index("streamlit run")
