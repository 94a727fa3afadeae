"""Genre clusters (community detection over genre combinations) and two-stage search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.search.clusters import GenreClusters
from tests.fixtures import ROMANCE, SCIFI
from tests.signals.test_twotower import text_vectors


@pytest.fixture(scope="module")
def vectors(tiny_catalog) -> np.ndarray:
    return text_vectors(tiny_catalog)


@pytest.fixture(scope="module")
def clusters(tiny_catalog, vectors) -> GenreClusters:
    return GenreClusters.build(tiny_catalog, vectors, threshold=0.5)


def test_every_movie_has_a_cluster(clusters, tiny_catalog) -> None:
    assert clusters.item_cluster.shape == (tiny_catalog.n_items,)
    assert (clusters.item_cluster >= 0).all()
    assert clusters.item_cluster.max() < clusters.n_clusters
    assert clusters.sizes.sum() == tiny_catalog.n_items
    assert len(clusters.names) == clusters.n_clusters == len(clusters.centroids)
    np.testing.assert_allclose(np.linalg.norm(clusters.centroids, axis=1), 1.0, atol=1e-5)
    table = clusters.table()
    assert list(table.columns) == ["cluster", "name", "movies", "combinations"]


def test_romance_and_scifi_fall_apart(clusters, tiny_catalog) -> None:
    item = tiny_catalog.item_of
    assert clusters.item_cluster[item[9]] == clusters.item_cluster[item[10]]  # Comedy|Romance
    romance = {int(clusters.item_cluster[item[m]]) for m in ROMANCE}
    scifi = {int(clusters.item_cluster[item[m]]) for m in SCIFI}
    assert not romance & scifi


def test_two_stage_search_stays_inside_the_chosen_clusters(clusters, vectors, tiny_catalog):
    query = vectors[tiny_catalog.item_of[10]]  # like Pretty Woman
    scores = vectors @ query
    items, values, chosen = clusters.two_stage(query, scores, clusters=1, top=5)
    assert len(chosen) == 1 and chosen[0] == clusters.item_cluster[tiny_catalog.item_of[10]]
    assert set(clusters.item_cluster[items].tolist()) == {int(chosen[0])}
    assert (np.diff(values) <= 0).all() and items[0] == tiny_catalog.item_of[10]
    mask = np.ones(tiny_catalog.n_items, dtype=bool)
    mask[tiny_catalog.item_of[10]] = False
    items, _, _ = clusters.two_stage(query, scores, clusters=1, top=5, mask=mask)
    assert tiny_catalog.item_of[10] not in items.tolist()
    everything, _, _ = clusters.two_stage(query, scores, clusters=99, top=50)
    assert len(everything) == tiny_catalog.n_items


def test_save_load_round_trip(clusters, tmp_path: Path) -> None:
    clusters.save(tmp_path)
    loaded = GenreClusters.load(tmp_path)
    np.testing.assert_array_equal(loaded.item_cluster, clusters.item_cluster)
    assert loaded.names == clusters.names and loaded.combos == clusters.combos
    query = clusters.centroids[0] + clusters.mean
    assert loaded.nearest(query, 2).tolist() == clusters.nearest(query, 2).tolist()
