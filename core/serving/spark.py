"""Training on Apache Spark: the collaborative ALS factors and the per-movie rating aggregates.

``python -m core build --engine spark [--spark-master URL]`` fits the "collab" component with
``pyspark.ml.recommendation.ALS`` and computes the "popularity" component's per-movie counts and
means with Spark, then writes them through the same :class:`~core.signals.ranking.ALSRanker`
and :class:`~core.signals.popularity.PopularityPrior` objects as the local build, so
``Engine.load`` serves a Spark-trained folder unchanged (the manifest entry says
``"engine": "spark"``).

What Spark reads and how it maps to the catalogue:

* ``ratings.csv`` of a MovieLens CSV folder (or any ``hdfs://`` / ``s3a://`` / ``file://`` URI
  given as ``ratings_uri`` or ``MOVIE_SPARK_RATINGS``) with an explicit schema, cleaned by the
  loader's rules (bad ids or values, off-scale ratings, unknown movies dropped; the latest of a
  repeated (user, movie) pair kept). Other layouts (ml-100k, ml-1m, the built-in snapshot) ship
  the catalogue's cleaned ratings to Spark instead.
* movieId -> item index by a broadcast join against the catalogue's movie order; userId stays
  the ALS user id and is mapped to the catalogue's user row (sorted user ids) when the factors
  are collected. Movies without ratings get zero factors, as in the local ALS.
* The aggregates are checked against the catalogue's counts; a mismatch (Spark and the loader
  read the file differently) raises :class:`~core.errors.DataError` instead of writing a model
  that disagrees with the catalogue.

Implicit-feedback semantics: the local ALS (``implicit``) fits a binary matrix with confidence
``alpha * 1`` and an absolute ridge ``lambda``; Spark's ALS uses confidence ``1 + alpha' * r``
and scales the ridge by each user's / movie's number of ratings (ALS-WR). We pass ``r = 1``,
``alpha' = alpha - 1`` (the same confidence) and a ``regParam`` scaled from ``lambda`` by the
typical number of ratings per user and movie (see :func:`spark_reg_param`).

pyspark (and Java, which Spark runs on) are imported / looked for only when a Spark build is
asked for; a missing one raises :class:`~core.errors.WorkbenchError` saying what to install.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.config import Settings
from core.data.catalog import Catalog
from core.errors import DataError, WorkbenchError

if TYPE_CHECKING:  # pragma: no cover
    from core.signals.popularity import PopularityPrior
    from core.signals.ranking import ALSRanker

#: ``progress(message, fraction)``, as in :mod:`core.serving.engine`.
Progress = Callable[[str, float], None]

#: Default Spark master (all local cores); ``--spark-master`` overrides it.
DEFAULT_MASTER = "local[*]"
#: Driver JVM heap. The driver collects the factors (users x 64 x 4 bytes: 51 MB for ml-32m's
#: 200k users), so 2g is plenty up to ml-32m; ``MOVIE_SPARK_DRIVER_MEMORY`` overrides it.
DRIVER_MEMORY = "2g"
#: Shuffle partitions for ``local[...]`` masters (Spark's default 200 is for clusters: on two
#: cores and a small file it spends more time scheduling tasks than working).
LOCAL_SHUFFLE_PARTITIONS = 8

_RATINGS_ENV = "MOVIE_SPARK_RATINGS"
_INT32_MAX = 2**31 - 1


@contextlib.contextmanager
def _quiet_pandas() -> Iterator[None]:
    """Hide pyspark's "does not yet fully support pandas >= 3" warning around the two
    conversions we use (flat numeric frames, which it handles)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The copy keyword is deprecated")
        yield


