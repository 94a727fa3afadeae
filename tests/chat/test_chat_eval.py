"""The chat evaluation: reading requests, metrics on a hand-computed case, sections, tuning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.chat import Chat
from core.evaluation.chat import (
    SPLITS,
    ChatRequest,
    cross_validate,
    evaluate_chat,
    prepare,
    read_requests,
    request_metrics,
    score_weights,
    summarise,
)
from core.evaluation.results import Section
from tests.conftest import SHARED

REDIAL_DEV = SHARED / "redial-requests" / "dev.jsonl"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_requests_reports_bad_lines_with_numbers(tmp_path):
    path = write(tmp_path / "r.jsonl", [
        json.dumps({"id": "a", "query": "like Alien (1979)", "answers": [2, 3], "seeds": [1]}),
        "{not json",
        json.dumps({"id": "b", "query": 5, "answers": [1]}),
        "",
        json.dumps({"id": "c", "query": "hi", "answers": []}),
        json.dumps({"id": "d", "query": "romance", "answers": ["x"]}),
        json.dumps({"id": "e", "query": "romance", "answers": [9]}),
    ])  # fmt: skip
    requests, problems = read_requests(path)
    assert [r.id for r in requests] == ["a", "e"]
    assert requests[0] == ChatRequest("a", "like Alien (1979)", (2, 3), (1,))
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 5", "line 6"]


def test_metrics_on_a_hand_computed_case():
    request = ChatRequest("r", "q", answers=(5, 7, 9), seeds=(1,))
    # The named movie 1 is removed first, so 5 is at rank 1 and 7 at rank 11.
    ranked = [1, 5, 2, 3, 4, 6, 8, 10, 11, 12, 13, 7]
    metrics = request_metrics(ranked, request)
    assert metrics == {"hits@1": 1.0, "hits@10": 1.0, "hits@50": 2.0, "samples": 3.0,
                       "hit@10": 1.0}  # fmt: skip
    miss = request_metrics([2, 3], ChatRequest("s", "q", answers=(5,)))
    rows = summarise("m", [metrics, miss], ["names a movie", "small talk only"])
    by_split = {row["split"]: row for row in rows}
    assert [row["split"] for row in rows] == list(SPLITS)
    assert by_split["all"]["Recall@10"] == round(1 / 4, 4)
    assert by_split["all"]["Recall@50"] == round(2 / 4, 4)
    assert by_split["all"]["Hit@10"] == 0.5
    assert by_split["names a movie"]["Recall@1"] == round(1 / 3, 4)
    assert by_split["small talk only"]["Hit@10"] == 0.0
    assert by_split["describes a kind"]["requests"] == 0


def tiny_requests() -> list[ChatRequest]:
    return [
        ChatRequest("1", "Hi! I loved Alien (1979), what else?", (2, 4), (1,)),
        ChatRequest("2", "any good romantic comedies?", (9, 11)),
        ChatRequest("3", "Hello, how are you?", (7,)),
        ChatRequest("4", "I liked Notting Hill (1999)", (10, 13), (9,)),
        ChatRequest("5", "something for the kids", (18,)),
    ]


def test_evaluate_chat_section_on_the_tiny_engine(tiny_engine):
    section = evaluate_chat(Chat(tiny_engine), tiny_requests())
    assert isinstance(section, Section)
    models = {row["model"] for row in section.rows}
    assert {"chat", "most rated", "co-rating similarity to named movies",
            "search (today's chat)"} <= models  # fmt: skip
    chat_all = next(r for r in section.rows if r["model"] == "chat" and r["split"] == "all")
    assert chat_all["requests"] == 5 and chat_all["answers"] == 8
    assert 0.0 <= chat_all["Recall@10"] <= chat_all["Recall@50"] <= 1.0
    assert section.to_dict()["chosen"]["weights"]["cooc"] >= 0


def test_fast_scoring_matches_the_product_and_cv_runs(tiny_engine):
    requests = tiny_requests()
    prepared = prepare(Chat(tiny_engine), requests)
    from core.chat.conversation import DEFAULT_WEIGHTS

    table = score_weights(Chat(tiny_engine), prepared, requests, DEFAULT_WEIGHTS)
    section = evaluate_chat(Chat(tiny_engine), requests, include_baselines=False)
    chat_all = next(r for r in section.rows if r["split"] == "all")
    assert round(table[:, 1].sum() / table[:, 3].sum(), 4) == chat_all["Recall@10"]
    held, chosen = cross_validate(Chat(tiny_engine), prepared, requests, folds=2)
    assert held.shape == (5, 5) and len(chosen) == 2
    assert np.all(held[:, 3] == [2, 2, 1, 2, 1])


@pytest.mark.skipif(not REDIAL_DEV.exists(), reason=f"ReDial requests not found at {REDIAL_DEV} "
                    "(no ../shared beside this clone)")  # fmt: skip
def test_real_dev_file_reads_cleanly():
    requests, problems = read_requests(REDIAL_DEV)
    assert len(requests) == 564 and problems == []
    assert sum(1 for r in requests if r.seeds) == 287


TOMT = SHARED / "tomt-movies" / "train.jsonl"


@pytest.mark.skipif(not TOMT.exists(), reason=f"tip-of-the-tongue requests not found at {TOMT} "
                    "(no ../shared beside this clone)")  # fmt: skip
def test_tip_of_the_tongue_requests_keep_the_search_path(tiny_catalog):
    """Identification requests go to Engine.search unchanged: every [TOMT] post is read as
    "identify", and most still are with their tags removed."""
    import re

    from core.chat.turn import understand

    rows = [json.loads(line) for line in TOMT.read_text().splitlines()[:150]]
    tagged = [understand(r["query"], tiny_catalog).kind for r in rows]
    assert tagged.count("identify") == len(rows)
    bare = [re.sub(r"\[[^\]]*\]|\btomt\b", " ", r["query"], flags=re.I) for r in rows]
    kinds = [understand(q, tiny_catalog).kind for q in bare]
    assert kinds.count("identify") >= 0.8 * len(rows)
