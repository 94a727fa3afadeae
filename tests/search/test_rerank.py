"""The learned search re-ranker: features, model, persistence, cross-validation, search use."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.search import rerank
from core.search.index import SearchConfig, SearchIndex
from core.search.request import NARRATIVE_WORDS, parse_request
from core.search.rerank import (
    CHUNK_WORDS,
    FEATURES,
    MAX_CHUNKS,
    SearchReranker,
    TrainingRows,
    features,
    request_chunks,
)
from core.signals.encoder import Encoder
from core.signals.semantic import SemanticScorer, fallback_text

#: Narrative requests (more than NARRATIVE_WORDS words) about movies of the tiny catalogue.
STORIES = {
    7: "I saw this years ago and I keep thinking about it: a team of astronauts flies through "
    "a wormhole near Saturn because the earth is dying, they want to save humanity and find a "
    "new home planet, and time runs differently for them than for the family back home.",
    1: "There is a crew on a cargo ship in deep space and they pick up a signal, then a deadly "
    "alien creature gets on board and starts killing them one by one in the dark corridors "
    "of the ship, and only one woman and the cat are left at the end of it.",
    9: "A romantic comedy where a man who owns a small bookshop in London falls for a very "
    "famous film star who walks into his shop one day, and his strange flatmate keeps making "
    "things awkward, and there is a press conference at the end where she waits for him.",
    19: "A writer takes a job looking after an isolated hotel in the mountains during the "
    "winter with his wife and son, the boy has visions, and slowly the writer goes mad and "
    "chases his family through the snowy maze with an axe, it was really scary back then.",
    5: "A cyborg assassin is sent back in time from the future to kill a young woman whose "
    "unborn son will lead the human resistance against the machines, and a soldier is also "
    "sent back to protect her, lots of chases and a factory at the end of the film.",
    6: "A hacker finds out that the world he lives in is a simulation made by machines and the "
    "people are kept asleep in pods, he takes a pill and wakes up, learns kung fu and can stop "
    "bullets in the end, everyone wore sunglasses and long black coats in this one.",
}


@pytest.fixture(scope="module")
def index(tiny_catalog, encoder: Encoder) -> SearchIndex:
    semantic = SemanticScorer(encoder=encoder).fit(tiny_catalog)
    return SearchIndex.build(
        tiny_catalog, fallback_text(tiny_catalog, long=True), semantic.embeddings
    )


def rows_for(index: SearchIndex, catalog, encoder: Encoder) -> TrainingRows:
    parts = []
    for movie_id, story in STORIES.items():
        request = parse_request(story, catalog)
        vector = encoder.encode_query(request.text)
        chunks = index.chunk_vectors(request.text, encoder)
        answer = catalog.item_of[movie_id]
        parts.append(rerank.candidate_rows(index, request, vector, chunks, answer))
    return TrainingRows.stack(parts)


def test_stories_are_narrative(tiny_catalog) -> None:
    for story in STORIES.values():
        assert len(story.split()) > NARRATIVE_WORDS
        assert parse_request(story, tiny_catalog).narrative


def test_request_chunks() -> None:
    assert request_chunks("a short request about a heist") == []
    words = [f"w{i}" for i in range(CHUNK_WORDS + 100)]
    chunks = request_chunks(" ".join(words))
    assert len(chunks) >= 2
    assert chunks[0].split()[0] == "w0" and all(len(c.split()) <= CHUNK_WORDS for c in chunks)
    covered = {w for c in chunks for w in c.split()}
    assert covered == set(words)  # overlapping windows leave nothing out
    huge = request_chunks(" ".join(f"w{i}" for i in range(CHUNK_WORDS * 50)))
    assert len(huge) == MAX_CHUNKS


def test_features_shape_and_meaning(index: SearchIndex, tiny_catalog, encoder) -> None:
    request = parse_request(STORIES[7], tiny_catalog)
    signals = index.request_signals(request, encoder.encode_query(request.text))
    pool = signals.pool(np.ones(index.n_items, dtype=bool))
    matrix = features(signals, index.facts, pool)
    assert matrix.shape == (len(pool), len(FEATURES)) and np.isfinite(matrix).all()
    column = {name: j for j, name in enumerate(FEATURES)}
    best = int(np.argmax(signals.cosine[pool]))
    assert matrix[best, column["cosine_rank"]] == 0.0  # log1p(rank 0)
    assert matrix[best, column["cosine_scaled"]] == pytest.approx(1.0)
    has_text = index.facts.has_text[pool]
    assert (matrix[~has_text, column["cosine*text"]] == 0).all()
    empty = features(signals, index.facts, np.empty(0, dtype=np.int64))
    assert empty.shape == (0, len(FEATURES))


def test_facts_come_from_the_catalogue(index: SearchIndex, tiny_catalog) -> None:
    unrated = tiny_catalog.item_of[20]  # "Unrated Obscurity": no overview
    assert not index.has_overview[unrated] and index.has_overview[tiny_catalog.item_of[1]]
    assert index.n_tags[tiny_catalog.item_of[1]] == pytest.approx(np.log1p(3))


def test_fit_decision_and_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(600, len(FEATURES))).astype(np.float32)
    labels = (matrix[:, FEATURES.index("cosine")] > 1.2).astype(np.int64)
    model = SearchReranker.fit(matrix, labels, queries="synthetic")
    scores = model.decision(matrix)
    assert scores[labels == 1].mean() > scores[labels == 0].mean() + 1.0
    path = tmp_path / "model.json"
    model.save(path)
    again = SearchReranker.load(path)
    np.testing.assert_allclose(again.decision(matrix), scores, rtol=1e-5, atol=1e-5)
    assert again.trained_on["queries"] == "synthetic" and again.trained_on["rows"] == 600
    with pytest.raises(ValueError, match="both"):
        SearchReranker.fit(matrix, np.zeros(600, dtype=np.int64))


def test_listwise_fit_puts_each_answer_first() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(50 * 12, len(FEATURES))).astype(np.float32)
    groups = np.repeat(np.arange(50), 12)
    labels = np.zeros(len(groups), dtype=np.int64)
    for g in range(50):  # the answer: the row with the highest cosine - 0.5 * popularity
        rows = np.flatnonzero(groups == g)
        key = (
            matrix[rows, FEATURES.index("cosine")]
            - 0.5 * matrix[rows, FEATURES.index("popularity")]
        )
        labels[rows[np.argmax(key)]] = 1
    labels[groups == 49] = 0  # a request whose answer is not among its candidates
    model = SearchReranker.fit(matrix, labels, groups)
    assert model.trained_on["objective"] == "listwise softmax" and model.intercept == 0.0
    scores = model.decision(matrix)
    firsts = [labels[groups == g][np.argmax(scores[groups == g])] for g in range(49)]
    assert np.mean(firsts) > 0.9
    assert model.coef[FEATURES.index("cosine")] > 0 > model.coef[FEATURES.index("popularity")]


def test_wrong_or_broken_model_files_are_refused(tmp_path: Path) -> None:
    payload = SearchReranker(
        np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.ones(len(FEATURES)), 0.0
    ).to_dict()
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**payload, "features": ["bm25"]}))
    with pytest.raises(ValueError, match="features"):
        SearchReranker.load(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert rerank.load_default(str(broken)) is None
    assert rerank.load_default(str(tmp_path / "missing.json")) is None


def test_shipped_model_matches_these_features() -> None:
    model = rerank.load_default()
    assert model is not None, f"{rerank.DEFAULT_PATH} is missing or does not fit FEATURES"
    assert model.trained_on["queries_sha1"] and model.trained_on["requests"] > 1000


def test_search_uses_the_reranker_for_narrative_requests(
    index: SearchIndex, tiny_catalog, encoder
) -> None:
    rows = rows_for(index, tiny_catalog, encoder)
    assert rows.labels.sum() == len(STORIES)  # every answer is among its candidates
    model = SearchReranker.fit(rows.matrix, rows.labels)
    trained = SearchIndex.build(
        tiny_catalog, fallback_text(tiny_catalog, long=True), index.embeddings
    )
    trained.reranker = model
    request = parse_request(STORIES[7], tiny_catalog)
    hits = trained.search(request, encoder=encoder, top=5)
    assert trained.uses_reranker(request)
    assert set(hits.parts) == {"rerank"} and len(hits.reasons) == len(hits.items)
    assert tiny_catalog.item_of[7] in hits.items.tolist()
    assert all(hits.reasons)
    assert np.all(np.diff(hits.scores) <= 1e-6)
    # switched off, or without a model: score fusion as before
    plain = trained.search(
        request, encoder=encoder, top=5, config=replace(SearchConfig(), rerank=False)
    )
    assert {"bm25", "dense"} <= set(plain.parts)
    trained.reranker = None
    assert not trained.uses_reranker(request)
    # short chat requests are never re-ranked
    trained.reranker = model
    short = parse_request("space smugglers", tiny_catalog)
    assert not trained.uses_reranker(short)
    assert "rerank" not in trained.search(short, encoder=encoder, top=5).parts


def test_search_ranks_the_training_features_by_the_model(
    index: SearchIndex, tiny_catalog, encoder, monkeypatch
) -> None:
    """Serving scores exactly the candidates and features training sees, in model order."""
    rows = rows_for(index, tiny_catalog, encoder)
    model = SearchReranker.fit(rows.matrix, rows.labels)
    monkeypatch.setattr(rerank, "POOL", 3)  # a pool smaller than the catalogue
    monkeypatch.setattr(index, "reranker", model)
    request = parse_request(STORIES[9], tiny_catalog)
    vector = encoder.encode_query(request.text)
    chunks = index.chunk_vectors(request.text, encoder)
    signals = index.request_signals(request, vector, chunks)
    pool = signals.pool(np.ones(index.n_items, dtype=bool), size=3)
    matrix, _, items = rerank.candidate_rows(index, request, vector, chunks, -1)
    expected = items[np.argsort(-model.decision(matrix), kind="stable")]
    hits = index.search(request, top=20, query_vector=vector, chunk_vectors=chunks)
    assert set(hits.items.tolist()) <= set(pool.tolist())
    assert len(pool) < index.n_items
    assert hits.items.tolist() == expected[: len(hits.items)].tolist()
    total = sum(hits.parts.values())
    np.testing.assert_allclose(total, hits.scores, atol=1e-6)


def test_reranked_search_keeps_user_taste_and_filters(
    index: SearchIndex, tiny_catalog, encoder
) -> None:
    from core.serving.blend import Filters

    request = parse_request(STORIES[1], tiny_catalog)
    assert index.uses_reranker(request)  # the shipped model (see the test above)
    excluded = Filters(exclude_genres=("Horror",))
    hits = index.search(request, encoder=encoder, top=8, filters=excluded)
    horror = index.genre_names.index("Horror")
    assert not index.genres[hits.items, horror].any()
    plain = index.search(request, encoder=encoder, top=20)
    taste = np.zeros(index.n_items, dtype=np.float32)
    fan_of = int(plain.items[-1])  # the weakest candidate
    taste[fan_of] = 10.0
    liked = index.search(request, encoder=encoder, top=20, user_scores=taste)
    assert {"rerank", "user"} <= set(liked.parts)
    assert liked.items.tolist().index(fan_of) < plain.items.tolist().index(fan_of)


def test_save_load_keeps_the_facts(index: SearchIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "search")
    loaded = SearchIndex.load(tmp_path / "search")
    for name in ("has_overview", "has_plot", "text_words", "n_tags"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(index, name))
