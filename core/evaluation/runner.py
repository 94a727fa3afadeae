"""Offline evaluation driver: runs the chosen parts on a data set and writes their sections.

``python -m core evaluate`` calls :func:`run`; results go to
``artifacts/<dataset>/evaluation/<section>.json`` (:mod:`core.evaluation.results`). Orchestration
only: each part measures in its own module, choosing settings on validation, never on test.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.config import Settings
from core.evaluation.ranking import evaluate_ranking_loo, evaluate_ranking_stratified
from core.evaluation.rating import evaluate_rating
from core.evaluation.results import Section, write_section
from core.evaluation.search import evaluate_search, read_queries, sample_queries
from core.progress import Progress, no_progress

if TYPE_CHECKING:
    from core.serving.engine import Engine

#: "models": two-tower, cold start, ANN, crew/metadata, genre clusters (core.evaluation.models);
#: "chat": the everyday chat on ReDial-style requests (core.evaluation.chat).
PARTS = ("rating", "ranking", "search", "models", "chat")


def run(
    data: str | Path | None,
    settings: Settings | None = None,
    *,
    parts: Iterable[str] = PARTS,
    queries: Path | None = None,
    requests: Path | None = None,
    quick: bool = False,
    progress: Progress = no_progress,
) -> dict[str, Section]:
    """Run the chosen parts on a data set and write each section's JSON next to its artifacts.

    ``queries`` (tip-of-the-tongue requests with one answer) feed the search part; ``requests``
    (chat requests with liked answers, ReDial style) the chat part. ``quick`` (``evaluate
    --quick``): fewer folds for rating and search, a seeded sample of users for ranking and of
    requests for search; every section's protocol then says so."""
    from core.serving.engine import Engine

    settings = settings or Settings()
    engine = Engine.open(data, settings, progress=progress)
    catalog = engine.catalog
    embeddings = np.asarray(engine.semantic.embeddings)
    sections: dict[str, Section] = {}
    parts = list(parts)
    if "rating" in parts:
        sections["rating"] = evaluate_rating(catalog, settings, quick=quick, progress=progress)
    if "ranking" in parts:
        sections["ranking_stratified"] = evaluate_ranking_stratified(
            catalog, settings, embeddings, quick=quick, progress=progress
        )
        sections["ranking_loo"] = evaluate_ranking_loo(
            catalog, settings, embeddings, quick=quick, progress=progress
        )
    if "search" in parts and queries is not None:
        from core.search.rerank import file_digest

        requests = read_queries(queries)
        sections["search"] = evaluate_search(
            engine, sample_queries(requests) if quick else requests, progress=progress,
            queries_digest=file_digest(queries), quick=quick,
        )  # fmt: skip
    if "models" in parts:
        from core.evaluation.models import evaluate_models

        sections.update(evaluate_models(
            engine, settings, queries=read_queries(queries) if queries else None,
            progress=progress,
        ))  # fmt: skip
    if "chat" in parts and requests is not None:
        sections["chat"] = _chat_part(engine, requests, progress)
    if engine.folder is not None:
        dataset = engine.manifest.dataset if engine.manifest else catalog.name
        for section in sections.values():
            section.dataset = dataset
            write_section(engine.folder / "evaluation", section, dataset=dataset)
    return sections


def _chat_part(engine: Engine, requests: Path, progress: Progress) -> Section:
    from core.chat import Chat
    from core.evaluation.chat import chat_section, read_requests
    from core.search.rerank import file_digest

    progress("chat: answering the requests", 0.0)
    found, problems = read_requests(requests)
    section = chat_section(Chat(engine), found, digest=file_digest(requests))
    if problems:
        section.chosen["skipped lines"] = problems[:20]
    return section
