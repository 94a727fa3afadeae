"""The "models" evaluation part end to end on the tiny engine (every section, real helpers)."""

from __future__ import annotations

import pytest

from core.evaluation.models import evaluate_models


@pytest.mark.slow
def test_every_section_is_produced(tiny_engine, tiny_settings) -> None:
    queries = [
        {"query": "space marines fight the aliens again", "movieId": 2},
        {"query": "a bookshop owner falls for a film star in london", "movieId": 9},
        {"query": "a movie nobody has in this catalogue", "movieId": 999_999},
    ]
    sections = evaluate_models(tiny_engine, tiny_settings, queries=queries)
    assert set(sections) == {
        "twotower_ranking_stratified", "twotower_ranking_loo", "crew_metadata",
        "twotower_variants", "twotower_cold_start", "twotower_rating", "ann_recall",
        "cluster_search",
    }  # fmt: skip
    for name, section in sections.items():
        assert section.rows and section.protocol, name
        assert all("model" in row for row in section.rows), name
    ranking = {row["model"]: row for row in sections["twotower_ranking_stratified"].rows}
    assert {"Recall@10", "Recall@50", "Recall@100", "nDCG@10"} <= set(ranking["two-tower alone"])
    cold = {row["model"]: row for row in sections["twotower_cold_start"].rows}
    assert cold["two-tower (movie tower sees content)"]["cold movies scored"] == 1.0
    rating = {row["model"]: row for row in sections["twotower_rating"].rows}
    assert "product rating model (SVD + item/user kNN, stacked)" in rating
    assert all({"MAE", "MAPE %"} <= set(row) for row in rating.values())
    exact = [r for r in sections["ann_recall"].rows if r["model"].startswith("exact")]
    assert all(r["recall@10 vs exact"] == 1.0 for r in exact)
    assert sections["cluster_search"].rows[0]["queries"] == 2  # the unknown answer is skipped
    assert "verdict" in sections["crew_metadata"].chosen
    assert sections["crew_metadata"].seconds > 0  # timed, not left at 0 s
    for key in ("stratified", "loo"):
        models = [row["model"] for row in sections[f"twotower_ranking_{key}"].rows]
        # default recency here, unlike ranking_*.json's tuned rows: the labels say so
        assert "blend, weights tuned on validation (default recency)" in models
        assert any(m.startswith("collaborative signal") and "default recency" in m
                   for m in models)  # fmt: skip
        assert "blend, weights tuned on validation" not in models
