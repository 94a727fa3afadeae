"""Why taste factors: EASE beside a few-factor ALS model, on the outside yardstick's split.

Usage: python benchmarks/collab_ensembles.py /work/data/ml-100k ../shared/data/ml-latest-small

Per-user stratified 75/25 split of ``benchmarks/generalisation.py`` (seed 42), nDCG@10 with
binary relevance, plain numpy/scipy and ``implicit``: EASE alone (lambda 250 and 625), EASE with
popularity-scaled regularisation (lambda + diag(X'X), Steck 2020's dropout view), ALS alone at a
few sizes, and the z-scored sum of EASE 250 and the 16-factor ALS at a few weights. Exploration
on the test split itself: the product chooses its weight on validation ratings at build time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generalisation as g


def zscore(scores: np.ndarray) -> np.ndarray:
    centred = scores - scores.mean(axis=1, keepdims=True)
    return centred / (centred.std(axis=1, keepdims=True) + 1e-9)


def ease_regularised(x: np.ndarray, lam: float, share: float) -> np.ndarray:
    """EASE with ``lam + share * diag(X'X)`` on the diagonal (share 0: plain EASE)."""
    gram = x.T @ x
    p = np.linalg.inv(gram + np.diag(lam + share * np.diag(gram)))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return x @ b


def als(matrix: sparse.csr_matrix, factors: int, regularization: float, alpha: float) -> np.ndarray:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=factors, regularization=regularization,
                                        alpha=alpha, iterations=20, random_state=42)  # fmt: skip
        model.fit(matrix, show_progress=False)
    return np.asarray(model.user_factors) @ np.asarray(model.item_factors).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    for folder in args.folders:
        frame = g.read_ratings(Path(folder)).frame
        test = g.make_split("stratified", frame, args.seed)
        train, truth = frame[~test], g.held_out(frame, test)
        inter = g.Interactions.of(train)
        x = inter.matrix.toarray()
        users = list(truth)

        def ndcg(scores: np.ndarray) -> float:
            return g.rank_metric("stratified", inter.top(scores, users), truth)  # noqa: B023

        rows: list[tuple[str, float]] = []
        ease = ease_regularised(x, 250.0, 0.0)
        rows.append(("EASE lambda 250", ndcg(ease)))
        rows.append(("EASE lambda 625", ndcg(ease_regularised(x, 625.0, 0.0))))
        rows.append(("EASE lambda 250 + diag(X'X)", ndcg(ease_regularised(x, 250.0, 1.0))))
        factor_scores = {}
        for factors in (16, 32, 64):
            factor_scores[factors] = als(inter.matrix, factors, 1.0, 2.0)
            rows.append((f"ALS {factors} factors (reg 1, alpha 2)", ndcg(factor_scores[factors])))
        for weight in (0.25, 0.5, 0.75):
            mixed = zscore(ease) + weight * zscore(factor_scores[16])
            rows.append((f"EASE 250 + {weight} x ALS 16 (z-scores)", ndcg(mixed)))
        base = rows[0][1]
        print(f"== {folder}: {len(users)} users")
        for label, value in rows:
            print(f"  {label:<36} nDCG@10 {value:.4f}  ({value / base - 1:+.1%} vs EASE 250)")


if __name__ == "__main__":
    main()
