"""The engine end to end on a tiny MovieLens folder: build, freshness, every operation."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import ArtifactError, EmptyQuery, UnknownTitle, UnknownUser
from core.serving.artifacts import file_digest
from core.serving.blend import Filters, Weights
from core.serving.build import build
from core.serving.engine import RECENT_TASTE, Engine
from core.serving.staleness import check
from core.signals.base import Query
from core.signals.registry import COMPONENTS
from tests.fixtures import ROMANCE, SCIFI


def test_build_writes_every_component_and_reuses_them(tiny_engine, tiny_data_dir, tiny_settings):
    status = check(tiny_data_dir, tiny_settings)
    assert status.up_to_date, status.describe()
    t0 = time.perf_counter()
    again = build(tiny_data_dir, tiny_settings)
    assert again.built == {} and sorted(again.reused) == sorted(c.name for c in COMPONENTS)
    assert time.perf_counter() - t0 < 5
    assert tiny_engine.manifest is not None
    assert tiny_engine.manifest.report["n_ratings"] == len(tiny_engine.catalog.ratings)


def test_changed_data_and_settings_are_detected(tmp_path, tiny_data_dir, tiny_settings):
    data = Path(shutil.copytree(tiny_data_dir, tmp_path / "copy"))
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    build(data, settings)
    assert check(data, settings).up_to_date
    changed = settings.replace(prior_damping=settings.prior_damping + 1)
    stale = check(data, changed).stale
    # Tuning scores the popularity signal too, and the collaborative ranker uses its choice.
    assert set(stale) == {"popularity", "tuning", "collab", "recent"}
    assert "settings" in stale["popularity"] and "settings" in stale["tuning"]
    with (data / "ratings.csv").open("a") as handle:
        handle.write("999,1,4.0,1700000000\n")
    stale = check(data, settings).stale
    assert set(stale) >= {"catalog", "svd", "collab"} and "data changed" in stale["catalog"]
    with pytest.raises(ArtifactError, match="need rebuilding"):
        Engine.open(data, settings, rebuild="never")


def test_library_upgrade_marks_dependent_components_stale(tmp_path, tiny_data_dir, tiny_settings):
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    build(tiny_data_dir, settings)
    folder = check(tiny_data_dir, settings).folder
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["versions"]["torch"] = "0.0.1"
    manifest_path.write_text(json.dumps(manifest))
    stale = check(tiny_data_dir, settings).stale
    assert set(stale) == {"semantic", "search", "metadata", "twotower"}
    assert "torch 0.0.1 -> " in stale["semantic"]
    build(tiny_data_dir, settings)
    assert check(tiny_data_dir, settings).up_to_date


def test_damaged_artifact_is_rebuilt_or_reported(tmp_path, tiny_data_dir, tiny_settings):
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    build(tiny_data_dir, settings)
    folder = check(tiny_data_dir, settings).folder
    victim = next(p for p in (folder / "collab").iterdir() if p.is_file())
    victim.write_bytes(victim.read_bytes()[:10])
    assert set(check(tiny_data_dir, settings).stale) == {"collab"}
    with pytest.raises(ArtifactError):
        Engine.open(tiny_data_dir, settings, rebuild="never")
    untouched = next(p for p in (folder / "semantic").iterdir() if p.suffix == ".npy")
    inode = untouched.stat().st_ino
    engine = Engine.open(tiny_data_dir, settings)
    assert not engine.recommend(1).items.empty
    # Only the damaged component was rebuilt: the others are the same files (hard links).
    assert (folder / "semantic" / untouched.name).stat().st_ino == inode


def test_unloadable_component_is_rebuilt_alone(tmp_path, tiny_data_dir, tiny_settings):
    settings = tiny_settings.replace(artifacts_dir=tmp_path / "art")
    build(tiny_data_dir, settings)
    folder = check(tiny_data_dir, settings).folder
    # Garbage recorded in the manifest as if the build had written it: the content check
    # passes, loading fails.
    victim = folder / "genre_tag" / "genre_tag_genres.npz"
    victim.write_bytes(b"x" * victim.stat().st_size)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["components"]["genre_tag"]["files"][victim.name]
    entry["blake2b"] = file_digest(victim)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError) as info:
        Engine.load(folder, settings)
    assert info.value.components == {"genre_tag"}
    engine = Engine.open(tiny_data_dir, settings)
    assert not engine.similar("alien").items.empty


def test_picks_follow_the_users_taste(tiny_engine):
    for user, liked in ((1, SCIFI), (2, ROMANCE)):
        picks = tiny_engine.recommend(user, top=3)
        seen = set(tiny_engine.catalog.user_ratings(user)["movieId"])
        assert not seen & set(picks.items["movieId"])
        assert set(picks.items["movieId"][:2]) <= set(liked)
        assert picks.items["reason"].str.len().gt(0).all()
        assert picks.items["predicted_rating"].between(0.5, 5.0).all()
        for col in ("contrib_collab", "contrib_genre_tag", "contrib_semantic"):
            assert col in picks.items


def test_weights_and_filters_change_picks(tiny_engine):
    base = tiny_engine.recommend(1, top=5)
    only_pop = tiny_engine.recommend(
        1, weights=Weights(collab=0, genre_tag=0, semantic=0, popularity=1), top=5
    )
    assert list(base.items["movieId"]) != list(only_pop.items["movieId"])
    romance = tiny_engine.recommend(1, filters=Filters(include_genres=("Romance",)), top=5)
    assert romance.items["genres"].str.contains("Romance").all()
    nothing = tiny_engine.recommend(1, filters=Filters(year_min=2100))
    assert nothing.items.empty and any("filters" in n for n in nothing.notes)


def test_new_user_fold_in(tiny_engine):
    picks = tiny_engine.recommend(ratings={1: 5.0, 2: 5.0, 9: 1.0}, top=3)
    assert set(picks.items["movieId"]) <= set(SCIFI)
    assert picks.items["predicted_rating"].notna().all()


def test_bad_users_and_empty_requests(tiny_engine):
    with pytest.raises(UnknownUser, match="no ratings"):
        tiny_engine.recommend(424242)
    with pytest.raises(EmptyQuery):
        tiny_engine.recommend()
    with pytest.raises(EmptyQuery):
        tiny_engine.search("   ")
    with pytest.raises(EmptyQuery):
        tiny_engine.search("?!")


def test_similar_by_typo_title(tiny_engine):
    result = tiny_engine.similar("usual suspect")
    assert result.anchor is not None and result.anchor.movie_id == 17
    assert 17 not in set(result.items["movieId"])
    aliens = tiny_engine.similar("alien 1979", top=3)
    assert 2 in set(aliens.items["movieId"])  # Aliens is like Alien
    with pytest.raises(UnknownTitle):
        tiny_engine.similar("qqqq zzzz")
    sides = tiny_engine.similar_by_signal(1, top=3)
    assert set(sides) == {"collab", "genre_tag", "semantic"}
    assert all(1 not in set(frame["movieId"]) for frame in sides.values())


def test_search_understands_constraints_and_follow_ups(tiny_engine):
    answer = tiny_engine.search("space adventure from the 80s, no horror")
    assert not answer.items.empty
    assert not answer.items["genres"].str.contains("Horror").any()
    years = answer.items["year"].dropna().astype(int)
    assert years.between(1980, 1989).all()
    assert any("Horror" in u for u in answer.understood)
    follow = tiny_engine.search("something older", state=answer.state)
    assert follow.items["year"].dropna().astype(int).lt(1980).all()
    long_text = "space " * 2000
    assert isinstance(tiny_engine.search(long_text).items.empty, bool)


def test_search_with_user_has_predicted_ratings(tiny_engine):
    answer = tiny_engine.search("romantic comedy", user_id=2)
    assert answer.items["predicted_rating"].notna().all()
    with pytest.raises(UnknownUser):
        tiny_engine.search("romantic comedy", user_id=999999)


def test_predict_fallbacks(tiny_engine):
    frame = tiny_engine.predict(1, [1, 9, 987654])
    assert list(frame["movieId"]) == [1, 9, 987654]
    assert bool(frame["was_impossible"].iloc[2])
    assert np.isfinite(frame["est"]).all()
    unknown = tiny_engine.predict(555555, [1])
    assert bool(unknown["was_impossible"].iloc[0])


def test_two_stage_search_in_genre_clusters(tiny_engine) -> None:
    answer = tiny_engine.search("a romantic comedy in london", clusters=1, top=5)
    assert any(u.startswith("searched within: ") for u in answer.understood)
    clusters = tiny_engine.genre_clusters
    items = tiny_engine.catalog.items_for(answer.items["movieId"].to_numpy())
    assert len(set(clusters.item_cluster[items].tolist())) == 1
    plain = tiny_engine.search("a romantic comedy in london", top=5)
    assert not any(u.startswith("searched within") for u in plain.understood)


def test_two_tower_picks(tiny_engine):
    picks = tiny_engine.recommend(1, top=3, model="twotower")
    seen = set(tiny_engine.catalog.user_ratings(1)["movieId"])
    assert len(picks.items) == 3 and not seen & set(picks.items["movieId"])
    assert picks.items["reason"].str.contains("two-tower").all()
    assert picks.weights_used == {"twotower": 1.0}
    assert picks.items["predicted_rating"].notna().all()
    newcomer = tiny_engine.recommend(ratings={1: 5.0, 2: 5.0, 9: 1.0}, top=3, model="twotower")
    assert not {1, 2, 9} & set(newcomer.items["movieId"])
    romance = tiny_engine.recommend(
        1, model="twotower", filters=Filters(include_genres=("Romance",)), top=3
    )
    assert romance.items["genres"].str.contains("Romance").all()


def test_picks_led_by_the_latest_ratings(tiny_engine):
    """The "recent" ranking changes only the collaborative profile's recency, per request."""
    own = tiny_engine.scorers["collab"].params.recency_decay  # as the build tuned it
    plain = tiny_engine.recommend(1, top=5)
    recent = tiny_engine.recommend(1, top=5, model="recent")
    assert len(recent.items) == 5
    seen = set(tiny_engine.catalog.user_ratings(1)["movieId"])
    assert not seen & set(recent.items["movieId"])
    assert recent.weights_used == plain.weights_used
    assert tiny_engine.scorers["collab"].params.recency_decay == own, "the engine's own scorer"
    query = Query(user_id=1)
    swapped = tiny_engine.scorers["collab"].with_params(**RECENT_TASTE)
    assert not np.allclose(
        swapped.score(query).values, tiny_engine.scorers["collab"].score(query).values
    ), "user 1's ratings span several times, so recency must move the scores"
