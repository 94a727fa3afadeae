"""Scaling curve: build time, query latency and peak memory at 100k, 1M, 10M and 32M ratings.

Usage::

    python benchmarks/scaling.py [--sizes 100k,1M,10M,32M] [--scratch DIR]
                                 [--engine local|spark] [--spark-master URL] [--calls N]

For each size (shapes of ml-latest-small, ml-1m, ml-10m and ml-32m; default ``100k,1M``):

1. a synthetic MovieLens-CSV folder is generated once (``python -m core synth``) under the
   scratch folder and reused by later runs;
2. ``python -m core build --data DIR --force`` runs in a child process, in a scratch artifact
   folder, without the offline TMDB / plot text (synthetic titles join nothing): wall time,
   per-component seconds and the child's peak RSS (``os.wait4``; with ``--engine spark`` the
   JVM is a grandchild and its memory is not in that figure);
3. a second child loads the built artifacts (``Engine.load``) and times ``calls`` picks,
   similar and search requests (median and p95 in ms, after warm-ups) and its peak RSS.

Prints a table, merges the rows into ``benchmarks/scaling.json`` (by size, so a later 10M/32M
run adds to the earlier ones) and draws ``benchmarks/scaling.png`` with plotly + kaleido, else
matplotlib, else says the PNG was skipped (neither is a dependency of the workbench).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
DEFAULT_SCRATCH = Path(tempfile.gettempdir()) / "movie-scaling"

# label -> (users, movies, ratings): the MovieLens releases of that size (as synth_speed.py).
SHAPES = {
    "100k": (610, 9_742, 100_836),  # ml-latest-small
    "1M": (6_040, 3_706, 1_000_209),  # ml-1m
    "10M": (69_878, 10_677, 10_000_054),  # ml-10m
    "32M": (200_948, 87_585, 32_000_204),  # ml-32m
}

QUERIES = [
    "a funny adventure for the whole family",
    "dark thriller with a twist",
    "space war drama",
    "romantic comedy in a big city",
    "documentary about music",
    "animated fantasy quest",
]


def _child_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MOVIE_ARTIFACTS=str(scratch / "artifacts"),
        # Its own cache, without the offline text sources (they are part of the data
        # fingerprint, so build and serving children must see the same folder).
        MOVIE_CACHE=str(scratch / "cache"),
        MOVIE_TEXT_SOURCES="0",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONWARNINGS="ignore",
    )
    return env


def run_child(command: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Run a child; its stdout, wall seconds and peak RSS in MiB (``os.wait4``).

    Output goes to files, not pipes: ``Popen.communicate()`` would reap the child before
    ``wait4`` could read its resource usage.
    """
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if code != 0:
            tail = stderr.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"{' '.join(command[:5])} ... failed ({code}):\n{tail}")
        return stdout.read().decode(), wall, usage.ru_maxrss / 1024  # KiB on Linux


def ensure_data(label: str, scratch: Path, env: dict[str, str]) -> tuple[Path, float | None]:
    """The synthetic folder of a size, generated unless a complete one with the same shape is
    there; returns it and the generation seconds (``None`` when reused)."""
    users, movies, ratings = SHAPES[label]
    out = scratch / f"synth-{label}"
    marker = out / "synth.json"
    if marker.is_file():
        found = json.loads(marker.read_text())
        if found.get("complete") and (found["users"], found["movies"], found["ratings"]) == (
            users,
            movies,
            ratings,
        ):
            return out, None
    command = [sys.executable, "-m", "core", "synth", "--users", str(users), "--movies",
               str(movies), "--ratings", str(ratings), "--out", str(out), "--json"]  # fmt: skip
    _, wall, _ = run_child(command, env)
    return out, wall


