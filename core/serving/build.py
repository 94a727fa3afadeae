"""Building a data set's artifacts: every registry component, fresh ones reused as they are.

``build(data)`` reads the data folder into a catalogue, fits each stale component of
:data:`core.signals.registry.COMPONENTS` in order and swaps the new folder in atomically. It
only builds and records; loading and answering requests is :mod:`core.serving.engine`.

One build per data set at a time: ``build`` holds ``artifacts/<dataset>.lock`` (an OS file
lock, so it also covers other processes: the CLI, other app servers). A second build waits
for the first, then finds its components fresh and reuses them instead of fitting them again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from core.config import Settings
from core.data.catalog import Catalog, LoadReport
from core.data.store import read_catalog, write_catalog
from core.errors import WorkbenchError
from core.progress import Progress, no_progress
from core.serving.artifacts import (
    ArtifactWriter,
    Manifest,
    clean_stale_temporaries,
    library_versions,
)
from core.serving.staleness import (
    Staleness,
    check,
    component_keys,
    data_fingerprint,
    dataset_id,
    resolve_data,
)
from core.signals.registry import COMPONENTS, BuildContext, Component, build_order, dependants

#: Training engines of ``build(engine=...)``; Spark trains the registry's ``spark`` components.
ENGINES: tuple[str, ...] = ("local", "spark")


@dataclass
class BuildResult:
    """What a build did: components built and reused, with seconds each."""

    dataset: str
    built: dict[str, float] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    report: LoadReport | None = None
    seconds: float = 0.0


def build(
    data: str | Path | None = None,
    settings: Settings | None = None,
    *,
    force: bool = False,
    rebuild: frozenset[str] | set[str] = frozenset(),
    progress: Progress | None = None,
    engine: str = "local",
    spark_master: str = "local[*]",
) -> BuildResult:
    """Build (or refresh) the artifacts of ``data``; fresh components are reused as they are.

    ``force`` rebuilds everything; ``rebuild`` names components to rebuild even though their
    manifest entry looks fresh (for instance because loading them failed). ``engine="spark"``
    trains the ALS "collab" ranker and the "popularity" aggregates with Apache Spark on
    ``spark_master`` (:mod:`core.serving.spark`); the artifacts are served the same way.
    """
    settings = settings or Settings()
    progress = progress or no_progress
    resolved = resolve_data(data)
    if engine not in ENGINES:
        raise WorkbenchError(f"Unknown engine {engine!r}; choose one of {', '.join(ENGINES)}.")
    with build_lock(lock_path(resolved, settings), progress):
        return _build(resolved, settings, force, rebuild, progress, engine, spark_master)


def lock_path(data: str | Path | None, settings: Settings | None = None) -> Path:
    """The lock file a build of ``data`` holds: ``artifacts/<dataset>.lock``."""
    settings = settings or Settings()
    return settings.artifacts_dir / f"{dataset_id(resolve_data(data))}.lock"


@contextmanager
def build_lock(path: Path, progress: Progress = no_progress) -> Iterator[None]:
    """Hold the build lock at ``path``; while another build holds it, say so and wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress("Waiting for another build of this data set to finish", 0.0)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def build_running(data: str | Path | None = None, settings: Settings | None = None) -> bool:
    """Whether a build of ``data`` (in this process or another) holds its lock right now."""
    path = lock_path(data, settings)
    if not path.exists():
        return False
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def _build(
    resolved: str,
    settings: Settings,
    force: bool,
    rebuild: frozenset[str] | set[str],
    progress: Progress,
    engine: str,
    spark_master: str,
) -> BuildResult:
    """The build itself, under the lock: only now is what is stale decided."""
    started = time.perf_counter()
    clean_stale_temporaries(settings.artifacts_dir, owned=dataset_id(resolved))
    if settings.use_tmdb or settings.use_plots:
        from core.data.sources import ensure_sources

        progress("Fetching offline movie text (TMDB, plots)", 0.01)
        ensure_sources(settings)
    status = check(resolved, settings, engine=engine)
    result = BuildResult(status.dataset)
    if _tuning_mode_changed(status, settings):
        rebuild = {*rebuild, "tuning"}
    todo = _todo(status, force, rebuild)
    if engine == "spark" and any(c.spark for c in COMPONENTS if c.name in todo):
        from core.serving.spark import spark_problem

        if problem := spark_problem():  # before an hour of other components, not after
            raise WorkbenchError(problem)
    if not todo:
        result.reused = [c.name for c in COMPONENTS]
        result.report = LoadReport.from_dict(status.manifest.report) if status.manifest else None
        result.seconds = time.perf_counter() - started
        return result
    run = _Run(resolved, settings, status, todo, progress, engine, spark_master)
    run.write(result)
    progress("Done", 1.0)
    result.seconds = time.perf_counter() - started
    return result


def _tuning_mode_changed(status: Staleness, settings: Settings) -> bool:
    """Whether ``settings.tune`` asks for the other mode than the fresh tuning component holds
    (``build --no-tune`` after a tuned build, or the reverse); ``None`` accepts either."""
    if settings.tune is None or "tuning" not in status.fresh or status.manifest is None:
        return False
    chosen = status.manifest.components.get("tuning", {}).get("chosen")
    if not isinstance(chosen, dict):
        return True  # no readable record of what was chosen: tune again as asked
    return bool(chosen.get("tuned", True)) != settings.tune


