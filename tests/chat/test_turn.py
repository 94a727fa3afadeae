"""The turn parser on a table of everyday phrasings (tiny catalogue, no model needed)."""

from __future__ import annotations

from typing import Any

import pytest

from core.chat.turn import understand

SHOWN = [7, 8, 9, 10, 11]  # Interstellar, Gravity, Notting Hill, Pretty Woman, Harry & Sally

# (text, shown before?, kind, expected slots)
CASES: list[tuple[str, bool, str, dict[str, Any]]] = [
    # greetings and small talk: nothing to act on, never keywords
    ("hi", False, "smalltalk", {"moods": ""}),
    ("Hello!", False, "smalltalk", {"moods": ""}),
    ("Hello, how are you?", False, "smalltalk", {"moods": ""}),
    ("hey there, how are you doing today?", False, "smalltalk", {"moods": ""}),
    ("Good evening", False, "smalltalk", {"moods": ""}),
    ("I'm great, thanks! And you?", False, "smalltalk", {"moods": "", "quality": False}),
    ("thanks so much", True, "smalltalk", {}),
    ("lol ok", False, "smalltalk", {}),
    ("", False, "smalltalk", {}),
    ("?!", False, "smalltalk", {}),
    # vague wishes
    ("recommend something", False, "vague", {"moods": ""}),
    ("hi, any movie", False, "vague", {"moods": ""}),
    ("Hello i open to any movie", False, "vague", {"moods": ""}),
    ("What should I watch tonight?", False, "vague", {"moods": ""}),
    ("I'm open to any suggestions", False, "vague", {"moods": ""}),
    ("got any good recommendations?", False, "vague", {"moods": "", "quality": True}),
    # liked titles, "Title (year)" is a title, not a year filter
    (
        "Hi I am looking for a movie like Alien (1979)",
        False,
        "recommend",
        {"liked": [1], "year": (None, None)},
    ),
    (
        "I loved The Matrix (1999), what else?",
        False,
        "recommend",
        {"liked": [6], "year": (None, None), "moods": ""},
    ),
    ("Easy: Blade Runner (1982)", False, "recommend", {"liked": [4], "year": (None, None)}),
    (
        "I really enjoyed Notting Hill (1999) and Pretty Woman (1990)",
        False,
        "recommend",
        {"liked": [9, 10], "year": (None, None)},
    ),
    ("movies like the matirx (1999)", False, "recommend", {"liked": [6]}),
    ("something like Interstelar (2014)", False, "recommend", {"liked": [7]}),
    ("I liked Terminator (1984) a lot", False, "recommend", {"liked": [5]}),
    ("anything like Star Wars (1977)?", False, "recommend", {"liked": [3]}),
    ("Gravity (2014) was amazing", False, "recommend", {"liked": [8]}),  # a year off
    ("movies like The Usual Suspects please", False, "recommend", {"liked": [17]}),
    ("I loved Love Actually", False, "recommend", {"liked": [14]}),
    ("have you seen Toy Story (1995)? I loved it", False, "recommend", {"liked": [18]}),
    (
        "Some Unknown Film (1990) is my favourite",
        False,
        "vague",
        {"liked": [], "year": (None, None)},
    ),
    # disliked titles
    (
        "I hated Aliens (1986) but loved Alien (1979)",
        False,
        "recommend",
        {"liked": [1], "disliked": [2]},
    ),
    ("not a fan of Pretty Woman (1990)", False, "recommend", {"disliked": [10], "liked": []}),
    ("I didn't like Gravity (2013), too slow", False, "recommend", {"disliked": [8]}),
    # common words are not titles
    ("I like action movies", False, "recommend", {"liked": [], "genres": ["Action"]}),
    ("i like scary movies", False, "recommend", {"liked": [], "genres": ["Horror"]}),
    ("I love romance", False, "recommend", {"liked": [], "genres": ["Romance"]}),
    # kinds of movie; good/great/best are a quality wish, not keywords
    (
        "any good crime movies?",
        False,
        "recommend",
        {"genres": ["Crime"], "quality": True, "moods": ""},
    ),
    (
        "im great how are you im looking for some great horror and comedies",
        False,
        "recommend",
        {"genres": ["Horror", "Comedy"], "quality": True, "moods": ""},
    ),
    ("the best sci-fi films", False, "recommend", {"genres": ["Sci-Fi"], "quality": True}),
    ("I want a romantic comedy", False, "recommend", {"genres": ["Comedy", "Romance"]}),
    (
        "a thriller with a twist ending",
        False,
        "recommend",
        {"genres": ["Thriller"], "moods_has": "twist"},
    ),
    (
        "Hello! can you recommend me some vampire movies?",
        False,
        "recommend",
        {"moods_has": "vampire"},
    ),
    ("something feel-good", False, "recommend", {"prefer": ["Comedy"]}),
    ("movies about time travel", False, "recommend", {"moods_has": "time travel"}),
    # eras
    ("90s action movies", False, "recommend", {"genres": ["Action"], "year": (1990, 1999)}),
    (
        "a good comedy from the eighties",
        False,
        "recommend",
        {"genres": ["Comedy"], "year": (1980, 1989)},
    ),
    ("something recent and funny", False, "recommend", {"genres": ["Comedy"], "year_min": True}),
    # audience
    ("something for my kids", False, "recommend", {"audience": "kids", "avoid": ["Horror"]}),
    ("a family movie for tonight", False, "recommend", {"audience": "family"}),
    ("what's good for date night?", False, "recommend", {"audience": "date night"}),
    ("movies for tweens", False, "recommend", {"audience": "tweens"}),
    (
        "Can you recommend some movies for a kids slumber party?",
        False,
        "recommend",
        {"audience": "kids"},
    ),
    # exclusions
    ("sci-fi but no horror", False, "recommend", {"genres": ["Sci-Fi"], "exclude": ["Horror"]}),
    (
        "a comedy, not animated",
        False,
        "recommend",
        {"genres": ["Comedy"], "exclude": ["Animation"]},
    ),
    (
        "I don't care for animation but like comedies",
        False,
        "recommend",
        {"exclude": ["Animation"], "genres": ["Comedy"]},
    ),
    # people
    ("any movies by Ridley Scott?", False, "recommend", {"people": ["Ridley Scott"]}),
    ("something with Harrison Ford", False, "recommend", {"people": ["Harrison Ford"]}),
    ("I like Sigourney Weavr movies", False, "recommend", {"people": ["Sigourney Weaver"]}),
    # identification keeps the search path
    ("[TOMT] movie where a crew in space meets an alien", False, "identify", {}),
    ("What's the movie where a detective hunts androids in the rain?", False, "identify", {}),
    ("trying to remember a film about a farm boy who joins smugglers", False, "identify", {}),
    (
        "I can't remember the name of this movie, there is a cyborg sent back in time",
        False,
        "identify",
        {},
    ),
    # follow-ups to the last answer
    ("seen it", True, "refine", {"refine": ["seen"]}),
    ("I've already seen that one", True, "refine", {"refine": ["seen"]}),
    ("seen the first one", True, "refine", {"refine": ["seen"], "ordinal": 1}),
    ("watched #3 already", True, "refine", {"refine": ["seen"], "ordinal": 3}),
    ("not that one", True, "refine", {"refine": ["reject"]}),
    ("more like #2", True, "refine", {"refine": ["more_like"], "ordinal": 2}),
    ("more like the third one", True, "refine", {"refine": ["more_like"], "ordinal": 3}),
    (
        "something lighter",
        True,
        "refine",
        {"refine": ["lighter"], "prefer": ["Comedy"], "avoid": ["Horror"]},
    ),
    ("older", True, "refine", {"refine": ["older"]}),
    ("something newer please", True, "refine", {"refine": ["newer"]}),
    ("no horror", True, "refine", {"exclude": ["Horror"]}),
    ("more", True, "refine", {"refine": ["more"]}),
    # questions about shown movies
    ("who directed the second one?", True, "question", {"question": "director", "ordinal": 2}),
    ("what year is #3?", True, "question", {"question": "year", "ordinal": 3}),
    ("who is in the first one?", True, "question", {"question": "cast", "ordinal": 1}),
    ("what is #4 about?", True, "question", {"question": "plot", "ordinal": 4}),
    ("how long is it?", True, "question", {"question": "runtime"}),
    # without an answer before, a follow-up phrase is not a refinement
    ("no horror", False, "recommend", {"exclude": ["Horror"]}),
]


