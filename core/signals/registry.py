"""The one list of built components: name, label, help, colour, version and what each needs.

Adding a signal means writing its scorer module and one :class:`Component` entry here (plus its
test): the build, the loader, the staleness check, the blend and the app's sliders all iterate
:data:`COMPONENTS`. Nothing is built or loaded here; the build is :mod:`core.serving.build`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.config import Settings
from core.data.catalog import Catalog
from core.data.store import read_catalog
from core.errors import ArtifactError
from core.progress import Progress, no_progress

#: Every component is named by its import path ("module:attribute") and resolved when it is
#: built or loaded: the registry is the one place that knows every part, so it must sit below
#: all of them (no import cycle) and cost nothing to read (no torch, faiss or surprise).

#: Libraries whose upgrade makes saved movie vectors disagree with what the running encoder
#: computes for a query (arrays still load: such components are rebuilt for consistency).
ENCODER_LIBRARIES = ("torch", "sentence-transformers", "transformers")


@dataclass
class BuildContext:
    """What a component's ``fit`` gets: the catalogue, the settings, a progress callback and
    the components it needs (built earlier in this build, or loaded from the current folder).
    """

    catalog: Catalog
    settings: Settings
    progress: Progress = no_progress
    #: ``needed(name)`` returns a component this one depends on (see :attr:`Component.needs`).
    needed: Callable[[str], Any] = field(default=lambda name: None)


@dataclass(frozen=True)
class Component:
    """One built part of a data set's artifacts.

    Attributes:
        name: folder and manifest key.
        version: bump when the saved format or the output changes (stale artifacts rebuild).
        fit: builds the component from a :class:`BuildContext`; the result has ``save(folder)``.
        load: reads it back from its folder.
        label, help, color: how the app shows a blend signal (sliders, charts, legends).
        default_weight: the signal's weight in the default blend; ``None`` = not a blend signal.
        settings: the parts of :class:`Settings` that shape it (they enter its input key).
        needs: components it reads; it is rebuilt whenever one of them is.
        libraries: libraries whose upgrade makes it stale.
        build_share: rough share of a full build's time (for progress bars).
        spark: trained by the Spark engine when ``build(engine="spark")``.
        describe: what the fitted component chose on validation (manifest and ``status``).
    """

    name: str
    version: int
    fit: Callable[[BuildContext], Any]
    load: Callable[[Path], Any]
    label: str = ""
    help: str = ""
    color: str | None = None
    default_weight: float | None = None
    settings: Callable[[Settings], tuple[Any, ...]] = field(default=lambda s: ())
    needs: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    build_share: float = 0.01
    spark: bool = False
    #: What the fitted component chose on validation, recorded in the manifest (``None``: it
    #: chooses nothing). Must return plain JSON values.
    describe: Callable[[Any], dict[str, Any]] | None = None

    @property
    def is_signal(self) -> bool:
        """Whether the component is a blend signal (it has a default weight)."""
        return self.default_weight is not None


def _attr(path: str) -> Any:
    """The object at ``"package.module:attribute"`` (imported on first use)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# -- fit and load functions (resolved lazily: only what a build or a load touches) ------------
def _load_catalog(folder: Path) -> Catalog:
    return read_catalog(folder)


def _fit_catalog(ctx: BuildContext) -> Any:
    raise RuntimeError("the catalogue is read from the data folder, not fitted")  # see build


def _fit_svd(ctx: BuildContext) -> Any:
    RatingModel = _attr("core.signals.rating:RatingModel")

    return RatingModel(ctx.settings).fit(ctx.catalog)


def _load_svd(folder: Path) -> Any:
    RatingModel = _attr("core.signals.rating:RatingModel")

    return RatingModel.load(folder)


def _describe_svd(model: Any) -> dict[str, Any]:
    """The rating stack's components, chosen blend form and its validation RMSE (every
    candidate's score and the samplers' scales stay in rating.json)."""
    choices = model.choices
    blend = choices.get("blend", {})
    rmse = choices.get("validation RMSE", {})
    record = {
        "components": choices.get("components", []),
        "blend": blend.get("chosen") if isinstance(blend, dict) else blend,
        "validation RMSE": rmse.get("blend") if isinstance(rmse, dict) else None,
        "notes": choices.get("notes", []),
    }
    return {k: v for k, v in record.items() if v not in (None, [])}


