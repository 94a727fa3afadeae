"""Built artifacts on disk: one folder per data set, a manifest, and atomic replacement.

Layout: ``artifacts/<dataset>/manifest.json`` plus one sub-folder per component (``catalog``,
``svd``, ``collab``, ...). The manifest records the data fingerprint, the settings and library
versions each component was built with, so a loader can say exactly what is stale. A build
writes into a temporary sibling folder and swaps it in with ``os.replace``; a crash leaves the
previous folder intact and a half-written one is never read (no manifest, or a marker file).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from core.errors import ArtifactError

MANIFEST = "manifest.json"
#: Sub-folder carried over unchanged when a data set is rebuilt (offline evaluation results).
KEEP_ON_REBUILD = "evaluation"
FORMAT_VERSION = 1
#: Libraries whose version is recorded (a change marks artifacts stale only for ``core``).
TRACKED_LIBRARIES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "scikit-surprise",
    "implicit",
    "torch",
    "sentence-transformers",
    "transformers",
    "bm25s",
)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the artifacts."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def stable_hash(obj: object) -> str:
    """Short hash of a JSON-serialisable object (key order does not matter)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def file_fingerprint(paths: Iterable[Path]) -> str:
    """Content hash of files (name, size and bytes), in sorted name order.

    Content, not modification times: a fresh clone or a copied folder has new mtimes but the
    same data, and should not trigger a rebuild. Hashing runs at ~1 GB/s, so even ml-32m's
    ratings take about a second.
    """
    digest = hashlib.blake2b(digest_size=12)
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Manifest:
    """What an artifact folder holds and how it was made."""

    dataset: str
    source: str
    data_fingerprint: str
    settings: dict[str, Any]
    versions: dict[str, str]
    built_at: float
    #: component name -> {"key": hash of its inputs, "seconds": build time, "files": {...}}
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        """Serialised form written to ``manifest.json``."""
        return json.dumps(self.__dict__, indent=2, sort_keys=True, default=str)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Read ``folder/manifest.json``; :class:`ArtifactError` if missing, unreadable or not
        shaped like a manifest (then everything is rebuilt)."""
        path = folder / MANIFEST
        if not path.exists():
            raise ArtifactError(f"No built artifacts in {folder} (no {MANIFEST}).")
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError) as err:  # ValueError: bad JSON/UTF-8
            raise ArtifactError(f"The manifest in {folder} is corrupt ({err}); rebuild.") from err
        if isinstance(data, dict) and data.get("format", FORMAT_VERSION) != FORMAT_VERSION:
            raise ArtifactError(
                f"Artifacts in {folder} have format {data.get('format')!r}, "
                f"this code reads format {FORMAT_VERSION}; rebuild them."
            )
        if problem := _shape_problem(data):
            raise ArtifactError(f"The manifest in {folder} is corrupt ({problem}); rebuild.")
        return cls(**data)

    def age_seconds(self) -> float:
        """Seconds since the build finished."""
        return max(0.0, time.time() - self.built_at)


#: Manifest fields and the JSON types they must have (checked before anything reads them).
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "dataset": str,
    "source": str,
    "data_fingerprint": str,
    "settings": dict,
    "versions": dict,
    "built_at": (int, float),
    "components": dict,
    "report": dict,
    "format": int,
}


def _shape_problem(data: object) -> str:
    """What makes parsed JSON not a manifest ("" when it is one). Component entries are only
    checked for being objects here; their files are checked per component (a bad entry then
    rebuilds that component alone)."""
    if not isinstance(data, dict):
        kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        return f"{kinds.get(type(data), 'a number')}, not an object"
    missing = [name for name in _FIELDS if name not in data]
    if missing:
        return f"missing {', '.join(missing)}"
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}"
    wrong = [
        name
        for name, kind in _FIELDS.items()
        if not isinstance(data[name], kind) or isinstance(data[name], bool)
    ]
    if wrong:
        return f"wrong type of {', '.join(wrong)}"
    bad = sorted(name for name, entry in data["components"].items() if not isinstance(entry, dict))
    if bad:
        return f"component entry {', '.join(bad)} is not an object"
    return ""


def file_digest(path: Path) -> str:
    """blake2b content hash of one file (what the manifest records per artifact file)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, _new_digest).hexdigest()


def _new_digest() -> Any:
    return hashlib.blake2b(digest_size=16)