@pytest.mark.parametrize(
    ("text", "shown", "kind", "slots"), CASES, ids=[c[0][:40] or "empty" for c in CASES]
)
def test_turn_table(tiny_catalog, text: str, shown: bool, kind: str, slots: dict[str, Any]):
    turn = understand(text, tiny_catalog, shown=SHOWN if shown else None)
    assert turn.kind == kind, turn.to_dict()
    checks = {
        "liked": lambda v: sorted(turn.liked) == sorted(v),
        "disliked": lambda v: sorted(turn.disliked) == sorted(v),
        "genres": lambda v: set(v) <= set(turn.genres),
        "exclude": lambda v: set(v) <= set(turn.exclude_genres),
        "prefer": lambda v: set(v) <= set(turn.prefer_genres),
        "avoid": lambda v: set(v) <= set(turn.avoid_genres),
        "audience": lambda v: turn.audience == v,
        "quality": lambda v: turn.quality is v,
        "year": lambda v: (turn.year_min, turn.year_max) == v,
        "year_min": lambda v: (turn.year_min is not None) is v,
        "people": lambda v: turn.people == v,
        "refine": lambda v: set(v) <= set(turn.refine),
        "ordinal": lambda v: turn.ordinal == v,
        "question": lambda v: turn.question == v,
        "moods": lambda v: turn.moods == v,
        "moods_has": lambda v: v in turn.moods.lower(),
    }
    for name, expected in slots.items():
        assert checks[name](expected), (name, expected, turn.to_dict())


def test_table_is_large_enough():
    assert len(CASES) >= 60


def test_small_talk_never_reaches_search_text(tiny_catalog):
    turn = understand("Hi! I'm good, how are you? Good morning to you too", tiny_catalog)
    assert turn.moods == "" and not turn.genres and not turn.liked


def test_title_year_is_spent_on_the_title(tiny_catalog):
    turn = understand("Hi I am looking for a movie like Amelie (2001)", tiny_catalog)
    assert turn.liked == [16]
    assert turn.year_min is None and turn.year_max is None