def java_problem() -> str | None:
    """Why Spark cannot start a JVM here (``None`` when a ``java`` binary runs)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return (
            "Spark needs Java (17, 11 or 21) and none was found: install a JDK or JRE "
            "(e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
        )
    try:
        subprocess.run([java, "-version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        return f"Spark needs a working Java, but {java} -version failed: {err}"
    return None


def pyspark_problem() -> str | None:
    """Why pyspark cannot be imported (``None`` when it can)."""
    try:
        with _quiet_pandas():
            import pyspark  # noqa: F401
    except ImportError as err:
        return (
            f"The Spark engine is an optional extra and pyspark is not installed ({err}): "
            "add it with `pip install -e '.[spark]'` (or `pip install -r "
            "requirements-spark.txt`), or build with --engine local."
        )
    return None


def spark_problem() -> str | None:
    """Why a Spark build cannot run here (pyspark or Java missing), ``None`` when it can."""
    return pyspark_problem() or java_problem()


def _require_spark() -> None:
    problem = spark_problem()
    if problem:
        raise WorkbenchError(problem)


@contextlib.contextmanager
def spark_session(
    master: str = DEFAULT_MASTER,
    *,
    app_name: str = "movie-workbench",
    conf: dict[str, str] | None = None,
) -> Iterator[Any]:
    """A SparkSession for ``master``; an already active session is reused (and left running).

    A session created here is stopped on exit. Local masters get a small number of shuffle
    partitions, no web UI and a scratch checkpoint folder (ALS truncates its lineage there).
    """
    _require_spark()
    with _quiet_pandas():  # pyspark checks the pandas version when these are first imported
        import pyspark.ml.recommendation  # noqa: F401
        from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    # Under spark-submit the JVM is already up with spark-submit's --master, --driver-memory
    # and --conf; the default master must not override them.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    keep_submitted = submitted and master == DEFAULT_MASTER
    local = master.startswith("local") and not keep_submitted
    settings = {
        "spark.driver.memory": os.environ.get("MOVIE_SPARK_DRIVER_MEMORY", DRIVER_MEMORY),
        "spark.driver.maxResultSize": "1g",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
    }
    if local:
        settings |= {
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": str(LOCAL_SHUFFLE_PARTITIONS),
            "spark.default.parallelism": str(LOCAL_SHUFFLE_PARTITIONS),
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
        }
    if keep_submitted:
        settings = {}
    elif submitted:  # the driver JVM is already running: too late for its memory
        settings.pop("spark.driver.memory", None)
    settings |= conf or {}
    builder = SparkSession.builder.appName(app_name)
    if not keep_submitted:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as err:  # py4j / JVM start-up failures have many types
        raise WorkbenchError(f"Could not start Spark with master {master!r}: {err}") from err
    scratch = None
    try:
        spark.sparkContext.setLogLevel("WARN")
        if local and not spark.sparkContext.getCheckpointDir():
            scratch = tempfile.mkdtemp(prefix="spark-checkpoints-")
            spark.sparkContext.setCheckpointDir(scratch)
        yield spark
    finally:
        spark.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


# -- reading and cleaning ---------------------------------------------------------------------
def ratings_source(catalog: Catalog, ratings_uri: str | None = None) -> str | None:
    """Where Spark should read ratings from: ``ratings_uri``, ``$MOVIE_SPARK_RATINGS``, or the
    ``ratings.csv`` of a CSV-layout catalogue's folder; ``None`` = ship the catalogue's ratings."""
    uri = ratings_uri or os.environ.get(_RATINGS_ENV)
    if uri:
        return uri
    if catalog.report.layout == "csv":
        path = Path(catalog.report.source) / "ratings.csv"
        if path.is_file():
            return str(path)
    return None


def read_ratings(spark: Any, catalog: Catalog, source: str | None) -> Any:
    """Cleaned ratings as a Spark DataFrame ``userId:int, item:int, rating:double``.

    ``source`` is a ratings CSV (with a header) read with an explicit schema, or ``None`` for
    the catalogue's own (already cleaned) ratings. Cleaning follows :mod:`core.data.loaders`.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    ids = pd.DataFrame(
        {"movieId": catalog.movie_ids.astype(np.int32), "item": np.arange(catalog.n_items)}
    ).astype({"item": np.int32})
    with _quiet_pandas():
        movies = spark.createDataFrame(ids)
    if source is None:
        frame = catalog.ratings[["userId", "movieId", "rating"]].astype(
            {"userId": "int32", "movieId": "int32", "rating": "float64"}
        )
        with _quiet_pandas():
            raw = spark.createDataFrame(frame)
        return raw.join(F.broadcast(movies), "movieId").select("userId", "item", "rating")

    # Ids as doubles: "12.0" is a valid id for the loader, and a non-number becomes null
    # (dropped) instead of failing the file.
    schema = T.StructType(
        [
            T.StructField("userId", T.DoubleType()),
            T.StructField("movieId", T.DoubleType()),
            T.StructField("rating", T.DoubleType()),
            T.StructField("timestamp", T.DoubleType()),
        ]
    )
    raw = spark.read.csv(source, schema=schema, header=True, mode="PERMISSIVE")
    # File order, for "the later line wins" among repeated pairs with the same timestamp.
    raw = raw.withColumn("line", F.monotonically_increasing_id())

    def valid_id(column: str) -> Any:
        c = F.col(column)
        return c.isNotNull() & (c == F.floor(c)) & (c >= -_INT32_MAX - 1) & (c <= _INT32_MAX)

    low, high = (float(v) for v in catalog.report.rating_scale)
    step = 1.0 if (low, high) == (1.0, 5.0) else 0.5
    rating = F.col("rating")
    ok = (
        valid_id("userId")
        & valid_id("movieId")
        & rating.isNotNull()
        & ~F.isnan(rating)
        & (rating >= low)
        & (rating <= high)
        & (F.pmod(rating, F.lit(step)) == 0)
    )
    clean = raw.where(ok).select(
        F.col("userId").cast("int").alias("userId"),
        F.col("movieId").cast("int").alias("movieId"),
        rating,
        # A missing or fractional timestamp counts as 0, as in the loader.
        F.when(F.col("timestamp") == F.floor(F.col("timestamp")), F.col("timestamp"))
        .otherwise(0)
        .cast("long")
        .alias("timestamp"),
        "line",
    )
    known = clean.join(F.broadcast(movies), "movieId")
    # The latest of a repeated pair (then the later line): one aggregation, no sort.
    latest = F.max(F.struct("timestamp", "line", "rating")).alias("latest")
    return (
        known.groupBy("userId", "item")
        .agg(latest)
        .select("userId", "item", F.col("latest.rating").alias("rating"))
    )


