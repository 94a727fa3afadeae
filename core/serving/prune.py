"""Artifact folders whose data folder no longer exists, and removing them.

Built artifacts are kept per data folder; a folder of temporary splits that was deleted leaves
hundreds of MB behind. ``orphans`` finds them from each manifest's recorded source; ``prune``
removes them unless a build of that data set holds its lock. Nothing here builds or loads.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.config import BUILTIN_DATA
from core.errors import ArtifactError
from core.serving.artifacts import Manifest


@dataclass(frozen=True)
class Orphan:
    """An artifact folder built from a data folder that is gone."""

    folder: Path
    source: str
    bytes: int


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def orphans(root: Path) -> list[Orphan]:
    """Artifact folders under ``root`` whose recorded data folder does not exist any more
    (the built-in data never goes away; unreadable manifests are left for a rebuild)."""
    found = []
    for manifest_path in sorted(Path(root).glob("*/manifest.json")):
        folder = manifest_path.parent
        try:
            source = Manifest.read(folder).source
        except ArtifactError:
            continue
        if source != BUILTIN_DATA and not Path(source).exists():
            found.append(Orphan(folder, source, _size(folder)))
    return found


def prune(root: Path, *, dry_run: bool = False) -> list[Orphan]:
    """Remove the :func:`orphans` of ``root`` (none whose build lock is held); returns them."""
    from filelock import FileLock, Timeout

    removed = []
    for orphan in orphans(root):
        lock = FileLock(orphan.folder.with_name(f"{orphan.folder.name}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # a build of it is running right now
        try:
            if Path(orphan.source).exists():
                continue  # the data came back since orphans() looked: a build may follow
            if not dry_run:
                shutil.rmtree(orphan.folder, ignore_errors=True)
                # Removing a lock file others may open is a race in general; here the data
                # folder is gone (checked under the lock), and a build resolves its data
                # folder before it takes the lock, so none can be waiting on this file.
                with contextlib.suppress(OSError):  # Windows refuses to delete a locked file
                    Path(lock.lock_file).unlink(missing_ok=True)
            removed.append(orphan)
        finally:
            lock.release()
    return removed
