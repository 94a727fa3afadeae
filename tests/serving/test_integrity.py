"""Artifact integrity: no file is ever unpickled, changed bytes are caught by their hash, and a
malformed manifest is a clear message and a rebuild, never a traceback."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.errors import ArtifactError
from core.serving.artifacts import file_digest
from core.serving.engine import Engine
from core.serving.staleness import check
from core.signals.genre_tag import GenreTagScorer
from tests.conftest import REPO

#: What artifacts may be made of: arrays (read with ``allow_pickle=False``), JSON, Parquet, text.
SAFE_SUFFIXES = {".npy", ".npz", ".json", ".parquet", ".txt"}
#: Calls that unpickle (or may), which must not appear anywhere under ``core/``.
UNPICKLING = re.compile(
    r"joblib|\bpickle\.loads?\(|cloudpickle|\bdill\b|allow_pickle\s*=\s*True|read_pickle"
    r"|torch\.load\(|\bimport pickle\b|Unpickler"
)


class Bomb:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def built(tmp_path: Path, tiny_engine, tiny_data_dir: Path, tiny_settings):
    """A private copy of the session's tiny artifacts (tests damage it) and its settings."""
    source = check(tiny_data_dir, tiny_settings, content=False).folder
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    folder = settings.artifacts_dir / source.name
    shutil.copytree(source, folder)
    return folder, settings


def _rewrite_manifest_entry(folder: Path, component: str, path: Path) -> None:
    """Record ``path`` in the manifest as if the build had written it (an attacker who can
    write the artifact folder can write the manifest too)."""
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    files = manifest["components"][component]["files"]
    files[path.name] = {"size": path.stat().st_size, "blake2b": file_digest(path)}
    manifest_path.write_text(json.dumps(manifest))


def test_no_unpickling_call_under_core() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / "core").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if UNPICKLING.search(line)
    ]
    assert offenders == []


def test_the_unpickling_pattern_catches_what_it_should() -> None:
    for line in ("import joblib", "pickle.load(f)", "np.load(p, allow_pickle=True)",
                 "pd.read_pickle(p)", "torch.load(p)", "import pickle"):  # fmt: skip
        assert UNPICKLING.search(line), line
    assert not UNPICKLING.search("np.load(p, allow_pickle=False)")


def test_every_artifact_file_is_arrays_json_or_parquet(built) -> None:
    folder, _ = built
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        assert path.suffix in SAFE_SUFFIXES, path
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                for key in arrays.files:
                    _ = arrays[key]  # raises for an object (pickled) array
            assert zipfile.is_zipfile(path)


def test_a_pickle_bomb_where_the_old_joblib_lived_is_never_loaded(built, tiny_data_dir) -> None:
    folder, settings = built
    marker = folder.parent / "exploded"
    bomb = folder / "genre_tag" / "genre_tag.joblib"
    bomb.write_bytes(pickle.dumps(Bomb(marker)))
    status = check(tiny_data_dir, settings)
    assert set(status.stale) == {"genre_tag"}
    assert "unexpected file genre_tag.joblib" in status.stale["genre_tag"]
    # Even when the manifest lists it, no loader reads it.
    _rewrite_manifest_entry(folder, "genre_tag", bomb)
    assert check(tiny_data_dir, settings).up_to_date
    engine = Engine.load(folder, settings)
    assert not engine.similar("alien").items.empty
    assert not marker.exists()


def test_a_pickled_object_array_in_place_of_an_array_is_refused(built, tiny_data_dir) -> None:
    folder, settings = built
    marker = folder.parent / "exploded"
    victim = folder / "genre_tag" / "genre_tag_has_content.npy"
    np.save(victim, np.array([Bomb(marker)], dtype=object), allow_pickle=True)
    _rewrite_manifest_entry(folder, "genre_tag", victim)
    with pytest.raises(ValueError, match="allow_pickle"):
        GenreTagScorer.load(folder / "genre_tag")
    with pytest.raises(ArtifactError) as info:
        Engine.load(folder, settings)
    assert info.value.components == {"genre_tag"}
    engine = Engine.open(tiny_data_dir, settings)
    assert engine.notes and "genre_tag" in engine.notes[0]
    assert not marker.exists()


def test_same_size_byte_flip_is_reported_by_status_and_rebuilt(built, tiny_data_dir) -> None:
    folder, settings = built
    victim = folder / "semantic" / "semantic.npy"
    original = np.load(victim).copy()
    data = bytearray(victim.read_bytes())
    data[-5] ^= 0xFF  # inside the last vector, after the header: still a valid .npy
    victim.write_bytes(bytes(data))
    assert np.load(victim).shape == original.shape  # it would load without complaint

    status = check(tiny_data_dir, settings)
    assert set(status.stale) == {"semantic"}
    assert "content changed since the build: file semantic.npy" in status.stale["semantic"]
    assert check(tiny_data_dir, settings, content=False).up_to_date  # sizes alone miss it
    with pytest.raises(ArtifactError, match="content changed since the build"):
        Engine.open(tiny_data_dir, settings, rebuild="never")

    notes: list[str] = []
    engine = Engine.open(tiny_data_dir, settings, progress=lambda m, f: notes.append(m))
    assert "semantic.npy" in engine.notes[0] and engine.notes[0] in notes
    np.testing.assert_array_equal(np.asarray(engine.semantic.embeddings), original)
    assert check(tiny_data_dir, settings).up_to_date


MALFORMED = {
    "list": "[]",
    "null": "null",
    "components list": '{"components": []}',
    "truncated": '{"dataset": "tiny", "comp',
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_manifest_in_status_is_one_clear_message(
    built, tiny_data_dir, capsys, monkeypatch, text: str
) -> None:
    folder, settings = built
    (folder / "manifest.json").write_text(text)
    status = check(tiny_data_dir, settings)
    assert set(status.fresh) == set() and all("corrupt" in why for why in status.stale.values())
    monkeypatch.setenv("MOVIE_ARTIFACTS", str(settings.artifacts_dir))
    monkeypatch.setenv("MOVIE_CACHE", str(settings.cache_dir))
    monkeypatch.setenv("MOVIE_TEXT_SOURCES", "0")
    code = main(["status", "--data", str(tiny_data_dir)])
    out, err = capsys.readouterr()
    assert code == 1 and "corrupt" in out and "Traceback" not in out + err
    with pytest.raises(ArtifactError, match="corrupt") as info:
        Engine.load(folder, settings)
    assert info.value.components is not None and "catalog" in info.value.components


def test_malformed_manifest_is_rebuilt_by_open(built, tiny_data_dir) -> None:
    folder, settings = built
    (folder / "manifest.json").write_text('{"components": []}')
    engine = Engine.open(tiny_data_dir, settings)
    assert not engine.recommend(1).items.empty
    assert check(tiny_data_dir, settings).up_to_date
