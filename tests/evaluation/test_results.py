"""Evaluation result files: what write_section writes, read_sections reads back (or skips)."""

from __future__ import annotations

import json
from pathlib import Path

from core.evaluation.results import Section, format_section, read_sections, write_section


def test_written_sections_read_back(tmp_path: Path) -> None:
    section = Section("ranking_loo", "leave one out", [{"model": "a", "HitRate@10": 0.25}],
                      {"weights": {"collab": 1.0}}, 12.34)  # fmt: skip
    path = write_section(tmp_path / "evaluation", section, dataset="tiny")
    assert path.name == "ranking_loo.json"
    data = json.loads(path.read_text())
    assert data == {**section.to_dict(), "dataset": "tiny", "written_at": data["written_at"]}
    assert not list(path.parent.glob(".*"))  # the partial file was renamed
    (read,) = read_sections(tmp_path / "evaluation").values()
    assert read.to_dict() == section.to_dict() | {"seconds": 12.3}
    assert read.dataset == "tiny" and read.written_at == data["written_at"]


def test_damaged_or_foreign_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write_section(tmp_path, Section("rating", "cv", [{"model": "svd", "RMSE": 0.85}]), dataset="x")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    (tmp_path / ".search.json.part").write_text("{half")
    errors: list[str] = []
    sections = read_sections(tmp_path, errors=errors)
    assert list(sections) == ["rating"]
    assert len(errors) == 2
    assert any("broken.json" in e for e in errors) and any("other.json" in e for e in errors)
    assert read_sections(tmp_path / "missing") == {}


def test_format_section_is_a_plain_table() -> None:
    text = format_section(Section("demo", "a protocol", [{"model": "a", "nDCG@10": 0.5}],
                                  {"k": 1}, 3.0))  # fmt: skip
    assert text.splitlines()[:2] == ["== demo (3 s)", "a protocol"]
    assert "0.5000" in text and 'chosen: {"k": 1}' in text
