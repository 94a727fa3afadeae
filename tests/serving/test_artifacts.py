"""Artifact store: fingerprints, manifests, atomic swaps, damage detection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from core.errors import ArtifactError
from core.serving.artifacts import (
    ArtifactWriter,
    Manifest,
    clean_stale_temporaries,
    file_digest,
    file_fingerprint,
    recorded_bytes,
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
    recorded = manifest.components["part"]["files"]
    digest = hashlib.blake2b(b"two", digest_size=16).hexdigest()
    assert recorded == {"data.txt": {"size": 3, "blake2b": digest}}
    assert file_digest(folder / "part" / "data.txt") == digest
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


def test_same_size_change_is_detected_by_content(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "complete")
    victim = folder / "part" / "data.txt"
    data = bytearray(victim.read_bytes())
    data[3] ^= 0x01  # one bit, same size
    victim.write_bytes(bytes(data))
    manifest = Manifest.read(folder)
    verify_component(folder, "part", manifest, content=False)  # names and sizes still match
    with pytest.raises(ArtifactError, match=r"content changed since the build: file data\.txt"):
        verify_component(folder, "part", manifest)


def test_a_file_the_build_did_not_write_is_detected(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "complete")
    (folder / "part" / "part.joblib").write_bytes(b"planted")
    with pytest.raises(ArtifactError, match=r"unexpected file part\.joblib"):
        verify_component(folder, "part", Manifest.read(folder), content=False)


def test_a_manifest_without_content_hashes_asks_for_a_rebuild(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "complete")
    data = json.loads((folder / "manifest.json").read_text())
    data["components"]["part"]["files"] = {"data.txt": 8}  # how older code recorded files
    (folder / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="no content hashes"):
        verify_component(folder, "part", Manifest.read(folder), content=False)


def _valid_manifest() -> dict:
    return json.loads(_manifest(components={"part": {"key": "k", "files": {}}}).to_json())


MALFORMED_MANIFESTS = {
    "list": "[]",
    "null": "null",
    "number": "3",
    "string": '"manifest"',
    "truncated": _manifest().to_json()[:40],
    "components list": json.dumps({"components": []}),
    "components list, all fields": json.dumps({**_valid_manifest(), "components": []}),
    "entry not an object": json.dumps({**_valid_manifest(), "components": {"part": [1]}}),
    "entry null": json.dumps({**_valid_manifest(), "components": {"part": None}}),
    "missing field": json.dumps({k: v for k, v in _valid_manifest().items() if k != "source"}),
    "wrong type": json.dumps({**_valid_manifest(), "built_at": "yesterday"}),
    "bool for number": json.dumps({**_valid_manifest(), "built_at": True}),
    "settings list": json.dumps({**_valid_manifest(), "settings": []}),
    "unknown field": json.dumps({**_valid_manifest(), "extra": 1}),
    "not UTF-8": b"\xff\xfe{}",
    "deep nesting": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("text", MALFORMED_MANIFESTS.values(), ids=MALFORMED_MANIFESTS.keys())
def test_malformed_manifest_is_a_clear_error(tmp_path: Path, text: str | bytes) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ArtifactError, match=r"corrupt|format"):
        Manifest.read(tmp_path)


def test_the_base_of_the_malformed_table_is_valid(tmp_path: Path) -> None:
    # Each malformed manifest above must fail for its own change, not because the base does.
    (tmp_path / "manifest.json").write_text(json.dumps(_valid_manifest()))
    assert Manifest.read(tmp_path).components == {"part": {"key": "k", "files": {}}}


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


@pytest.mark.parametrize(
    ("text", "said"),
    [("[]", "an array"), ("null", "null"), ("1.5", "a number"), ('"x"', "a string")],
)
def test_a_manifest_that_is_not_an_object_says_what_it_is(tmp_path: Path, text, said) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ArtifactError, match=f"corrupt \\({said}, not an object\\)"):
        Manifest.read(tmp_path)


def test_recorded_bytes_sums_the_manifest_sizes(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _write(folder, "twelve bytes")
    assert recorded_bytes(Manifest.read(folder).components["part"]) == 12
    for entry in ({}, {"files": []}, {"files": {"a": 5}}, {"files": {"a": {"size": "5"}}}):
        assert recorded_bytes(entry) == 0  # older or damaged entries count nothing
