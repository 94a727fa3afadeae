"""The reference results shipped in the package, and ``evaluate --quick`` / ``--save-reference``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.config import BUILTIN_DATA
from core.evaluation import reference, runner
from core.evaluation.reference import REFERENCE_ROOT, find_reference, save_reference
from core.evaluation.results import QUICK_PROTOCOL, Section, quick_protocol, read_sections
from core.evaluation.targets import target_rows


def test_shipped_builtin_reference_parses_and_was_measured_quick() -> None:
    shipped = find_reference(BUILTIN_DATA)
    assert shipped is not None, "core/resources/reference/builtin/ is missing"
    errors: list[str] = []
    sections = read_sections(shipped.folder, errors=errors)
    assert not errors
    assert {"rating", "ranking_stratified", "ranking_loo"} <= set(sections)
    for name, section in sections.items():
        assert section.quick, f"{name} was not written by evaluate --quick"
        assert section.dataset == BUILTIN_DATA
        assert section.rows and all("model" in row for row in section.rows)
    about = shipped.about
    assert about["command"].startswith("python -m core evaluate") and "--quick" in about["command"]
    assert "--data" not in about["command"], "the built-in data, not a folder"
    assert about["date"][:4].isdigit() and len(about["git_commit"]) >= 40
    assert about["machine"]["cores"] >= 1 and about["machine"]["python"].startswith("3.")
    assert about["wall_seconds"] > 0 and about["cpu_seconds"] > 0
    assert sorted(about["sections"]) == sorted(sections)


def test_quick_marker_is_what_the_targets_and_sections_read() -> None:
    section = Section("rating", quick_protocol("5-fold cross-validation", "2 folds instead of 5"))
    section.rows = [{"model": "stacked ensemble (product)", "RMSE": 0.86}]
    assert section.quick and section.protocol.startswith(QUICK_PROTOCOL)
    assert "2 folds instead of 5" in section.protocol
    assert not Section("rating", "5-fold cross-validation").quick
    assert target_rows({"rating": section})[0]["measure"].endswith("(quick protocol)")
    full = {"rating": {"protocol": "5-fold", "rows": section.rows}}
    assert "quick" not in target_rows(full)[0]["measure"]


@pytest.mark.parametrize(
    ("files", "dataset"),
    [
        ({}, BUILTIN_DATA),  # nothing shipped
        ({"builtin/about.json": "{}"}, BUILTIN_DATA),  # about without sections
        ({"builtin/evaluation/.rating.json.part": "{}"}, BUILTIN_DATA),  # a partial write
        ({"builtin/evaluation/rating.json": '{"rows": []}'}, "other-data"),  # another data set
        ({"builtin/evaluation/rating.json": '{"rows": []}'}, ""),  # no name at all
    ],
)
def test_no_reference_unless_this_data_set_has_section_files(
    tmp_path: Path, files: dict[str, str], dataset: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert find_reference(dataset, tmp_path) is None


@pytest.mark.parametrize("about", [None, "{not json", "[1, 2]", '{"machine": "two cores"}'])
def test_unreadable_about_still_finds_the_results_labelled(tmp_path: Path, about) -> None:
    folder = tmp_path / BUILTIN_DATA / "evaluation"
    folder.mkdir(parents=True)
    (folder / "rating.json").write_text('{"rows": [{"model": "m", "RMSE": 1.0}]}')
    if about is not None:
        (tmp_path / BUILTIN_DATA / "about.json").write_text(about)
    found = find_reference(BUILTIN_DATA, tmp_path)
    assert found is not None and found.folder == folder
    assert found.summary().startswith("? on ? cores")
    assert found.command == "python -m core evaluate --quick"


def test_save_reference_replaces_the_old_files_and_describes_the_run(tmp_path: Path) -> None:
    stale = tmp_path / BUILTIN_DATA / "evaluation" / "search.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"rows": []}')
    sections = {"rating": Section("rating", quick_protocol("p", "2 folds"), [{"model": "m"}])}
    started = reference.machine()
    save_reference(
        sections,
        BUILTIN_DATA,
        command="python -m core evaluate --quick",
        started=started,
        wall_seconds=12.34,
        cpu_seconds=20.0,
        root=tmp_path,
    )
    found = find_reference(BUILTIN_DATA, tmp_path)
    assert found is not None
    assert sorted(read_sections(found.folder)) == ["rating"], "the stale search.json is gone"
    assert found.about["wall_seconds"] == 12.3 and found.about["sections"] == ["rating"]
    assert found.about["machine"]["cores"] == started["cores"]
    assert len(found.about["machine"]["load_average_end"]) == 3
    assert f"on {started['cores']} cores" in found.summary()


def _fake_run(calls: list[dict]):
    def run(data, settings, *, parts, queries, requests, quick, progress):
        calls.append({"data": data, "parts": parts, "queries": queries, "quick": quick})
        section = Section("rating", quick_protocol("p", "2 folds") if quick else "p")
        section.rows = [{"model": "stacked ensemble (product)", "RMSE": 0.9}]
        section.dataset = BUILTIN_DATA
        return {"rating": section}

    return run


@pytest.mark.parametrize(
    ("argv", "parts", "quick"),
    [
        (["--quick"], ["rating", "ranking", "search", "chat"], True),  # models skipped by default
        (["--quick", "--parts", "models"], ["models"], True),  # unless named
        ([], ["rating", "ranking", "search", "models", "chat"], False),
        (["--parts", "rating"], ["rating"], False),
    ],
)
def test_evaluate_quick_parts(monkeypatch, capsys, argv, parts, quick) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(runner, "run", _fake_run(calls))
    assert main(["evaluate", "--json", *argv]) == 0
    assert calls == [{"data": None, "parts": parts, "queries": None, "quick": quick}]
    assert "rating" in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--quick", "--parts", "rating,speed"], "Unknown part(s) ['speed']"),
        (["--quick", "--queries", "no-such-file.jsonl"], "does not exist"),
    ],
)
def test_evaluate_quick_bad_input_is_one_line(monkeypatch, capsys, argv, message) -> None:
    monkeypatch.setattr(runner, "run", _fake_run([]))
    assert main(["evaluate", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_evaluate_save_reference_writes_the_shipped_folder(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(runner, "run", _fake_run([]))
    monkeypatch.setattr(reference, "REFERENCE_ROOT", tmp_path)
    assert main(["evaluate", "--quick", "--save-reference", "--json"]) == 0
    found = find_reference(BUILTIN_DATA, tmp_path)
    assert found is not None and found.about["command"] == "python -m core evaluate --quick"
    assert read_sections(found.folder)["rating"].quick
    assert "reference results written to" in capsys.readouterr().err


def test_shipped_reference_lives_inside_the_package() -> None:
    assert REFERENCE_ROOT.parent.name == "resources" and REFERENCE_ROOT.parent.parent.name == "core"
