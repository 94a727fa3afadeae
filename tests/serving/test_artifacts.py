"""Artifact store: fingerprints, manifests, atomic swaps, damage detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ArtifactError
from core.serving.artifacts import (
    ArtifactWriter,
    Manifest,
    clean_stale_temporaries,
    file_fingerprint,
    stable_hash,
    verify_component,
)


def _manifest(**extra) -> Manifest:
    return Manifest(
        dataset="t", source="s", data_fingerprint="fp", settings={}, versions={}, built_at=0.0,
        **extra,
    )  # fmt: skip


def _write(folder: Path, text: str) -> None:
    with ArtifactWriter(folder) as writer:
        target = writer.component_dir("part")
        (target / "data.txt").write_text(text)
        writer.record("part", key=stable_hash(text), seconds=0.1)
        writer.commit(_manifest())


def test_fingerprint_depends_on_content_not_mtime(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("1,2\n")
    first = file_fingerprint([a])
    a.touch()
    assert file_fingerprint([a]) == first
    a.write_text("1,3\n")
    assert file_fingerprint([a]) != first


def test_stable_hash_ignores_key_order() -> None:
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_commit_replaces_folder_and_records_files(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "one")
    _write(folder, "two")
    assert (folder / "part" / "data.txt").read_text() == "two"
    manifest = Manifest.read(folder)
    assert manifest.components["part"]["files"] == {"data.txt": 3}
    verify_component(folder, "part", manifest)
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temporaries left behind


def test_crash_before_commit_keeps_previous_version(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "good")
    with pytest.raises(RuntimeError), ArtifactWriter(folder) as writer:
        (writer.component_dir("part") / "data.txt").write_text("half")
        raise RuntimeError("killed mid-build")
    assert (folder / "part" / "data.txt").read_text() == "good"
    assert not list(tmp_path.glob(".ds.tmp-*"))


def test_truncated_file_is_detected(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "complete")
    (folder / "part" / "data.txt").write_text("trunc")
    with pytest.raises(ArtifactError, match="damaged"):
        verify_component(folder, "part", Manifest.read(folder))


def test_missing_and_corrupt_manifest_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="No built artifacts"):
        Manifest.read(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupt"):
        Manifest.read(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 999}))
    with pytest.raises(ArtifactError, match="format"):
        Manifest.read(tmp_path)


def test_reuse_carries_component_over(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "keep me")
    previous = Manifest.read(folder).components["part"]
    with ArtifactWriter(folder) as writer:
        writer.reuse("part", previous)
        writer.commit(_manifest())
    assert (folder / "part" / "data.txt").read_text() == "keep me"
    verify_component(folder, "part", Manifest.read(folder))


def test_clean_stale_temporaries(tmp_path: Path) -> None:
    leftover = tmp_path / ".ds.tmp-1-2"
    leftover.mkdir()
    clean_stale_temporaries(tmp_path, max_age_s=0.0)
    assert not leftover.exists()


def test_evaluation_results_survive_a_rebuild(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "v1")
    (folder / "evaluation").mkdir()
    (folder / "evaluation" / "rating.json").write_text("{}")
    _write(folder, "v2")
    assert (folder / "evaluation" / "rating.json").read_text() == "{}"
