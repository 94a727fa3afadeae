"""Why a component is stale: data, settings, libraries, or a folder saved by older code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.serving.build import build
from core.serving.engine import Engine
from core.serving.staleness import check, component_keys, data_fingerprint, resolve_data


def test_a_folder_saved_by_older_code_says_so_and_is_rebuilt(
    tmp_path: Path, tiny_data_dir: Path, tiny_settings
) -> None:
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    build(tiny_data_dir, settings)
    folder = check(tiny_data_dir, settings).folder
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    # What the manifest held before the semantic component's format changed (version 1).
    fingerprint = data_fingerprint(resolve_data(tiny_data_dir), settings)
    old = component_keys(fingerprint, settings, versions={"semantic": 1})
    readers = ("semantic", "search", "metadata", "twotower", "tuning", "collab", "recent")
    for name in readers:
        manifest["components"][name]["key"] = old[name]
    manifest_path.write_text(json.dumps(manifest))

    stale = check(tiny_data_dir, settings).stale
    assert stale["semantic"] == "saved by an older version of the code (its format changed)"
    assert stale["search"] == "reads semantic, which an older version of the code saved"
    assert set(stale) == set(readers)
    engine = Engine.open(tiny_data_dir, settings)
    assert check(tiny_data_dir, settings).up_to_date
    assert engine.search("space adventure").items["movieId"].tolist()


def test_a_changed_setting_is_not_mistaken_for_older_code(
    tmp_path: Path, tiny_data_dir: Path, tiny_settings
) -> None:
    data = Path(shutil.copytree(tiny_data_dir, tmp_path / "copy"))
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    build(data, settings)
    changed = settings.replace(embed_model=settings.embed_model + "-other")
    assert check(data, changed).stale["semantic"] == "settings changed"