def _todo(status: Staleness, force: bool, rebuild: frozenset[str] | set[str]) -> set[str]:
    """The components to fit: stale or asked for, plus everything that reads them."""
    names = {c.name for c in COMPONENTS}
    todo = set(names) if force else set(status.stale) | set(rebuild)
    if "catalog" in todo:
        return names  # everything is fitted on the catalogue
    return dependants(todo)


class _Run:
    """One build: fits the components in ``todo`` in registry order into a new folder."""

    def __init__(
        self,
        resolved: str,
        settings: Settings,
        status: Staleness,
        todo: set[str],
        progress: Progress,
        engine: str,
        spark_master: str,
    ) -> None:
        self.resolved = resolved
        self.settings = settings
        self.status = status
        self.todo = todo
        self.progress = progress
        self.engine = engine
        self.spark_master = spark_master
        self.data_fp = data_fingerprint(resolved, settings)
        self.keys = component_keys(self.data_fp, settings, engine)
        self.catalog: Catalog | None = None
        self.built: dict[str, Any] = {}
        self.done = 0.0

    def write(self, result: BuildResult) -> None:
        """Fit or carry over every component, then commit the manifest."""
        with ArtifactWriter(self.status.folder) as writer:
            for entry in build_order():
                if entry.name in self.todo:
                    result.built[entry.name] = self._fit(entry, writer)
                else:
                    assert self.status.manifest is not None
                    writer.reuse(entry.name, self.status.manifest.components[entry.name])
                    result.reused.append(entry.name)
                self.done += entry.build_share
            catalog = self._catalog()
            result.report = catalog.report
            writer.commit(
                Manifest(
                    dataset=self.status.dataset,
                    source=self.resolved,
                    data_fingerprint=self.data_fp,
                    settings=self.settings.model_settings(),
                    versions=library_versions(),
                    built_at=time.time(),
                    report=catalog.report.to_dict(),
                )
            )

    def _fit(self, entry: Component, writer: ArtifactWriter) -> float:
        """Fit one component into its folder of the new version; returns its seconds."""
        self.progress(f"Building {entry.name}", self.done)
        started = time.perf_counter()
        target = writer.component_dir(entry.name)
        step = self._step(entry)
        spark = self.engine == "spark" and entry.spark
        if entry.name == "catalog":
            from core.data.loaders import load_catalog

            self.catalog = load_catalog(self.resolved, self.settings, progress=step)
            write_catalog(self.catalog, target)
        else:
            fitted = self._spark(entry, step) if spark else entry.fit(self._context(step))
            self.built[entry.name] = fitted
            fitted.save(target)
        seconds = time.perf_counter() - started
        extra: dict[str, Any] = {"engine": self.engine} if spark else {}
        if entry.describe is not None and entry.name in self.built:
            extra["chosen"] = entry.describe(self.built[entry.name])
        writer.record(entry.name, self.keys[entry.name], seconds, version=entry.version, **extra)
        return seconds

    def _spark(self, entry: Component, step: Progress) -> Any:
        """The Spark-trained form of ``entry``; one Spark job trains all of them at once."""
        if entry.name not in self.built:
            from core.serving.spark import train_with_spark

            names = [c.name for c in COMPONENTS if c.spark]
            trained = train_with_spark(self._catalog(), self.settings, master=self.spark_master,
                                       progress=step, parts=self.todo & set(names))  # fmt: skip
            self.built.update(zip(("collab", "popularity"), trained, strict=True))
        fitted = self.built[entry.name]
        from core.signals.ranking.base import CollabRanker
        from core.tuning.problems import QUERY_FIELDS

        if entry.name == "collab" and isinstance(fitted, CollabRanker):
            # One Spark job may train the ranker before tuning ran (popularity comes first):
            # the tuned recency and dislike weight are query-time settings, applied now.
            chosen = self._needed("tuning").ranker
            fitted = fitted.with_params(**{k: v for k, v in chosen.items() if k in QUERY_FIELDS})
            self.built[entry.name] = fitted
        return fitted

    def _context(self, step: Progress) -> BuildContext:
        return BuildContext(self._catalog(), self.settings, step, self._needed)

    def _needed(self, name: str) -> Any:
        """A component built earlier in this run, or loaded from the current folder."""
        if name not in self.built:
            from core.signals.registry import component

            self.built[name] = component(name).load(self.status.folder / name)
        return self.built[name]

    def _catalog(self) -> Catalog:
        if self.catalog is None:
            self.catalog = read_catalog(self.status.folder / "catalog")
        return self.catalog

    def _step(self, entry: Component) -> Progress:
        """A progress callback for one component, mapped into its share of the whole."""
        done, share = self.done, entry.build_share

        def inner(message: str, fraction: float) -> None:
            self.progress(f"{entry.name}: {message}", min(0.99, done + share * fraction))

        return inner