def measure_build(data: Path, env: dict[str, str], engine: str, master: str) -> dict[str, Any]:
    """A forced full build in a child: wall seconds, per-component seconds, peak RSS."""
    command = [sys.executable, "-m", "core", "build", "--data", str(data), "--force", "--json",
               "--engine", engine, "--spark-master", master]  # fmt: skip
    # The movie-vector cache of an earlier run would skip the encoding: start without it.
    shutil.rmtree(Path(env["MOVIE_CACHE"]) / "embeddings", ignore_errors=True)
    out, wall, peak = run_child(command, env)
    result = json.loads(out.strip().splitlines()[-1])
    return {"build_s": wall, "build_peak_mb": peak,
            "components_s": {k: round(v, 2) for k, v in result["built"].items()}}  # fmt: skip


def measure_queries(data: Path, env: dict[str, str], calls: int) -> dict[str, Any]:
    """Latency of picks / similar / search in a fresh serving child, and its peak RSS."""
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(data),
               "--calls", str(calls)]  # fmt: skip
    out, _, peak = run_child(command, env)
    return {**json.loads(out.strip().splitlines()[-1]), "serve_peak_mb": peak}


def serve(data: str, calls: int) -> None:
    """Child mode: open the built engine and time the three request kinds (prints JSON)."""
    sys.path.insert(0, str(REPO))
    from core.errors import ArtifactError
    from core.serving.build import build
    from core.serving.engine import Engine
    from core.serving.staleness import check

    t0 = time.perf_counter()
    # Load what the build child wrote without a staleness check: code edited in between (a
    # settings field added elsewhere) must not turn a timing run into a rebuild or an error.
    folder = check(data).folder
    rebuilt: list[str] = []
    try:
        engine = Engine.load(folder)
    except ArtifactError as err:  # a saved format changed since the build: redo only that part
        rebuilt = sorted(err.components or [])
        build(data, rebuild=set(rebuilt))
        t0 = time.perf_counter()
        engine = Engine.load(folder)
    engine.warm_up()
    opened = time.perf_counter() - t0
    users = engine.catalog.user_ids.tolist()
    ids = engine.catalog.movie_ids.tolist()
    stride = max(1, len(users) // calls)

    def timed(fn: Any) -> dict[str, float]:
        for i in range(3):
            fn(i)
        times = []
        for i in range(calls):
            start = time.perf_counter()
            fn(i)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        return {"median_ms": statistics.median(times), "p95_ms": times[int(0.95 * (calls - 1))]}

    result = {
        "open_s": opened,
        "rebuilt_before_timing": rebuilt,
        "picks": timed(lambda i: engine.recommend(users[(i * stride) % len(users)], top=10)),
        "similar": timed(lambda i: engine.similar(ids[(i * 97) % len(ids)], top=10)),
        # A fresh text each call, so no query-embedding cache answers.
        "search": timed(lambda i: engine.search(f"{QUERIES[i % len(QUERIES)]} {i}", top=10)),
    }
    print(json.dumps(result))


def write_png(rows: list[dict[str, Any]], path: Path) -> str:
    """Draw build time, query latency and peak memory against the number of ratings."""
    rows = sorted(rows, key=lambda r: r["ratings"])
    x = [r["ratings"] for r in rows]
    series = {
        "build (s)": ("time", [r["build_s"] for r in rows]),
        "picks median (ms)": ("latency", [r["picks"]["median_ms"] for r in rows]),
        "similar median (ms)": ("latency", [r["similar"]["median_ms"] for r in rows]),
        "search median (ms)": ("latency", [r["search"]["median_ms"] for r in rows]),
        "build peak RSS (MiB)": ("memory", [r["build_peak_mb"] for r in rows]),
        "serve peak RSS (MiB)": ("memory", [r["serve_peak_mb"] for r in rows]),
    }
    panels = ["time", "latency", "memory"]
    titles = ["Full build (s)", "Query latency, median (ms)", "Peak RSS (MiB)"]
    try:
        import kaleido  # noqa: F401
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=3, subplot_titles=titles)
        for name, (panel, values) in series.items():
            fig.add_trace(go.Scatter(x=x, y=values, name=name, mode="lines+markers"),
                          row=1, col=panels.index(panel) + 1)  # fmt: skip
        fig.update_xaxes(type="log", title_text="ratings")
        fig.update_yaxes(type="log")
        fig.update_layout(width=1500, height=480, title="Scaling with the number of ratings")
        fig.write_image(str(path))
        return f"wrote {path} (plotly + kaleido)"
    except ImportError:
        pass
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (f"skipped {path.name}: neither kaleido (for plotly) nor matplotlib is installed; "
                "the numbers are in scaling.json")  # fmt: skip
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for name, (panel, values) in series.items():
        axes[panels.index(panel)].plot(x, values, marker="o", label=name)
    for ax, title in zip(axes, titles, strict=True):
        ax.set(xscale="log", yscale="log", xlabel="ratings", title=title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return f"wrote {path} (matplotlib)"


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'size':>5} {'ratings':>11} {'users':>8} {'movies':>7} {'build s':>8} "
          f"{'build RSS':>10} {'open s':>7} {'picks ms':>9} {'similar ms':>11} "
          f"{'search ms':>10} {'serve RSS':>10}")  # fmt: skip
    for r in rows:
        print(
            f"{r['size']:>5} {r['ratings']:>11,} {r['users']:>8,} {r['movies']:>7,} "
            f"{r['build_s']:>8.1f} {r['build_peak_mb']:>6,.0f} MiB {r['open_s']:>7.1f} "
            f"{r['picks']['median_ms']:>9.1f} {r['similar']['median_ms']:>11.1f} "
            f"{r['search']['median_ms']:>10.1f} {r['serve_peak_mb']:>6,.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100k,1M", help=f"comma-separated, of {list(SHAPES)}")
    parser.add_argument("--scratch", type=Path, default=DEFAULT_SCRATCH,
                        help=f"data and artifacts go here (default {DEFAULT_SCRATCH})")  # fmt: skip
    parser.add_argument("--engine", choices=("local", "spark"), default="local")
    parser.add_argument("--spark-master", default="local[*]")
    parser.add_argument("--calls", type=int, default=30, help="requests timed per kind")
    parser.add_argument("--json-out", type=Path, default=HERE / "scaling.json")
    parser.add_argument("--png-out", type=Path, default=HERE / "scaling.png")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.calls)
        return
    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [label for label in labels if label not in SHAPES]
    if unknown:
        raise SystemExit(f"unknown size(s) {unknown}; choose from {list(SHAPES)}")
    env = _child_env(args.scratch)
    Path(env["MOVIE_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); "
          f"engine {args.engine}; scratch {args.scratch}", flush=True)  # fmt: skip
    rows: list[dict[str, Any]] = []
    merged: list[dict[str, Any]] = []
    for label in labels:
        users, movies, ratings = SHAPES[label]
        data, generated = ensure_data(label, args.scratch, env)
        note = f"generated in {generated:.0f} s" if generated is not None else "reused"
        print(f"{label}: data {note}; building ...", flush=True)
        row: dict[str, Any] = {"size": label, "users": users, "movies": movies,
                               "ratings": ratings, "engine": args.engine}  # fmt: skip
        row |= measure_build(data, env, args.engine, args.spark_master)
        print(f"{label}: built in {row['build_s']:.0f} s; timing queries ...", flush=True)
        row |= measure_queries(data, env, args.calls)
        row["load_average"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        merged = save_rows(args.json_out, [row])  # after each size: a later failure keeps it
    print()
    print_table(rows)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"wrote {args.json_out}")
    if rows:
        print(write_png([r for r in merged if r.get("engine") == args.engine], args.png_out))


def save_rows(path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge ``rows`` into the JSON file (replacing the same size and engine); all rows."""
    previous = json.loads(path.read_text()).get("rows", []) if path.is_file() else []
    fresh = {(r["size"], r["engine"]) for r in rows}
    keep = [r for r in previous if (r["size"], r.get("engine")) not in fresh]
    merged = sorted(keep + rows, key=lambda r: (r.get("engine", ""), r["ratings"]))
    path.write_text(json.dumps({
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rows": merged,
    }, indent=1) + "\n")  # fmt: skip
    return merged


if __name__ == "__main__":
    main()