def _fit_collab(ctx: BuildContext) -> Any:
    make_ranker = _attr("core.signals.ranking:make_ranker")

    settings = ctx.needed("tuning").apply(ctx.settings)  # the regularisation and recency chosen
    return make_ranker(ctx.catalog, settings).fit(ctx.catalog)


def _fit_recent(ctx: BuildContext) -> Any:
    RecentTaste = _attr("core.signals.recent:RecentTaste")

    return RecentTaste().fit(ctx.catalog, ctx.needed("collab"))


def _load_recent(folder: Path) -> Any:
    RecentTaste = _attr("core.signals.recent:RecentTaste")

    return RecentTaste.load(folder)


def _recent_settings(settings: Settings) -> tuple[Any, ...]:
    return (_attr("core.signals.recent:RECENT_DECAY"),)


def _fit_tuning(ctx: BuildContext) -> Any:
    import numpy as np

    Tuning = _attr("core.tuning:Tuning")
    tune = _attr("core.tuning:tune")

    if ctx.settings.tune is False:
        return Tuning(tuned=False, notes=["built with --no-tune: the built-in defaults"])
    embeddings = np.asarray(ctx.needed("semantic").embeddings)
    return tune(ctx.catalog, ctx.settings, embeddings, progress=ctx.progress)


def _load_tuning(folder: Path) -> Any:
    Tuning = _attr("core.tuning:Tuning")

    return Tuning.load(folder)


def _describe_tuning(tuning: Any) -> dict[str, Any]:
    return tuning.record()


def _load_collab(folder: Path) -> Any:
    RANKERS = _attr("core.signals.ranking:RANKERS")

    errors = []
    for kind, cls in RANKERS.items():  # the folder records which ranker was built
        try:
            return cls.load(folder)
        except (OSError, ValueError, KeyError) as err:
            errors.append(f"{kind}: {err}")
    raise ArtifactError(f"No collaborative ranker could be loaded from {folder}: {errors}")


def _fit_genre_tag(ctx: BuildContext) -> Any:
    GenreTagScorer = _attr("core.signals.genre_tag:GenreTagScorer")

    return GenreTagScorer(ctx.settings).fit(ctx.catalog)


def _load_genre_tag(folder: Path) -> Any:
    GenreTagScorer = _attr("core.signals.genre_tag:GenreTagScorer")

    return GenreTagScorer.load(folder)


def _fit_semantic(ctx: BuildContext) -> Any:
    import os

    movie_text = _attr("core.data.enrich:movie_text")
    Encoder = _attr("core.signals.encoder:Encoder")
    SemanticScorer = _attr("core.signals.semantic:SemanticScorer")

    # Bulk encoding uses every core; query-time encoding keeps one thread (see Settings).
    encoder = Encoder(
        ctx.settings.embed_model,
        threads=max(1, os.cpu_count() or 1),
        vector_cache=ctx.settings.cache_dir / "embeddings",
    )
    return SemanticScorer(ctx.settings, encoder=encoder).fit(
        ctx.catalog,
        texts=movie_text(ctx.catalog.movies, long=False),
        progress=lambda i, n: ctx.progress(f"{i}/{n} movies", i / max(n, 1)),
    )


def _load_semantic(folder: Path) -> Any:
    SemanticScorer = _attr("core.signals.semantic:SemanticScorer")

    return SemanticScorer.load(folder)


def _fit_factors(ctx: BuildContext) -> Any:
    TasteFactors = _attr("core.signals.factors:TasteFactors")

    return TasteFactors(ctx.settings).fit(ctx.catalog)


def _load_factors(folder: Path) -> Any:
    TasteFactors = _attr("core.signals.factors:TasteFactors")

    return TasteFactors.load(folder)


def _factors_settings(settings: Settings) -> tuple[Any, ...]:
    module = importlib.import_module("core.signals.factors")
    return (module.FACTORS, module.REGULARIZATION, module.ALPHA, module.ITERATIONS,
            settings.ranker.random_state)  # fmt: skip


def _fit_popularity(ctx: BuildContext) -> Any:
    PopularityPrior = _attr("core.signals.popularity:PopularityPrior")

    return PopularityPrior(ctx.settings).fit(ctx.catalog)


