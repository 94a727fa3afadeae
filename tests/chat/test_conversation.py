"""Multi-turn conversations on the tiny engine: memory, follow-ups, never a named movie."""

from __future__ import annotations

import json

import pytest

from core.chat import Chat, ChatState, Conversation
from core.chat.rank import RankWeights


@pytest.fixture(scope="module")
def tiny_chat(tiny_engine) -> Chat:
    """The chat of the tiny engine (its ranker built once for the module)."""
    return Chat(tiny_engine)


def ids(answer) -> list[int]:
    return answer.items["movieId"].tolist()


def test_liked_title_gets_similar_movies_and_never_itself(tiny_engine, tiny_chat):
    answer = tiny_chat.respond("Hi I am looking for a movie like Alien (1979)")
    assert answer.kind == "recommend"
    assert 1 not in ids(answer)
    assert answer.reply.startswith("Going by like: Alien (1979)")
    assert answer.understood[0] == "like: Alien (1979)"
    # Its taste group (sci-fi) comes before the romance group.
    assert ids(answer)[0] in range(2, 9)
    assert list(answer.items.columns[:7]) == [
        "movieId",
        "title",
        "year",
        "genres",
        "score",
        "predicted_rating",
        "reason",
    ]


def test_title_year_is_not_a_year_filter(tiny_engine, tiny_chat):
    answer = tiny_chat.respond("something like Notting Hill (1999)", top=5)
    years = answer.items["year"].tolist()
    assert any(y != 1999 for y in years)


def test_memory_across_turns_and_seen_it(tiny_engine, tiny_chat):
    chat = Conversation(tiny_chat)
    first = chat.say("I loved Notting Hill (1999) and Pretty Woman (1990)", top=5)
    assert not {9, 10} & set(ids(first))
    top_pick = ids(first)[0]
    second = chat.say("seen it", top=5)
    assert second.kind == "refine"
    assert top_pick not in ids(second)
    assert {9, 10} <= set(chat.state.liked)  # still remembered
    assert top_pick in chat.state.seen
    third = chat.say("no comedy", top=5)
    assert third.kind == "refine"
    assert all("Comedy" not in g for g in third.items["genres"])
    assert not {9, 10, top_pick} & set(ids(third))


def test_more_like_number_two_adds_a_seed(tiny_engine, tiny_chat):
    chat = Conversation(tiny_chat)
    first = chat.say("any good sci-fi movies?", top=5)
    second_pick = ids(first)[1]
    answer = chat.say("more like #2", top=5)
    assert answer.kind == "refine"
    assert second_pick in chat.state.liked
    assert second_pick not in ids(answer)


def test_not_that_one_drops_the_named_movie(tiny_engine, tiny_chat):
    chat = Conversation(tiny_chat)
    chat.say("romantic comedies please", top=5)
    shown = chat.state.shown
    answer = chat.say("not the third one", top=5)
    assert shown[2] not in ids(answer)
    assert shown[2] in chat.state.rejected


def test_lighter_prefers_comedy(tiny_engine, tiny_chat):
    chat = Conversation(tiny_chat)
    chat.say("movies like Alien (1979)", top=5)
    answer = chat.say("something lighter", top=5)
    assert "Comedy" in chat.state.prefer_genres
    assert "Horror" in chat.state.avoid_genres
    assert "Horror" not in answer.items["genres"].iloc[0]


def test_vague_turn_gets_a_question_suggestions_and_crowd_pleasers(tiny_engine, tiny_chat):
    answer = tiny_chat.respond("hi, recommend something")
    assert answer.kind == "vague"
    assert "?" in answer.reply
    assert 3 <= len(answer.suggestions) <= 4
    assert len(answer.items) > 0


def test_small_talk_answers_without_keywords(tiny_engine, tiny_chat):
    answer = tiny_chat.respond("Hello, how are you?")
    assert answer.kind == "smalltalk"
    assert answer.suggestions
    assert not answer.state.moods


def test_question_about_a_shown_movie(tiny_engine, tiny_chat):
    chat = Conversation(tiny_chat)
    chat.say("movies like Blade Runner (1982)", top=5)
    second = chat.state.shown[1]
    answer = chat.say("who directed the second one?")
    assert answer.kind == "question"
    assert ids(answer) == [second]
    director = tiny_engine.catalog.movies.set_index("movieId").loc[second, "directors"]
    assert str(director).split("|")[0] in answer.reply


def test_identification_keeps_the_search_path(tiny_engine, tiny_chat):
    text = "[TOMT] movie where a crew in deep space meets a deadly alien"
    answer = tiny_chat.respond(text, top=5)
    assert answer.kind == "identify"
    assert ids(answer) == tiny_engine.search(text, top=5).items["movieId"].tolist()


def test_state_round_trips_through_json(tiny_engine, tiny_chat):
    answer = tiny_chat.respond("I hated Aliens (1986) but loved Alien (1979), no comedy")
    data = json.loads(json.dumps(answer.state.to_dict()))
    again = ChatState.from_dict(data)
    assert again == answer.state
    assert ChatState.from_dict({"liked": "oops", "year_min": "x"}) == ChatState()
    next_answer = tiny_chat.respond("more", data, top=5)
    assert not set(ids(next_answer)) & {1, 2}


def test_never_recommends_named_movies_whatever_the_weights(tiny_engine, tiny_chat):
    heavy = RankWeights(cooc=0.0, content=2.0, story=2.0, prior=4.0)
    answer = tiny_chat.respond(
        "I liked Interstellar (2014) and Gravity (2013), seen Alien (1979)",
        weights=heavy,
        top=20,
    )
    assert not {7, 8, 1} & set(ids(answer))


def test_personalised_answer_skips_rated_movies(tiny_engine, tiny_chat):
    user = int(tiny_engine.catalog.user_ids[0])
    rated = set(tiny_engine.catalog.user_ratings(user)["movieId"].tolist())
    answer = tiny_chat.respond("any good movies?", user_id=user, top=10)
    assert not rated & set(ids(answer))


@pytest.mark.parametrize("text", ["", "   ", "!!!", "a" * 5000])
def test_odd_input_never_raises(tiny_engine, text, tiny_chat):
    answer = tiny_chat.respond(text)
    assert answer.kind in ("smalltalk", "vague", "recommend", "identify")


def test_unknown_user_is_noted_not_fatal(tiny_engine, tiny_chat):
    answer = tiny_chat.respond("any good sci-fi?", user_id=987654)
    assert len(answer.items) > 0
    assert any("not personalised" in note for note in answer.notes)
    found = tiny_chat.respond("[TOMT] movie where a cyborg is sent back in time", user_id=987654)
    assert found.kind == "identify"


def test_vague_follow_up_uses_what_is_known(tiny_engine, tiny_chat):
    chat = Conversation(tiny_chat)
    chat.say("I loved Notting Hill (1999)", top=5)
    answer = chat.say("recommend something", top=5)
    assert answer.reply.startswith("Going by like: Notting Hill (1999)")
    assert 9 not in ids(answer)


def test_respond_ranks_with_one_blas_thread(tiny_chat, monkeypatch):
    # The ranker's products are per-request sized: with OpenBLAS's pool they queued behind
    # other sessions' requests (core.serving.threads).
    from core.serving import threads

    seen: list[int] = []
    signals = tiny_chat.ranker.signals

    def recording(*args, **kwargs):
        seen.append(threads.active_requests())
        return signals(*args, **kwargs)

    monkeypatch.setattr(tiny_chat.ranker, "signals", recording)
    tiny_chat.respond("a space adventure")
    assert seen and all(n >= 1 for n in seen)
    assert threads.active_requests() == 0