# -- aggregates -------------------------------------------------------------------------------
@dataclass
class Aggregates:
    """Per item index: number of ratings, mean rating (NaN when unrated); and overall."""

    n_ratings: np.ndarray  # int64
    mean_rating: np.ndarray  # float64
    global_mean: float
    total: int


def aggregates(ratings: Any, n_items: int) -> Aggregates:
    """Per-movie counts and means with Spark, placed by item index.

    Sums are collected and divided on the driver exactly as :attr:`Catalog.rating_stats` does,
    so the numbers are bit-identical to the local path (half-star ratings sum exactly).
    """
    from pyspark.sql import functions as F

    grouped = ratings.groupBy("item").agg(
        F.count(F.lit(1)).alias("n"), F.sum("rating").alias("total")
    )
    with _quiet_pandas():
        per_item = grouped.toPandas()
    items = per_item["item"].to_numpy(dtype=np.int64)
    counts = np.zeros(n_items, dtype=np.int64)
    sums = np.zeros(n_items, dtype=np.float64)
    counts[items] = per_item["n"].to_numpy(dtype=np.int64)
    sums[items] = per_item["total"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    total = int(counts.sum())
    global_mean = float(sums.sum() / total) if total else float("nan")
    return Aggregates(counts, means, global_mean, total)


# -- ALS --------------------------------------------------------------------------------------
#: Scale of :func:`spark_reg_param`. Measured on ml-latest-small (75/25 stratified split, 300
#: test users, local[2]; local ALS nDCG@10 0.362): scale 0.1 -> Spark nDCG@10 0.349, 0.2 -> 0.359,
#: 0.3 -> 0.367, 0.5 -> 0.363, 1.0 -> 0.332, 3.0 -> 0.158; recall of the local top-20 in Spark's
#: top-50 0.914 / 0.922 / 0.917 / 0.905 / 0.854 / 0.449.
SPARK_REG_SCALE = 0.3


def spark_reg_param(regularization: float, n_ratings: int, n_users: int, n_items: int) -> float:
    """Spark's ``regParam`` standing in for the local ALS's absolute ridge ``regularization``.

    Spark multiplies ``regParam`` by each user's (movie's) number of ratings (ALS-WR), the local
    ALS does not; so the ridge is divided by the geometric mean of the average number of ratings
    per user and per movie, then scaled by :data:`SPARK_REG_SCALE` (chosen by measurement).
    """
    per_user = n_ratings / max(n_users, 1)
    per_item = n_ratings / max(n_items, 1)
    typical = max(math.sqrt(per_user * per_item), 1.0)
    return float(SPARK_REG_SCALE * regularization / typical)


def _local_cores(master: str) -> int | None:
    """Cores of a ``local``/``local[n]``/``local[*]`` master; ``None`` for a cluster."""
    if master == "local":
        return 1
    if master.startswith("local["):
        inner = master[len("local[") :].split(",")[0].rstrip("]")
        return os.cpu_count() or 1 if inner == "*" else max(1, int(inner))
    return None


def _collect_factors(frame: Any, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, factors)`` of an ALS factor DataFrame (``id``, ``features``)."""
    with _quiet_pandas():
        table = frame.toPandas()
    ids = table["id"].to_numpy(dtype=np.int64)
    if len(table) == 0:
        return ids, np.zeros((0, rank), dtype=np.float32)
    factors = np.stack([np.asarray(f, dtype=np.float32) for f in table["features"]])
    return ids, factors


def fit_als(
    ratings: Any, catalog: Catalog, settings: Settings, agg: Aggregates
) -> tuple[np.ndarray, np.ndarray]:
    """Fit Spark's implicit ALS on binary interactions; ``(item_factors, user_factors)`` as
    float32 arrays in the catalogue's item-index and user-row order (zero rows when unseen)."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    p = settings.ranker
    n_users = len(catalog.user_ids)
    n_rated = int((agg.n_ratings > 0).sum())
    # Spark's default of 10 user and 10 item blocks suits a cluster; locally one block per
    # core halves the fit on two cores (fewer, larger tasks per iteration).
    cores = _local_cores(ratings.sparkSession.sparkContext.master)
    blocks = {"numUserBlocks": cores, "numItemBlocks": cores} if cores else {}
    als = ALS(
        rank=p.als_factors,
        maxIter=p.als_iterations,
        regParam=spark_reg_param(p.als_regularization, agg.total, n_users, n_rated),
        alpha=max(p.als_alpha - 1.0, 0.0),  # Spark's confidence is 1 + alpha * r, ours alpha
        implicitPrefs=True,
        userCol="userId",
        itemCol="item",
        ratingCol="rating",
        seed=p.random_state,
        checkpointInterval=10,
        **blocks,
    )
    binary = ratings.select("userId", "item", F.lit(1.0).alias("rating"))
    model = als.fit(binary)
    item_ids, item_vectors = _collect_factors(model.itemFactors, p.als_factors)
    user_ids, user_vectors = _collect_factors(model.userFactors, p.als_factors)
    item_factors = np.zeros((catalog.n_items, p.als_factors), dtype=np.float32)
    item_factors[item_ids] = item_vectors
    rows = np.searchsorted(catalog.user_ids, user_ids)
    rows = np.clip(rows, 0, max(n_users - 1, 0))
    if n_users == 0 or not np.array_equal(catalog.user_ids[rows], user_ids):
        raise DataError("Spark's ALS returned users the catalogue does not have.")
    user_factors = np.zeros((n_users, p.als_factors), dtype=np.float32)
    user_factors[rows] = user_vectors
    return item_factors, user_factors


# -- the whole job ----------------------------------------------------------------------------
@dataclass
class SparkTraining:
    """What :func:`train_with_spark` produced, with seconds per step."""

    ranker: ALSRanker | None
    prior: PopularityPrior | None
    aggregates: Aggregates
    source: str  # what Spark read ("catalogue ratings" or the CSV URI)
    master: str
    seconds: dict[str, float] = field(default_factory=dict)


def train_with_spark(
    catalog_or_folder: Catalog | str | Path,
    settings: Settings | None = None,
    *,
    master: str = DEFAULT_MASTER,
    progress: Progress | None = None,
    parts: frozenset[str] | set[str] = frozenset({"collab", "popularity"}),
    ratings_uri: str | None = None,
) -> tuple[ALSRanker | None, PopularityPrior | None]:
    """Fit the ALS ranker and the popularity prior with Spark; same objects as the local build.

    Args:
        catalog_or_folder: the catalogue (the build's), or a data folder (loaded here).
        settings: ALS hyper-parameters (``settings.ranker``) and the prior's damping.
        master: Spark master URL (``local[*]``, ``local[2]``, ``spark://host:7077``, ``yarn``).
        progress: ``progress(message, fraction)`` callback.
        parts: which of ``"collab"`` and ``"popularity"`` to return (the other is ``None``).
        ratings_uri: ratings CSV for Spark to read (for instance on HDFS or S3); by default
            the catalogue folder's ``ratings.csv``.

    Raises:
        WorkbenchError: pyspark or Java is missing, or Spark cannot start.
        DataError: Spark's cleaned ratings disagree with the catalogue's.
    """
    result = train_with_spark_detailed(
        catalog_or_folder,
        settings,
        master=master,
        progress=progress,
        parts=parts,
        ratings_uri=ratings_uri,
    )
    return result.ranker, result.prior


def train_with_spark_detailed(
    catalog_or_folder: Catalog | str | Path,
    settings: Settings | None = None,
    *,
    master: str = DEFAULT_MASTER,
    progress: Progress | None = None,
    parts: frozenset[str] | set[str] = frozenset({"collab", "popularity"}),
    ratings_uri: str | None = None,
) -> SparkTraining:
    """:func:`train_with_spark` with timings, the aggregates and what was read."""
    from core.signals.popularity import PopularityPrior
    from core.signals.ranking import ALSRanker

    settings = settings or Settings()
    say = progress or (lambda _message, _fraction: None)
    unknown = set(parts) - {"collab", "popularity"}
    if unknown:
        raise WorkbenchError(f"Spark trains only collab and popularity, not {sorted(unknown)}.")
    _require_spark()
    if isinstance(catalog_or_folder, Catalog):
        catalog = catalog_or_folder
    else:
        from core.data.loaders import load_catalog

        say("Loading the catalogue", 0.0)
        catalog = load_catalog(str(catalog_or_folder), settings)
    source = ratings_source(catalog, ratings_uri)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    say(f"Starting Spark ({master})", 0.02)
    with spark_session(master) as spark:
        seconds["start"] = time.perf_counter() - started
        t0 = time.perf_counter()
        say(f"Reading ratings ({source or 'catalogue ratings'})", 0.1)
        ratings = read_ratings(spark, catalog, source).persist()
        try:
            agg = aggregates(ratings, catalog.n_items)
            seconds["aggregates"] = time.perf_counter() - t0
            _check_against_catalog(agg, catalog, source)
            ranker = prior = None
            if "collab" in parts:
                say("Fitting ALS", 0.3)
                t0 = time.perf_counter()
                item_factors, user_factors = fit_als(ratings, catalog, settings, agg)
                seconds["als"] = time.perf_counter() - t0
                ranker = ALSRanker.from_factors(
                    catalog,
                    settings,
                    item_factors,
                    user_factors,
                    known_item=agg.n_ratings > 0,
                    fit_seconds=seconds["als"],
                )
        finally:
            ratings.unpersist()
    if "popularity" in parts:
        prior = PopularityPrior(settings).fit_aggregates(
            catalog, agg.n_ratings, agg.mean_rating, agg.global_mean
        )
    seconds["total"] = time.perf_counter() - started
    say("Spark training done", 1.0)
    return SparkTraining(ranker, prior, agg, source or "catalogue ratings", master, seconds)


def _check_against_catalog(agg: Aggregates, catalog: Catalog, source: str | None) -> None:
    expected = catalog.rating_stats["n_ratings"].to_numpy(dtype=np.int64)
    if np.array_equal(agg.n_ratings, expected):
        return
    differ = int((agg.n_ratings != expected).sum())
    raise DataError(
        f"Spark read {agg.total:,} usable ratings from {source or 'the catalogue'} but the "
        f"catalogue has {int(expected.sum()):,} ({differ:,} movies differ); the file must be "
        "the one the catalogue was loaded from. Rebuild with --engine local, or point "
        f"{_RATINGS_ENV} at the same ratings file."
    )
