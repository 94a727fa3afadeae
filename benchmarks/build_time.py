"""Time of a full build and of an unchanged rebuild, in a scratch artifacts folder.

Usage: python benchmarks/build_time.py [--data DIR]

Targets on the built-in data, 2 cores: full build <= 3 minutes; unchanged rebuild <= 5 s.
The offline text sources are reused from the normal cache (fetching them is a one-off
download, timed separately as "sources"); the movie-vector cache starts empty.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import Settings
from core.data.sources import ensure_sources
from core.serving.build import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    base = Settings()
    t0 = time.perf_counter()
    ensure_sources(base)
    print(f"sources (cached after first run): {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as scratch:
        # Scratch artifacts *and* a scratch embedding cache (a warm text->vector cache would
        # skip the encoding, most of a real first build); the fetched text sources are shared.
        cache = Path(scratch) / "cache"
        cache.mkdir()
        (cache / "sources").symlink_to(Path(base.cache_dir).resolve() / "sources")
        settings = base.replace(artifacts_dir=Path(scratch) / "artifacts", cache_dir=cache)
        full = build(args.data, settings)
        print(full.report.summary() if full.report else "")
        for name, seconds in full.built.items():
            print(f"  {name:<11} {seconds:7.2f} s")
        print(f"full build:        {full.seconds:7.2f} s")
        again = build(args.data, settings)
        print(f"unchanged rebuild: {again.seconds:7.2f} s (reused {len(again.reused)} components)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
