"""The Spark training backend (core.serving.spark): same artifacts, served unchanged.

Runs Spark in ``local[2]`` on a small synthetic MovieLens folder, with one SparkSession for
the module (the JVM start is most of the cost). Skipped with the reason when pyspark or Java
is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import RankerSettings, Settings
from core.errors import WorkbenchError
from core.serving.spark import spark_problem

PROBLEM = spark_problem()
needs_spark = pytest.mark.skipif(PROBLEM is not None, reason=f"Spark unavailable: {PROBLEM}")
MASTER = "local[2]"


@pytest.fixture(scope="module")
def spark():
    from core.serving.spark import spark_session

    with spark_session(MASTER) as session:
        yield session


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    from core.data.synth import generate

    folder = tmp_path_factory.mktemp("spark-data") / "synth-small"
    generate(folder, users=200, movies=300, ratings=8_000, seed=7)
    return folder


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("spark-artifacts")
    # Ten ALS iterations instead of twenty: the comparison holds and Spark's part halves.
    return Settings(artifacts_dir=root, cache_dir=root / "_cache", use_tmdb=False,
                    use_plots=False, ranker=RankerSettings(als_iterations=10))  # fmt: skip


@pytest.fixture(scope="module")
def spark_built(spark, synth_dir, settings):
    from core.serving.build import build

    result = build(synth_dir, settings, engine="spark", spark_master=MASTER)
    print("spark build:", {k: round(v, 1) for k, v in result.built.items()}, round(result.seconds))
    return result


@pytest.fixture(scope="module")
def catalog(synth_dir, settings):
    from core.data.loaders import load_catalog

    return load_catalog(str(synth_dir), settings, enrich=False)


@pytest.mark.slow
@needs_spark
def test_spark_build_is_served_unchanged(spark_built, synth_dir, settings):
    from core.serving.engine import Engine
    from core.serving.staleness import check
    from core.signals.ranking import ALSRanker

    assert {"collab", "popularity"} <= set(spark_built.built)
    status = check(synth_dir, settings)
    assert status.up_to_date, status.describe()
    entries = status.manifest.components
    assert entries["collab"]["engine"] == "spark"
    assert entries["popularity"]["engine"] == "spark"
    assert "engine" not in entries["svd"]
    meta = json.loads((status.folder / "collab" / "collab.json").read_text())
    assert meta["model"] == "als"

    engine = Engine.open(synth_dir, settings, rebuild="never")
    assert isinstance(engine.scorers["collab"], ALSRanker)
    user = int(engine.catalog.user_ids[0])
    picks = engine.recommend(user, top=10)
    assert len(picks.items) == 10
    assert picks.weights_used.get("collab", 0) > 0
    rated = set(engine.catalog.user_ratings(user)["movieId"].tolist())
    assert not rated & set(picks.items["movieId"].tolist())
    # A folded-in new user and a seed movie go through the same (implicit) fold-in code.
    some = engine.catalog.movie_ids[:3].tolist()
    assert len(engine.recommend(ratings={m: 5.0 for m in some}, top=5).items) == 5
    assert len(engine.similar(int(engine.catalog.movie_ids[0]), top=5).items) == 5


@pytest.mark.slow
@needs_spark
def test_switching_engine_rebuilds_only_the_trained_components(spark_built, synth_dir, settings):
    from core.serving.staleness import check

    stale = check(synth_dir, settings, engine="local").stale
    assert set(stale) == {"collab", "popularity", "recent"}  # recent reads the trained ranker
    assert "spark engine" in stale["collab"]
    assert check(synth_dir, settings, engine="spark").up_to_date


def _top(scorer, user: int, rated: np.ndarray, k: int) -> set[int]:
    from core.signals.base import Query

    values = np.nan_to_num(scorer.score(Query(user_id=user)).values, nan=-np.inf)
    values[rated] = -np.inf
    return set(np.argsort(-values, kind="stable")[:k].tolist())


@pytest.mark.slow
@needs_spark
def test_spark_als_agrees_with_local_als(spark_built, catalog, settings):
    from core.serving.staleness import check
    from core.signals.ranking import ALSRanker, CollabRanker

    folder = check(catalog.report.source, settings).folder
    spark_als = CollabRanker.load(folder / "collab")
    local_als = ALSRanker(settings).fit(catalog)
    assert spark_als.model.item_factors.shape == local_als.model.item_factors.shape
    assert np.array_equal(spark_als.known_item, local_als.known_item)
    recalls = []
    for user in catalog.user_ids[:: max(1, len(catalog.user_ids) // 60)].tolist():
        rated = catalog.user_history(user)[0]
        local_top = _top(local_als, user, rated, 20)
        recalls.append(len(local_top & _top(spark_als, user, rated, 50)) / 20)
    recall = float(np.mean(recalls))
    print(f"recall of local ALS top-20 in Spark ALS top-50: {recall:.3f} ({len(recalls)} users)")
    assert recall >= 0.7


@pytest.mark.slow
@needs_spark
def test_spark_aggregates_equal_pandas(spark, spark_built, catalog, settings):
    from core.serving.spark import aggregates, ratings_source, read_ratings
    from core.serving.staleness import check
    from core.signals.popularity import PopularityPrior

    ratings = catalog.ratings.astype({"rating": "float64"})  # as Catalog.rating_stats sums
    grouped = ratings.groupby("movieId")["rating"].agg(["count", "mean"])
    agg = aggregates(read_ratings(spark, catalog, ratings_source(catalog)), catalog.n_items)
    by_item = pd.DataFrame({"count": agg.n_ratings, "mean": agg.mean_rating},
                           index=catalog.movie_ids).loc[grouped.index]  # fmt: skip
    assert np.array_equal(by_item["count"].to_numpy(), grouped["count"].to_numpy())
    assert np.array_equal(by_item["mean"].to_numpy(), grouped["mean"].to_numpy())
    assert agg.global_mean == float(ratings["rating"].mean())

    folder = check(catalog.report.source, settings).folder
    spark_prior = PopularityPrior.load(folder / "popularity")
    local_prior = PopularityPrior(settings).fit(catalog)
    for key in ("n_ratings", "damped_mean", "popularity", "values", "from_tmdb"):
        np.testing.assert_array_equal(getattr(spark_prior, key), getattr(local_prior, key))
    assert spark_prior.global_mean == local_prior.global_mean


@pytest.mark.slow
@needs_spark
def test_spark_cleans_ratings_like_the_loader(spark, tmp_path, settings):
    from core.data.loaders import load_catalog
    from core.serving.spark import read_ratings

    folder = tmp_path / "dirty"
    folder.mkdir()
    pd.DataFrame({"movieId": [1, 2, 3], "title": ["A (1990)", "B (1991)", "C (1992)"],
                  "genres": ["Drama"] * 3}).to_csv(folder / "movies.csv", index=False)  # fmt: skip
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        "1,1,4.0,100\n"
        "1,2,3.5,100\n"
        "1,1,2.0,200\n"  # a repeated pair: the later rating wins
        "2,1,5.5,100\n"  # off the scale
        "2,2,3.25,100\n"  # off the half-star step
        "2,9,4.0,100\n"  # unknown movie
        "abc,1,4.0,100\n"  # bad user id
        "3,3.0,4.5,100\n"  # an integral id written as a float is fine
        "3,1,,100\n"  # missing rating
        "4,2,1.0,100\n"
        "4,2,5.0,100\n"  # same pair, same time: the later line wins
        "-5,3,3.0,1.5\n"  # a negative id is an id; a fractional timestamp counts as 0
    )
    catalog = load_catalog(str(folder), settings, enrich=False)
    expected = (
        catalog.ratings.assign(item=catalog.items_for(catalog.ratings["movieId"].to_numpy()))
        [["userId", "item", "rating"]]
        .astype({"userId": "int64", "item": "int64", "rating": "float64"})
        .sort_values(["userId", "item"], ignore_index=True)
    )  # fmt: skip
    rows = read_ratings(spark, catalog, str(folder / "ratings.csv")).collect()
    got = (
        pd.DataFrame([row.asDict() for row in rows])
        .astype({"userId": "int64", "item": "int64", "rating": "float64"})
        .sort_values(["userId", "item"], ignore_index=True)
    )
    pd.testing.assert_frame_equal(got, expected)
    assert got["rating"].tolist() == [3.0, 2.0, 3.5, 4.5, 5.0]


def test_spark_engine_missing_dependency_is_a_clear_error(monkeypatch, tiny_data_dir, tmp_path):
    import core.serving.spark as backend
    from core.serving.build import build

    message = "Spark needs Java (17, 11 or 21) and none was found: install a JDK"
    monkeypatch.setattr(backend, "spark_problem", lambda: message)
    settings = Settings(artifacts_dir=tmp_path, cache_dir=tmp_path / "_cache", use_tmdb=False,
                        use_plots=False)  # fmt: skip
    with pytest.raises(WorkbenchError, match="needs Java"):
        build(tiny_data_dir, settings, engine="spark")
    with pytest.raises(WorkbenchError, match="Unknown engine"):
        build(tiny_data_dir, settings, engine="dask")


def test_cli_build_takes_engine_and_master():
    from core.cli.parser import build_parser

    args = build_parser().parse_args(["build", "--engine", "spark", "--spark-master", "local[2]"])
    assert (args.engine, args.spark_master) == ("spark", "local[2]")
    args = build_parser().parse_args(["build"])
    assert (args.engine, args.spark_master) == ("local", "local[*]")
