"""The quality targets judge the product rows (and the held-out search row when in-sample)."""

from __future__ import annotations

from core.evaluation.results import Section
from core.evaluation.targets import target_rows


def test_target_rows_judge_the_product_rows() -> None:
    sections = {
        "rating": {"rows": [
            {"model": "Surprise SVD, defaults", "RMSE": 0.80},
            {"model": "stacked ensemble (product)", "RMSE": 0.8347},
        ]},
        "ranking_loo": {"rows": [
            {"model": "blend, product defaults", "HitRate@10": 0.2},
            {"model": "blend, tuned on validation (product)", "HitRate@10": 0.0967},
        ]},
        "ranking_stratified": {"rows": [
            {"model": "blend, tuned on validation for this protocol", "nDCG@10": 0.5},
            {"model": "product: build-time tuning on the training part (default recommend)",
             "nDCG@10": 0.41},
        ]},
        "search": Section("search", "", [
            {"model": "full search (product: fusion + shipped re-ranker) [in-sample]",
             "Recall@10": 0.31},
            {"model": "full search, re-ranker 5-fold cross-validated on these requests",
             "Recall@10": 0.24},
        ]),
    }  # fmt: skip
    rows = {row["measure"]: row for row in target_rows(sections)}
    assert set(rows) == {"rating RMSE, 5-fold", "HitRate@10, leave-one-out", "search Recall@10",
                         "nDCG@10, stratified 75/25"}  # fmt: skip
    # the default recommend as built is judged, not the protocol's own tuning
    assert rows["nDCG@10, stratified 75/25"]["measured"] == 0.41
    rating = rows["rating RMSE, 5-fold"]
    assert rating["met"] and rating["target"] == "<= 0.845"
    assert not rows["HitRate@10, leave-one-out"]["met"]  # the product row, not the defaults
    # the held-out (cross-validated) search row wins over the in-sample product row
    assert rows["search Recall@10"]["measured"] == 0.24 and not rows["search Recall@10"]["met"]
    assert target_rows({}) == []
    # on requests the shipped model never saw, the product row itself is judged
    other = Section("search", "", [
        {"model": "full search (product: fusion + shipped re-ranker)", "Recall@10": 0.33},
        {"model": "full search, re-ranker 5-fold cross-validated on these requests",
         "Recall@10": 0.24},
    ])  # fmt: skip
    (judged,) = target_rows({"search": other})
    assert judged["measured"] == 0.33 and judged["met"] and "product" in judged["row"]


def test_chat_targets_read_the_held_out_row_when_the_weights_saw_the_requests() -> None:
    from core.evaluation.results import Section
    from core.evaluation.targets import target_rows

    rows = [
        {"model": "chat (product) [in-sample: its weights were tuned on these requests]",
         "split": "all", "Recall@10": 0.133, "Hit@10": 0.255},
        {"model": "chat (product) [in-sample: its weights were tuned on these requests]",
         "split": "names a movie", "Recall@10": 0.5, "Hit@10": 0.5},
        {"model": "chat, weights cross-validated on these requests (5 folds: tuned on the rest)",
         "split": "all", "Recall@10": 0.132, "Hit@10": 0.19},
        {"model": "most rated", "split": "all", "Recall@10": 0.016, "Hit@10": 0.037},
    ]  # fmt: skip
    found = {r["measure"]: r for r in target_rows({"chat": Section("chat", "p", rows)})}
    assert found["chat Recall@10"]["measured"] == 0.132 and found["chat Recall@10"]["met"]
    assert found["chat Hit@10"]["measured"] == 0.19 and not found["chat Hit@10"]["met"]
