"""Shared pytest fixtures: a tiny catalogue and the sentence encoder, loaded once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures import make_tiny_catalog  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
ML_LATEST_SMALL = SHARED / "ml-latest-small"
TOMT = SHARED / "tomt-movies" / "train.jsonl"

needs_shared = pytest.mark.skipif(
    not (ML_LATEST_SMALL / "ratings.csv").exists(),
    reason=f"real MovieLens data not found at {ML_LATEST_SMALL} (../shared is absent in this clone)",
)


@pytest.fixture(scope="session")
def tiny_catalog():
    """A 20-movie catalogue with a sci-fi and a romance taste group (do not mutate)."""
    return make_tiny_catalog()


@pytest.fixture(scope="session")
def encoder():
    """The sentence encoder, loaded once for the whole test session."""
    from core.embeddings import Encoder

    return Encoder()
