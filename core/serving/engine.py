"""The engine: a loaded data set that answers every user-facing operation.

``Engine.open(data)`` returns a ready engine (loading fresh artifacts, building stale ones
through :mod:`core.serving.build`); ``recommend``, ``similar``, ``search`` and ``predict`` are
what the CLI and the app call. Every bad input raises a :class:`~core.errors.WorkbenchError`
with a message fit for a user.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from core.config import BUILTIN_DATA, Settings
from core.data.catalog import Catalog
from core.data.titles import TitleMatch, TitleMatcher
from core.errors import ArtifactError, EmptyQuery, UnknownTitle, UnknownUser, WorkbenchError
from core.progress import Progress, no_progress
from core.serving.artifacts import Manifest, verify_component
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
from core.serving.build import build
from core.serving.results import Recommendations, SearchAnswer
from core.serving.staleness import Staleness, check
from core.serving.threads import one_blas_thread
from core.signals.base import Query, Scorer
from core.signals.registry import COMPONENTS

if TYPE_CHECKING:  # heavy modules (torch, surprise) load when first used, not on import
    from core.search.index import SearchIndex
    from core.signals.encoder import Encoder
    from core.signals.genre_tag import GenreTagScorer
    from core.signals.rating import RatingModel
    from core.signals.semantic import SemanticScorer
    from core.signals.twotower import TwoTowerRetrieval
    from core.tuning import Tuning

#: Collaborative recency of ``recommend(model="recent")``: the decay and floor the evaluation
#: chose on the validation items of the temporal leave-one-out protocol (see
#: docs/experiments/serving.md). Not the default: it costs overall-taste ranking far more
#: than it gains there (see RankerSettings).
RECENT_TASTE: dict[str, float] = {"recency_decay": 5.0, "recency_floor": 0.0}


class Engine:
    """A loaded data set with every signal, ready to answer requests (thread-safe reads)."""

    def __init__(
        self,
        catalog: Catalog,
        scorers: Mapping[str, Scorer],
        search_index: SearchIndex,
        settings: Settings,
        manifest: Manifest | None = None,
        folder: Path | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.catalog = catalog
        #: What the build chose on validation for this data set (None: registry defaults).
        self.tuning = tuning
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
        self._encoder: Encoder | None = None
        #: What happened while opening (a damaged component rebuilt, and why).
        self.notes: list[str] = []

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
        # File contents are hashed by ``load`` as it reads them; hashing here too would read
        # every artifact twice.
        status = check(data, settings, content=False)
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
            names = err.components or {entry.name for entry in COMPONENTS}
            note = f"Rebuilding {', '.join(sorted(names))}: {err}"
            (progress or no_progress)(note, 0.0)
            build(data, settings, rebuild=names, progress=progress)
            engine = cls.load(status.folder, settings)
            engine.notes.append(note)
            return engine

    @classmethod
    def load(cls, folder: Path, settings: Settings | None = None) -> Engine:
        """Load a built artifact folder (no staleness check; see :meth:`open`)."""
        settings = settings or Settings()
        everything = {entry.name for entry in COMPONENTS}
        try:
            manifest = Manifest.read(folder)
        except ArtifactError as err:
            err.components = everything
            raise
        loaded: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for entry in COMPONENTS:
            try:
                # Content hashes first: a changed file is never parsed, let alone served.
                verify_component(folder, entry.name, manifest)
                loaded[entry.name] = entry.load(folder / entry.name)
            except Exception as err:  # any unreadable file (truncated, zlib...) -> rebuild it
                known = isinstance(err, WorkbenchError)  # already a sentence for the user
                failed[entry.name] = str(err) if known else f"{type(err).__name__}: {err}"
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
            error.components = everything if "catalog" in failed else set(failed)
            raise error
        scorers = {n: obj for n, obj in loaded.items() if isinstance(obj, Scorer)}
        # The metadata signal's text part is the semantic scorer (built from the same vectors):
        # share it rather than keep a second copy of the matrix in memory.
        scorers["metadata"].share_text(scorers["semantic"])
        # Recent taste is a view of the collaborative model: share the engine's one.
        scorers["recent"].use_ranker(scorers["collab"])
        return cls(catalog, scorers, loaded["search"], settings, manifest, folder,
                   tuning=loaded.get("tuning"))  # fmt: skip

    def warm_up(self) -> None:
        """Load the query encoder and run one search, so the first real request is fast."""
        _ = self.encoder
        with contextlib.suppress(WorkbenchError):
            self.search("a warm-up request about space", top=1)
        # The adapter's movie side, used by long stories, is computed once.
        self.search_index.movie_vectors(self.search_index.active_adapter)

    # helpers --------------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        """The query encoder (loaded on first use, one torch thread), shared by every scorer
        that encodes query text."""
        if self._encoder is None:
            from core.signals.encoder import Encoder

            self._encoder = Encoder(self.settings.embed_model, threads=self.settings.torch_threads)
            for scorer in self.scorers.values():
                scorer.set_encoder(self._encoder)
        return self._encoder

    @property
    def default_weights(self) -> Weights:
        """The blend weights of a recommendation when none are given: those the build tuned
        on this data set's validation ratings, else the registry's defaults."""
        chosen = self.tuning.weights if self.tuning is not None and self.tuning.tuned else {}
        known = {name: w for name, w in chosen.items() if name in SIGNALS}
        return Weights(**known) if known else Weights()

    @property
    def rating_model(self) -> RatingModel:
        """The stacked rating model (predicted ratings)."""
        return cast("RatingModel", self.scorers["svd"])

    @property
    def semantic(self) -> SemanticScorer:
        """The semantic signal (its movie vectors feed clusters and maps)."""
        return cast("SemanticScorer", self.scorers["semantic"])

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

    @one_blas_thread
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
            if name == "genre_tag":  # the genre/tag share is a per-request slider
                scorer = cast("GenreTagScorer", scorer).with_genre_weight(weights.genre_weight)
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
        ids = self.catalog.movie_ids[items]
        frame = self.rating_model.predict(query.user_id, ids, ratings=dict(query.ratings) or None)
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
    @one_blas_thread
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
        from core.signals.ranking import CollabRanker

        swap: dict[str, Scorer] = {}
        collab = self.scorers.get("collab")
        if model == "recent" and isinstance(collab, CollabRanker):
            swap["collab"] = collab.with_params(**RECENT_TASTE)
        weights = weights or self.default_weights
        return self._rank(query, weights, filters or Filters(), top, notes, swap)

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
        retrieval = cast("TwoTowerRetrieval", scorer)
        items, scores, more = retrieval.retrieve(query, top, exclude=~mask)
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

    @one_blas_thread
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

    @one_blas_thread
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

    @one_blas_thread
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
        """Genre-combination clusters of this catalogue (core.search.clusters), made on first
        use."""
        from core.search.clusters import GenreClusters

        embeddings = np.asarray(self.semantic.embeddings, dtype=np.float32)
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

    @one_blas_thread
    def predict(
        self, user_id: int | None, movie_ids: list[int], ratings: Mapping[int, float] | None = None
    ) -> pd.DataFrame:
        """SVD predicted ratings with Surprise-style ``was_impossible`` fallbacks."""
        ids = np.asarray(movie_ids, dtype=np.int64)
        return self.rating_model.predict(user_id, ids, ratings=dict(ratings) if ratings else None)

    def status(self) -> Staleness:
        """Freshness of this engine's artifacts against the data and settings now."""
        source = self.manifest.source if self.manifest else BUILTIN_DATA
        return check(source, self.settings)
