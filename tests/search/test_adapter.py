"""The request-vector adapter: fitting, persistence, encoder matching, use in the re-ranker."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.search import adapter as adapter_module
from core.search.adapter import QueryAdapter, model_fingerprint
from core.search.index import SearchIndex
from core.search.request import parse_request
from core.signals.encoder import Encoder
from core.signals.semantic import SemanticScorer, fallback_text


def _unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)).astype(np.float32)


def _distorted_requests(seed: int = 0, n_movies: int = 300, n_requests: int = 600, dim: int = 16):
    """Movies, and requests that see their answer through a fixed linear distortion + noise
    (as a long post sees a movie's overview through another part of the vector space)."""
    rng = np.random.default_rng(seed)
    movies = _unit(rng.normal(size=(n_movies, dim)))
    distortion = np.eye(dim) + 0.9 * rng.normal(size=(dim, dim)) / np.sqrt(dim)
    answers = rng.integers(0, n_movies, size=n_requests)
    requests = _unit(movies[answers] @ distortion + 0.15 * rng.normal(size=(n_requests, dim)))
    return movies, requests, answers


def _top1(vectors: np.ndarray, movies: np.ndarray, answers: np.ndarray) -> float:
    return float(np.mean(np.argmax(vectors @ movies.T, axis=1) == answers))


def test_fit_learns_the_distortion_on_held_out_requests() -> None:
    movies, requests, answers = _distorted_requests()
    train, test = slice(0, 400), slice(400, None)
    model = QueryAdapter.fit(
        requests[train], answers[train], movies, fingerprint="toy", epochs=150, l2=1e-3,
        movie_l2=None,
    )  # fmt: skip
    before = _top1(requests[test], movies, answers[test])
    after = _top1(model.apply(requests[test]), movies, answers[test])
    assert after > before + 0.1, (before, after)
    assert model.trained_on["requests"] == 400 and model.dim == movies.shape[1]
    assert model.movie_delta is None
    np.testing.assert_array_equal(model.apply_movies(movies), movies)


def test_fit_with_a_movie_side() -> None:
    movies, requests, answers = _distorted_requests(seed=5)
    train, test = slice(0, 400), slice(400, None)
    model = QueryAdapter.fit(
        requests[train], answers[train], movies, fingerprint="toy", epochs=150, l2=1e-3,
        movie_l2=1e-3,
    )  # fmt: skip
    assert model.movie_delta is not None and model.movie_delta.shape == (16, 16)
    assert model.trained_on["settings"]["movie_l2"] == 1e-3
    mapped = model.apply_movies(movies)
    np.testing.assert_allclose(np.linalg.norm(mapped, axis=1), 1.0, atol=1e-5)
    before = _top1(requests[test], movies, answers[test])
    after = _top1(model.apply(requests[test]), mapped, answers[test])
    assert after > before + 0.1, (before, after)


def test_apply_keeps_shape_and_unit_length() -> None:
    rng = np.random.default_rng(1)
    model = QueryAdapter(rng.normal(size=(8, 8)).astype(np.float32) * 0.1, "toy")
    one = model.apply(_unit(rng.normal(size=8)))
    many = model.apply(_unit(rng.normal(size=(5, 8))))
    assert one.shape == (8,) and many.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    identity = QueryAdapter(np.zeros((8, 8), np.float32), "toy")
    vector = _unit(rng.normal(size=8))
    np.testing.assert_allclose(identity.apply(vector), vector, atol=1e-6)


def test_fit_rejects_bad_input() -> None:
    movies = _unit(np.random.default_rng(2).normal(size=(10, 4)))
    with pytest.raises(ValueError):
        QueryAdapter.fit(np.zeros((0, 4)), np.zeros(0, int), movies, fingerprint="x")
    with pytest.raises(ValueError):
        QueryAdapter.fit(movies[:3, :3], np.array([0, 1, 2]), movies, fingerprint="x")
    with pytest.raises(ValueError):
        QueryAdapter.fit(movies[:2], np.array([0, 10]), movies, fingerprint="x")


def test_save_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    model = QueryAdapter(
        (rng.normal(size=(6, 6)) * 0.05).astype(np.float32), "abc", {"queries": "q.jsonl"}
    )
    path = tmp_path / "adapter.npz"
    model.save(path)
    loaded = QueryAdapter.load(path)
    assert loaded.fingerprint == "abc" and loaded.trained_on == {"queries": "q.jsonl"}
    np.testing.assert_allclose(loaded.delta, model.delta, atol=1e-3)  # stored as float16
    assert loaded.movie_delta is None
    vector = _unit(rng.normal(size=6))
    np.testing.assert_allclose(loaded.apply(vector), model.apply(vector), atol=1e-3)
    model.movie_delta = (rng.normal(size=(6, 6)) * 0.05).astype(np.float32)
    model.save(path)
    loaded = QueryAdapter.load(path)
    assert loaded.movie_delta is not None
    movies = _unit(rng.normal(size=(4, 6)))
    np.testing.assert_allclose(loaded.apply_movies(movies), model.apply_movies(movies), atol=1e-3)


def test_load_default_survives_missing_or_corrupt_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    assert adapter_module.load_default(str(broken)) is None
    assert adapter_module.load_default(str(tmp_path / "missing.npz")) is None
    np.savez(tmp_path / "wrong.npz", delta=np.zeros((3, 4)), meta='{"fingerprint": "x"}')
    assert adapter_module.load_default(str(tmp_path / "wrong.npz")) is None
    np.savez(
        tmp_path / "sides.npz", delta=np.zeros((3, 3)), movie_delta=np.zeros((4, 4)),
        meta='{"fingerprint": "x"}',
    )  # fmt: skip
    assert adapter_module.load_default(str(tmp_path / "sides.npz")) is None
    whole = tmp_path / "whole.npz"
    QueryAdapter(np.zeros((8, 8), np.float32), "x").save(whole)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(whole.read_bytes()[:-40])
    assert adapter_module.load_default(str(whole)) is not None
    assert adapter_module.load_default(str(truncated)) is None


def test_fingerprint_tells_encoders_apart(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, hidden in ((one, 384), (two, 768)):
        folder.mkdir()
        (folder / "config.json").write_text(f'{{"hidden_size": {hidden}}}')
        (folder / "model.safetensors").write_bytes(b"0" * hidden)
    assert model_fingerprint(str(one)) != model_fingerprint(str(two))
    assert model_fingerprint(str(one)) == model_fingerprint(str(one))
    assert model_fingerprint("some-hub/model") == "some-hub/model"
    assert model_fingerprint(None) == ""
    model = QueryAdapter(np.zeros((4, 4), np.float32), model_fingerprint(str(one)))
    assert model.fits(str(one), 4)
    assert not model.fits(str(two), 4) and not model.fits(str(one), 8) and not model.fits(None, 4)


def test_shipped_adapter_fits_the_default_encoder(encoder: Encoder) -> None:
    shipped = adapter_module.load_default()
    assert shipped is not None, "core/resources/search_adapter.npz is missing or unreadable"
    assert shipped.fits(encoder.model_name, encoder.dim)
    assert shipped.trained_on.get("queries") and shipped.trained_on.get("requests", 0) > 100


def test_index_applies_the_adapter_only_for_its_encoder(tiny_catalog, encoder: Encoder) -> None:
    semantic = SemanticScorer(encoder=encoder).fit(tiny_catalog)
    index = SearchIndex.build(
        tiny_catalog, fallback_text(tiny_catalog, long=True), semantic.embeddings, encoder=encoder
    )
    story = (
        "I saw this years ago and I keep thinking about it: a team of astronauts flies through "
        "a wormhole near Saturn because the earth is dying, they want to save humanity and "
        "find a new home planet, and time runs differently for them than for the family."
    )
    request = parse_request(story, tiny_catalog)
    vector = encoder.encode_query(request.text)
    rng = np.random.default_rng(4)
    delta = (rng.normal(size=(encoder.dim, encoder.dim)) * 0.2).astype(np.float32)
    index.adapter = QueryAdapter(delta, model_fingerprint(encoder.model_name))
    assert index.active_adapter is index.adapter
    index.config = replace(index.config, adapter=False)  # switched off
    assert index.active_adapter is None
    index.config = replace(index.config, adapter=True)
    assert index.adapter_for(replace(index.config, adapter=False)) is None  # per call
    index.reranker = replace(index.reranker, trained_on={"adapter": False})
    assert index.active_adapter is None  # a re-ranker trained without one
    index.reranker = replace(index.reranker, trained_on={"adapter": True})
    assert index.active_adapter is index.adapter
    adapted = index.request_signals(request, vector).cosine
    np.testing.assert_allclose(
        adapted, index.embeddings @ index.adapter.apply(vector), rtol=1e-5, atol=1e-5
    )
    index.adapter = QueryAdapter(delta, "another encoder")
    assert index.active_adapter is None
    plain = index.request_signals(request, vector).cosine
    np.testing.assert_allclose(plain, index.embeddings @ vector, rtol=1e-5, atol=1e-5)
    assert not np.allclose(plain, adapted)
    index.adapter = QueryAdapter(delta, model_fingerprint(encoder.model_name))
    off = replace(index.config, adapter=False)
    np.testing.assert_allclose(
        index.request_signals(request, vector, config=off).cosine, plain, rtol=1e-5, atol=1e-5
    )
    # a movie side maps the movie vectors too (computed once per adapter)
    movie_delta = (rng.normal(size=(encoder.dim, encoder.dim)) * 0.2).astype(np.float32)
    both = QueryAdapter(delta, model_fingerprint(encoder.model_name), movie_delta=movie_delta)
    index.adapter = both
    cosine = index.request_signals(request, vector).cosine
    expected = both.apply_movies(index.embeddings) @ both.apply(vector)
    np.testing.assert_allclose(cosine, expected, rtol=1e-5, atol=1e-5)
    assert index.movie_vectors(both) is index.movie_vectors(both)
    assert index.movie_vectors(None) is index.embeddings