def _load_popularity(folder: Path) -> Any:
    PopularityPrior = _attr("core.signals.popularity:PopularityPrior")

    return PopularityPrior.load(folder)


def _fit_crew(ctx: BuildContext) -> Any:
    CrewScorer = _attr("core.signals.crew:CrewScorer")

    return CrewScorer().fit(ctx.catalog)


def _load_crew(folder: Path) -> Any:
    CrewScorer = _attr("core.signals.crew:CrewScorer")

    return CrewScorer.load(folder)


def _fit_metadata(ctx: BuildContext) -> Any:
    MetadataScorer = _attr("core.signals.metadata:MetadataScorer")

    return MetadataScorer().fit(ctx.catalog, semantic=ctx.needed("semantic"))


def _load_metadata(folder: Path) -> Any:
    MetadataScorer = _attr("core.signals.metadata:MetadataScorer")

    return MetadataScorer.load(folder)


def _metadata_settings(settings: Settings) -> tuple[Any, ...]:
    METADATA_WEIGHT = _attr("core.signals.metadata:METADATA_WEIGHT")

    return (METADATA_WEIGHT,)


def _fit_search(ctx: BuildContext) -> Any:
    movie_text = _attr("core.data.enrich:movie_text")
    SearchIndex = _attr("core.search.index:SearchIndex")

    semantic = ctx.needed("semantic")
    return SearchIndex.build(ctx.catalog, movie_text(ctx.catalog.movies, long=True),
                             semantic.embeddings)  # fmt: skip


def _load_search(folder: Path) -> Any:
    SearchIndex = _attr("core.search.index:SearchIndex")

    return SearchIndex.load(folder)


def _fit_twotower(ctx: BuildContext) -> Any:
    import numpy as np

    TwoTowerRetrieval = _attr("core.signals.twotower:TwoTowerRetrieval")

    semantic = ctx.needed("semantic")
    return TwoTowerRetrieval().fit(ctx.catalog, np.asarray(semantic.embeddings),
                                   progress=ctx.progress)  # fmt: skip


def _load_twotower(folder: Path) -> Any:
    TwoTowerRetrieval = _attr("core.signals.twotower:TwoTowerRetrieval")

    return TwoTowerRetrieval.load(folder)


def _twotower_settings(settings: Settings) -> tuple[Any, ...]:
    TwoTowerConfig = _attr("core.signals.twotower:TwoTowerConfig")

    return (asdict(TwoTowerConfig()),)


