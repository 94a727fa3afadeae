"""Hybrid search on the tiny catalogue: retrieval, constraints, references, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.search.config import SearchConfig
from core.search.index import SearchIndex
from core.search.request import NO_EARLIER_ANSWER, parse_request
from core.search.text import split_passages, stem, tokenize
from core.serving.blend import Filters
from core.signals.encoder import Encoder
from core.signals.semantic import SemanticScorer, fallback_text


@pytest.fixture(scope="module")
def index(tiny_catalog, encoder: Encoder) -> SearchIndex:
    semantic = SemanticScorer(encoder=encoder).fit(tiny_catalog)
    texts = fallback_text(tiny_catalog, long=True)
    # One long text so the passage path is exercised too.
    texts[6] += " " + " ".join(["a wormhole near Saturn takes the crew to another galaxy"] * 20)
    return SearchIndex.build(tiny_catalog, texts, semantic.embeddings, encoder=encoder)


def titles(index: SearchIndex, items: np.ndarray) -> list[str]:
    return [index.titles[int(i)] for i in items]


def ask(index: SearchIndex, catalog, text: str, **kwargs):
    return index.search(parse_request(text, catalog), **kwargs)


def test_tokenizer_stems_and_drops_stopwords() -> None:
    assert tokenize("The killings of the stories, running!") == ["kill", "story", "run"]
    assert stem("class") == "class" and stem("falling") == "fall" and stem("aliens") == "alien"
    assert tokenize("I remember a movie scene") == []


def test_keyword_and_meaning_retrieval(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "space smugglers")
    assert titles(index, hits.items)[0].startswith("Star Wars")
    assert "smuggler" in hits.reasons[0]
    assert set(hits.parts) >= {"bm25", "dense"}
    assert np.all(np.diff(hits.scores) <= 1e-6)
    meaning = ask(index, tiny_catalog, "a lonely woman drifting in orbit")
    assert titles(index, meaning.items)[0] == "Gravity (2013)"


def test_passages_find_details_deep_in_long_texts(index: SearchIndex, tiny_catalog) -> None:
    assert len(index.passage_item) > 0 and set(index.passage_item.tolist()) == {6}
    hits = ask(index, tiny_catalog, "crew goes through a wormhole near Saturn")
    assert titles(index, hits.items)[0] == "Interstellar (2014)"


def test_hard_constraints(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "romantic comedy from the 90s, no drama", top=3)
    movies = tiny_catalog.movies.iloc[hits.items]
    assert len(hits) == 3
    assert movies["year"].between(1990, 1999).all()
    assert not movies["genres"].str.contains("Drama").any()
    assert movies["genres"].str.contains("Romance").all()


def test_too_strict_genres_become_a_preference(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "space adventure from the 80s, no horror")
    movies = tiny_catalog.movies.iloc[hits.items]
    assert len(hits) and movies["year"].between(1980, 1989).all()
    assert not movies["genres"].str.contains("Horror").any()
    assert any("preference" in note for note in hits.notes)


def test_explicit_filters(index: SearchIndex, tiny_catalog) -> None:
    filters = Filters(year_min=2000, exclude_ids=(7,), include_genres=("Sci-Fi",))
    hits = ask(index, tiny_catalog, "space", filters=filters)
    movies = tiny_catalog.movies.iloc[hits.items]
    assert (movies["year"] >= 2000).all() and 7 not in set(movies["movieId"])
    assert movies["genres"].str.contains("Sci-Fi").all()
    nothing = ask(index, tiny_catalog, "space", filters=Filters(year_min=2100))
    assert len(nothing) == 0 and nothing.notes


def test_reference_neighbours_without_the_reference(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "movies like alien", top=3)
    assert "Aliens (1986)" in titles(index, hits.items)
    assert tiny_catalog.item_of[1] not in hits.items.tolist()
    assert "reference" in hits.parts
    assert any("similar to Alien (1979)" in r for r in hits.reasons)


def test_funnier_lifts_comedies(index: SearchIndex, tiny_catalog) -> None:
    def first_comedy(text: str) -> int:
        items = ask(index, tiny_catalog, text, top=19).items
        comedy = tiny_catalog.movies.iloc[items]["genres"].str.contains("Comedy").to_numpy()
        return int(np.flatnonzero(comedy)[0])

    assert first_comedy("like Alien but funnier") < first_comedy("movies like alien")


def test_popularity_wishes_change_the_order(index: SearchIndex, tiny_catalog) -> None:
    popular = ask(index, tiny_catalog, "popular romantic comedies", top=5).items
    hidden = ask(index, tiny_catalog, "hidden gem romantic comedies", top=5).items
    assert popular.tolist() != hidden.tolist()
    counts = index.n_ratings
    assert counts[popular].mean() >= counts[hidden].mean()


def test_user_scores_rerank(index: SearchIndex, tiny_catalog) -> None:
    request = parse_request("space", tiny_catalog)
    base = index.search(request, top=5)
    boost = np.zeros(tiny_catalog.n_items, dtype=np.float32)
    last = int(base.items[-1])
    boost[last] = 10.0
    config = SearchConfig(w_user=5.0)
    reranked = index.search(request, top=5, user_scores=boost, config=config)
    assert int(reranked.items[0]) == last and "user" in reranked.parts
    assert set(reranked.items.tolist()) <= set(index.search(request, top=50).items.tolist())


def test_empty_and_plain_text_requests(index: SearchIndex, tiny_catalog) -> None:
    empty = ask(index, tiny_catalog, "?!")
    assert len(empty) == 0 and empty.notes
    plain = index.search("[TOMT] space smugglers thanks in advance")
    assert titles(index, plain.items)[0].startswith("Star Wars")
    long = index.search(parse_request("space " * 3000, tiny_catalog))
    assert len(long) > 0


def test_constraint_only_request(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "90s comedies", top=3)
    movies = tiny_catalog.movies.iloc[hits.items]
    assert movies["year"].between(1990, 1999).all()
    assert movies["genres"].str.contains("Comedy").all()
    assert all("199" in r for r in hits.reasons)


@pytest.mark.parametrize(
    ("text", "genre"), [("no horror", "Horror"), ("not animated", "Animation")]
)
def test_exclusion_only_request_ranks_by_the_prior(
    index: SearchIndex, tiny_catalog, text: str, genre: str
) -> None:
    hits = ask(index, tiny_catalog, text, top=5)
    movies = tiny_catalog.movies.iloc[hits.items]
    assert len(hits) == 5 and not movies["genres"].str.contains(genre).any()
    allowed = ~tiny_catalog.movies["genres"].str.contains(genre).to_numpy()
    best_known = int(np.flatnonzero(allowed)[np.argmax(index.n_ratings[allowed])])
    assert int(hits.items[0]) == best_known
    assert "no description given: the best-known movies that match" in hits.notes


def test_filters_alone_rank_by_the_prior(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "?!", filters=Filters(year_min=2000), top=3)
    assert len(hits) == 3 and (tiny_catalog.movies.iloc[hits.items]["year"] >= 2000).all()
    assert any(note.startswith("no description given") for note in hits.notes)


def test_follow_up_without_an_earlier_answer_explains(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "more like the second one")
    assert len(hits) == 0 and hits.notes == [NO_EARLIER_ANSWER]


def test_plot_keyword_genre_word_still_searches(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "a heist movie with a twist", top=3)
    assert titles(index, hits.items)[0] == "The Usual Suspects (1995)"
    assert '"heist"' in hits.reasons[0]


def test_impossible_year_is_ignored_with_a_note(index: SearchIndex, tiny_catalog) -> None:
    hits = ask(index, tiny_catalog, "horror movies from 2050", top=3)
    movies = tiny_catalog.movies.iloc[hits.items]
    assert len(hits) == 3 and movies["genres"].str.contains("Horror").all()
    assert "no movies from 2050 in this catalogue: ignored the year" in hits.notes


def test_save_load_round_trip(index: SearchIndex, tiny_catalog, tmp_path: Path, encoder) -> None:
    index.save(tmp_path)
    loaded = SearchIndex.load(tmp_path, encoder=encoder)
    assert isinstance(loaded.embeddings, np.memmap)
    for text in ("space smugglers", "movies like alien", "90s comedies, no drama"):
        request = parse_request(text, tiny_catalog)
        before, after = index.search(request), loaded.search(request)
        np.testing.assert_array_equal(before.items, after.items)
        np.testing.assert_allclose(before.scores, after.scores, rtol=1e-5)
        assert before.reasons == after.reasons
    with pytest.raises(ValueError):
        SearchIndex.load(tmp_path / "missing")


def test_split_passages() -> None:
    chunks, owners = split_passages(["Short text.", "Long one. " + "word " * 300])
    assert owners and set(owners) == {1}
    assert all(chunk.startswith("Long one.") for chunk in chunks)