def folder_files(folder: Path) -> dict[str, dict[str, Any]]:
    """Relative path -> ``{"size", "blake2b"}`` of every file under ``folder``.

    Hashed once when a build writes a component; loading checks the same hashes, so a file
    changed on disk after the build (same size or not) is never served."""
    return {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "blake2b": file_digest(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def verify_component(folder: Path, name: str, manifest: Manifest, *, content: bool = True) -> None:
    """Raise :class:`ArtifactError` if a component's files differ from what the manifest lists.

    Names, sizes and (with ``content``) the blake2b hash of every file are compared; the error
    names the files. ``content=False`` is the cheap check (no file is read)."""
    entry = manifest.components.get(name)
    if entry is None:
        raise ArtifactError(f"Component {name!r} is not in the manifest of {folder}.")
    expected = entry.get("files")
    if not isinstance(expected, dict) or not all(_is_file_entry(v) for v in expected.values()):
        raise ArtifactError(
            f"Artifact {name!r} in {folder} has no content hashes in the manifest "
            "(built by an older version of the code); rebuild it."
        )
    base = folder / name
    actual = (
        {str(p.relative_to(base)): p for p in sorted(base.rglob("*")) if p.is_file()}
        if base.is_dir()
        else {}
    )
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    resized = sorted(
        k for k in expected if k in actual and actual[k].stat().st_size != expected[k]["size"]
    )
    changed = []
    if content and not (missing or extra or resized):
        changed = [k for k in sorted(expected) if file_digest(actual[k]) != expected[k]["blake2b"]]
    parts = (
        f"missing {', '.join(missing)}" if missing else "",
        f"unexpected file {', '.join(extra)}" if extra else "",
        f"size changed: {', '.join(resized)}" if resized else "",
        f"content changed since the build: file {', '.join(changed)}" if changed else "",
    )
    if detail := "; ".join(p for p in parts if p):
        raise ArtifactError(f"Artifact {name!r} in {folder} is damaged ({detail}).")


def recorded_bytes(entry: Mapping[str, Any]) -> int:
    """Total size of a component's files as its manifest entry records them."""
    files = entry.get("files")
    if not isinstance(files, dict):
        return 0
    return sum(f["size"] for f in files.values() if _is_file_entry(f))


def _is_file_entry(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("size"), int)
        and isinstance(value.get("blake2b"), str)
    )


class ArtifactWriter:
    """Writes a new version of a data set's artifact folder and swaps it in atomically.

    Usage::

        with ArtifactWriter(root / "builtin") as writer:
            scorer.save(writer.component_dir("svd"))
            writer.record("svd", key, seconds)
            writer.commit(manifest)

    Components that are still fresh can be carried over from the previous folder with
    :meth:`reuse` (hard links where possible, so it costs no disk and no time).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}-{time.time_ns()}")
        self.components: dict[str, dict[str, Any]] = {}
        self._committed = False

    def __enter__(self) -> ArtifactWriter:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def component_dir(self, name: str) -> Path:
        """Empty folder for a component inside the new version."""
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def record(self, name: str, key: str, seconds: float, **extra: Any) -> None:
        """Note a component as written: its input key, build time and each file's size and
        content hash (hashed here, once, right after the files were written)."""
        files = folder_files(self.tmp / name)
        self.components[name] = {"key": key, "seconds": round(seconds, 3), "files": files, **extra}

    def reuse(self, name: str, previous: Mapping[str, Any]) -> None:
        """Carry a fresh component over from the current folder without rewriting it."""
        src = self.folder / name
        dst = self.tmp / name
        shutil.copytree(src, dst, copy_function=_link_or_copy)
        self.components[name] = dict(previous)

    def commit(self, manifest: Manifest) -> None:
        """Write the manifest last, then replace the old folder in two renames."""
        manifest.components = self.components
        tmp_manifest = self.tmp / (MANIFEST + ".part")
        tmp_manifest.write_text(manifest.to_json())
        _fsync_file(tmp_manifest)
        os.replace(tmp_manifest, self.tmp / MANIFEST)
        old = self.folder.with_name(f".{self.folder.name}.old-{os.getpid()}-{time.time_ns()}")
        # Evaluation results are not rebuilt with the models; keep them with the data set.
        kept = self.folder / KEEP_ON_REBUILD
        if kept.is_dir() and not (self.tmp / KEEP_ON_REBUILD).exists():
            shutil.copytree(kept, self.tmp / KEEP_ON_REBUILD)
        if self.folder.exists():
            os.replace(self.folder, old)
        os.replace(self.tmp, self.folder)
        self._committed = True
        shutil.rmtree(old, ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    # Hard links keep an unchanged rebuild at a few milliseconds even for hundreds of MB.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def clean_stale_temporaries(
    root: Path, max_age_s: float = 3600.0, *, owned: str | None = None
) -> None:
    """Remove temporary folders left by crashed builds: those of data set ``owned`` at once
    (the caller holds its build lock, so no build of it is writing one), the others once older
    than ``max_age_s`` (another data set's build may be running)."""
    if not root.exists():
        return
    now = time.time()
    for path in root.glob(".*.tmp-*"):
        mine = owned is not None and path.name.startswith(f".{owned}.tmp-")
        if path.is_dir() and (mine or now - path.stat().st_mtime > max_age_s):
            shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(".*.old-*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
