"""Test RMSE of the product's rating model on one seeded 80/20 split, against Surprise SVD.

Protocol: per-user stratified split (``core.evaluation.splits.stratified_split``, 20 % of each
user's ratings to test, seeded); :class:`core.signals.rating.RatingModel` is fitted through a
catalogue holding only the 80 % (as ``core/evaluation/rating.py`` does), so everything it
chooses at build time is chosen on its own validation split of those ratings. Baselines on
the same split: Surprise ``SVD`` with its defaults, and with the product's fixed SVD settings.
Predictions are clipped to the rating scale.

Usage::

    python benchmarks/rating_quality.py DATA_DIR [DATA_DIR ...] [--seed 42] [--no-baselines]
        [--rating NAME=VALUE ...]   # RatingSettings changes, e.g. --rating bmf_samples=30

``DATA_DIR`` is any MovieLens folder the loader reads (``builtin`` for the shipped snapshot).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.config import RatingSettings, Settings  # noqa: E402
from core.data.loaders import load_catalog  # noqa: E402
from core.evaluation.metrics import rmse_mae  # noqa: E402
from core.evaluation.signals import subset_catalog  # noqa: E402
from core.evaluation.splits import stratified_split  # noqa: E402
from core.signals.rating import RatingModel, component_estimates  # noqa: E402


def surprise_rmse(train, test, scale, seed: int, **params) -> tuple[float, float]:
    """Test RMSE and fit seconds of Surprise ``SVD(**params)`` fitted on ``train``."""
    from surprise import SVD, Dataset, Reader

    data = Dataset.load_from_df(
        train[["userId", "movieId", "rating"]], Reader(rating_scale=scale)
    ).build_full_trainset()
    t0 = time.perf_counter()
    algo = SVD(random_state=seed, **params)
    algo.fit(data)
    seconds = time.perf_counter() - t0
    truth = test["rating"].to_numpy(np.float64)
    pairs = zip(test["userId"], test["movieId"], truth, strict=True)
    est = np.clip([algo.predict(u, m).est for u, m, _ in pairs], *scale)
    return rmse_mae(est, truth)[0], seconds


def run(data: str, seed: int, test_fraction: float, baselines: bool, settings: Settings) -> dict:
    """Fit on the training part of ``data`` and return the figures (also printed)."""
    catalog = load_catalog(data, settings, enrich=False)
    ratings = catalog.ratings.reset_index(drop=True)
    train, test = stratified_split(ratings, test_fraction, seed)
    scale = tuple(float(x) for x in catalog.report.rating_scale)
    truth = test["rating"].to_numpy(np.float64)
    users, movies = test["userId"].to_numpy(), test["movieId"].to_numpy()
    print(f"== {data}: {len(train):,} train / {len(test):,} test ratings (seed {seed})")
    out: dict = {"data": str(data), "seed": seed, "n_train": len(train), "n_test": len(test)}
    t0 = time.perf_counter()
    model = RatingModel(settings).fit(subset_catalog(catalog, train))
    out["fit_seconds"] = time.perf_counter() - t0
    for name, est in component_estimates(model, users, movies).items():
        out[f"rmse_{name}"] = rmse_mae(est, truth)[0]
    out["rmse_product"] = rmse_mae(model.estimate(users, movies), truth)[0]
    out["choices"] = getattr(model, "choices", {})
    for key, value in out.items():
        if key.startswith("rmse_") or key == "fit_seconds":
            print(f"  {key:28s} {value:.4f}")
    if out["choices"]:
        print("  choices: " + json.dumps(out["choices"], default=str))
    if baselines:
        svd = settings.svd
        for label, params in (
            ("surprise_svd_defaults", {}),
            ("surprise_svd_product_settings", {
                "n_factors": svd.n_factors, "n_epochs": svd.n_epochs,
                "lr_all": svd.lr_all, "reg_all": svd.reg_all}),
        ):  # fmt: skip
            rmse, seconds = surprise_rmse(train, test, scale, seed, **params)
            out[f"rmse_{label}"] = rmse
            print(f"  rmse_{label:23s} {rmse:.4f}  ({seconds:.1f} s)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="+")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--rating", nargs="*", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    changes = {}
    for item in args.rating:
        name, value = item.split("=", 1)
        changes[name] = type(getattr(RatingSettings(), name))(json.loads(value))
    settings = Settings(rating=dataclasses.replace(RatingSettings(), **changes))
    results = [
        run(d, args.seed, args.test_fraction, not args.no_baselines, settings) for d in args.data
    ]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
