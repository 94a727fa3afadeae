"""Speed and memory of the synthetic data generator (``python -m core synth``) by size.

Usage: python benchmarks/synth_speed.py [--full] [--sizes 100k,1M] [--keep DIR]

Each size runs ``python -m core synth`` in its own process, so its peak RSS is its own
(``os.wait4`` returns the child's resource usage; RUSAGE_CHILDREN would be the running max over
all children). Shapes follow the real data sets of that size: ml-latest-small (100k),
ml-1m (1M), ml-10m (10M) and, with ``--full``, ml-32m (32M). Output goes to a scratch folder
that is deleted afterwards unless ``--keep`` is given.

Target: 32M ratings in minutes, with a peak RSS that does not grow with the number of ratings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# label -> (users, movies, ratings), the shapes of the MovieLens releases of that size.
SHAPES = {
    "100k": (610, 9_742, 100_836),  # ml-latest-small
    "1M": (6_040, 3_706, 1_000_209),  # ml-1m
    "10M": (69_878, 10_677, 10_000_054),  # ml-10m
    "32M": (200_948, 87_585, 32_000_204),  # ml-32m
}


def run_one(label: str, out: Path) -> dict[str, float]:
    """Generate one size in a child process; wall time, the child's summary and peak RSS."""
    users, movies, ratings = SHAPES[label]
    command = [sys.executable, "-m", "core", "synth", "--users", str(users), "--movies",
               str(movies), "--ratings", str(ratings), "--out", str(out), "--json"]  # fmt: skip
    # Output to files, not pipes: Popen.communicate() would reap the child before wait4 can.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if child.returncode != 0:
            message = stderr.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{label}: synth failed ({child.returncode}): {message}")
        summary = json.loads(stdout.read())
    size = sum(p.stat().st_size for p in out.iterdir())
    return {
        "users": users,
        "movies": movies,
        "ratings": ratings,
        "seconds": summary["seconds"],
        "wall": wall,
        "ratings_per_second": ratings / summary["seconds"],
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "disk_mb": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also 32M ratings (ml-32m shape)")
    parser.add_argument("--sizes", default=None, help=f"comma-separated subset of {list(SHAPES)}")
    parser.add_argument("--keep", type=Path, default=None, help="keep outputs under this folder")
    args = parser.parse_args()
    labels = args.sizes.split(",") if args.sizes else ["100k", "1M", "10M"]
    if args.full and "32M" not in labels:
        labels.append("32M")
    unknown = [label for label in labels if label not in SHAPES]
    if unknown:
        raise SystemExit(f"unknown size(s) {unknown}; choose from {list(SHAPES)}")

    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    header = (f"{'size':>5} {'users':>8} {'movies':>7} {'ratings':>11} {'seconds':>8} "
              f"{'wall s':>7} {'ratings/s':>10} {'peak RSS':>9} {'on disk':>8}")  # fmt: skip
    print(header)
    root = args.keep or Path(tempfile.mkdtemp(prefix="synth-speed-"))
    try:
        for label in labels:
            out = root / f"synth-{label}"
            if out.exists() and args.keep is None:
                shutil.rmtree(out)
            row = run_one(label, out)
            print(
                f"{label:>5} {row['users']:>8,} {row['movies']:>7,} {row['ratings']:>11,} "
                f"{row['seconds']:>8.1f} {row['wall']:>7.1f} {row['ratings_per_second']:>10,.0f} "
                f"{row['peak_rss_mb']:>6,.0f} MiB {row['disk_mb']:>5,.0f} MB",
                flush=True,
            )
            if args.keep is None:
                shutil.rmtree(out)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
