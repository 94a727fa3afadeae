"""Leftovers of builds: temporary folders of killed builds, artifacts of vanished data."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from filelock import FileLock

from core.cli import main
from core.serving.artifacts import clean_stale_temporaries
from core.serving.build import build, lock_path
from core.serving.prune import orphans, prune
from core.serving.staleness import check


def test_a_killed_builds_temporary_folder_goes_at_the_next_build_of_its_data(
    tmp_path: Path, tiny_data_dir: Path, tiny_settings
) -> None:
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    build(tiny_data_dir, settings)
    dataset = check(tiny_data_dir, settings).dataset
    mine = settings.artifacts_dir / f".{dataset}.tmp-1-2"
    other = settings.artifacts_dir / ".someone-else.tmp-1-2"
    for folder in (mine, other):
        folder.mkdir()
        (folder / "half.npy").write_bytes(b"x" * 100)
    build(tiny_data_dir, settings)  # fresh: nothing rebuilt, but the leftovers are looked at
    assert not mine.exists(), "its own leftover goes at once (the build holds the lock)"
    assert other.exists(), "another data set's build may still be writing"
    old = time.time() - 7200
    os.utime(other, (old, old))
    clean_stale_temporaries(settings.artifacts_dir)
    assert not other.exists()


def test_artifacts_of_a_vanished_data_folder_are_pruned(
    tmp_path: Path, tiny_data_dir: Path, tiny_settings, capsys, monkeypatch
) -> None:
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    kept, gone = (Path(shutil.copytree(tiny_data_dir, tmp_path / n)) for n in ("kept", "gone"))
    build(kept, settings)
    build(gone, settings)
    gone_folder, gone_lock = check(gone, settings).folder, lock_path(gone, settings)
    assert gone_lock.exists()
    shutil.rmtree(gone)
    found = orphans(settings.artifacts_dir)
    assert [o.folder for o in found] == [gone_folder] and found[0].bytes > 0

    with FileLock(lock_path(kept, settings)):  # another data set's lock does not matter
        assert [o.folder for o in prune(settings.artifacts_dir, dry_run=True)] == [gone_folder]
    assert gone_folder.exists(), "a dry run removes nothing"

    monkeypatch.setenv("MOVIE_ARTIFACTS", str(settings.artifacts_dir))
    assert main(["prune"]) == 0
    assert "removed" in capsys.readouterr().out and not gone_folder.exists()
    assert not gone_lock.exists(), "nor is its lock file left behind"
    assert lock_path(kept, settings).exists()
    assert check(kept, settings).up_to_date, "the other data set is untouched"
    assert main(["prune"]) == 0 and "nothing to prune" in capsys.readouterr().out


def test_prune_keeps_a_folder_whose_data_came_back_after_it_looked(
    tmp_path: Path, tiny_data_dir: Path, tiny_settings, monkeypatch
) -> None:
    import core.serving.prune as prune_module

    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    data = Path(shutil.copytree(tiny_data_dir, tmp_path / "back"))
    build(data, settings)
    folder = check(data, settings).folder
    shutil.rmtree(data)
    found = orphans(settings.artifacts_dir)
    shutil.copytree(tiny_data_dir, data)  # restored between the look and the lock
    monkeypatch.setattr(prune_module, "orphans", lambda root: found)
    assert prune(settings.artifacts_dir) == []
    assert folder.exists() and lock_path(data, settings).exists()