# -- the registry -----------------------------------------------------------------------------
#: Every component in build order (later ones may need earlier ones). Blend signals appear in
#: the order the app shows them.
COMPONENTS: tuple[Component, ...] = (
    Component(
        "catalog",
        1,
        _fit_catalog,
        _load_catalog,
        build_share=0.08,
        settings=lambda s: (s.use_tmdb, s.use_plots),
    ),
    Component(
        "svd",
        3,
        _fit_svd,
        _load_svd,
        build_share=0.12,  # 2: SVD + kNN stacked ensemble; 3: + Bayesian MF, choices
        settings=lambda s: (s.svd, s.rating),
        describe=_describe_svd,
    ),
    Component(
        "collab",
        3,  # 3: fitted with the tuning component's choices
        _fit_collab,
        _load_collab,
        build_share=0.06,
        needs=("tuning",),
        spark=True,
        label="Collaborative",
        help="People who liked what you liked also liked… (EASE/ALS on the rating matrix).",
        color="#D9480F",
        default_weight=0.5,
        settings=lambda s: (s.ranker,),
    ),
    Component(
        "recent",
        1,
        _fit_recent,
        _load_recent,
        build_share=0.0,
        label="Recent taste",
        help="What people watched after the movies you rated last (the collaborative model "
        "led by your latest ratings).",
        color="#E8590C",
        default_weight=0.0,
        settings=_recent_settings,
        needs=("collab",),
    ),
    Component(
        "factors",
        1,
        _fit_factors,
        _load_factors,
        build_share=0.01,
        label="Taste factors",
        help="The broad strokes of your taste: a few latent factors learned from everyone's "
        "ratings (ALS), beside the collaborative signal's movie-to-movie links.",
        color="#5C940D",
        default_weight=0.0,  # the build's tuning sets it where validation says it helps
        settings=_factors_settings,
        libraries=("implicit",),
    ),
    Component(
        "genre_tag",
        3,  # 3: saved as arrays + JSON (no pickle)
        _fit_genre_tag,
        _load_genre_tag,
        build_share=0.03,
        label="Genre & tags",
        help="Shared genres and user tags.",
        color="#1971C2",
        default_weight=0.5,
    ),
    Component(
        "semantic",
        3,  # 3: saved as arrays + JSON (no pickle)
        _fit_semantic,
        _load_semantic,
        build_share=0.4,
        label="Semantic",
        help="Similar plot, themes and mood (sentence embeddings of the movie text).",
        color="#7048E8",
        default_weight=0.4,
        settings=lambda s: (s.embed_model,),
        libraries=ENCODER_LIBRARIES,
    ),
    Component(
        "popularity",
        1,
        _fit_popularity,
        _load_popularity,
        build_share=0.01,
        spark=True,
        label="Popularity",
        help="Well rated by many people (damped mean rating).",
        color="#2B8A3E",
        default_weight=0.0,
        settings=lambda s: (s.prior_damping,),
    ),
    Component(
        "crew",
        1,
        _fit_crew,
        _load_crew,
        build_share=0.01,
        label="Director & cast",
        help="Same directors and lead actors as the movies you liked.",
        color="#C2255C",
        default_weight=0.05,
    ),
    Component(
        "metadata",
        3,  # 3: saved as arrays + JSON (no pickle)
        _fit_metadata,
        _load_metadata,
        build_share=0.01,
        label="TMDB metadata",
        help="Similar text, nudged towards movies TMDB's audience rated well and often.",
        color="#E67700",
        default_weight=0.0,
        settings=_metadata_settings,
        needs=("semantic",),
        libraries=ENCODER_LIBRARIES,
    ),
    Component(
        "tuning",
        2,  # 2: taste factors tried first
        _fit_tuning,
        _load_tuning,
        build_share=0.12,
        # Choices depend on the data, on the defaults tuning starts from, and on the models
        # it weighs (the taste factors' settings and library: a new model needs new weights).
        settings=lambda s: (s.ranker, s.genre_weight, s.prior_damping, *_factors_settings(s)),
        needs=("semantic",),
        libraries=("implicit",),
        describe=_describe_tuning,
    ),
    Component(
        "search",
        2,
        _fit_search,
        _load_search,
        build_share=0.05,
        needs=("semantic",),
        libraries=(*ENCODER_LIBRARIES, "bm25s"),
    ),
    Component(
        "twotower",
        2,
        _fit_twotower,
        _load_twotower,
        build_share=0.17,
        label="Two-tower",
        help="A neural two-tower model of users and movies (also ranks unrated movies).",
        color="#0C8599",
        settings=_twotower_settings,
        needs=("semantic",),
        libraries=ENCODER_LIBRARIES,
    ),
)

#: Components by name.
BY_NAME: Mapping[str, Component] = {c.name: c for c in COMPONENTS}
#: Names of the blend signals, in the order the app shows them.
SIGNALS: tuple[str, ...] = tuple(c.name for c in COMPONENTS if c.is_signal)


def build_order() -> tuple[Component, ...]:
    """:data:`COMPONENTS` with every component after the ones it needs (registry order
    otherwise): the order of building and of input keys. The registry itself keeps the order
    the app shows signals in."""
    done: list[Component] = []
    names: set[str] = set()
    pending = list(COMPONENTS)
    while pending:
        entry = next(c for c in pending if all(n in names for n in c.needs))
        pending.remove(entry)
        done.append(entry)
        names.add(entry.name)
    return tuple(done)


def component(name: str) -> Component:
    """The registry entry called ``name`` (``KeyError`` for an unknown name)."""
    return BY_NAME[name]


def dependants(names: set[str]) -> set[str]:
    """``names`` plus every component that needs one of them, transitively."""
    out = set(names)
    changed = True
    while changed:
        changed = False
        for entry in COMPONENTS:
            if entry.name not in out and any(n in out for n in entry.needs):
                out.add(entry.name)
                changed = True
    return out
