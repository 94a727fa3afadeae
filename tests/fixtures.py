"""Small catalogues made in the tests: fast, deterministic, with real-looking structure.

``make_tiny_catalog`` builds two taste groups (space/sci-fi fans and romance/comedy fans) so a
correct scorer must rank a group's unseen movies above the other group's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.catalog import (
    MOVIE_COLUMNS,
    RATING_COLUMNS,
    TAG_COLUMNS,
    Catalog,
    LoadReport,
    display_title,
)

_MOVIES = [
    # movieId, title, year, genres, tags, overview, keywords, directors, cast
    (
        1,
        "Alien",
        1979,
        "Horror|Sci-Fi",
        "space|alien|creature",
        "A crew in deep space meets a deadly alien.",
        "space|alien",
        "Ridley Scott",
        "Sigourney Weaver|Tom Skerritt",
    ),
    (
        2,
        "Aliens",
        1986,
        "Action|Horror|Sci-Fi",
        "space|alien|marines",
        "Ripley returns to fight the aliens with marines.",
        "space|alien|marines",
        "James Cameron",
        "Sigourney Weaver|Michael Biehn",
    ),
    (
        3,
        "Star Wars: Episode IV - A New Hope",
        1977,
        "Action|Adventure|Sci-Fi",
        "space|smuggler|jedi",
        "A farm boy joins a smuggler and a princess against the Empire.",
        "space|rebellion|smuggler",
        "George Lucas",
        "Mark Hamill|Harrison Ford",
    ),
    (
        4,
        "Blade Runner",
        1982,
        "Sci-Fi|Thriller",
        "dystopia|android|noir",
        "A detective hunts rogue androids in a rainy future city.",
        "android|dystopia",
        "Ridley Scott",
        "Harrison Ford|Rutger Hauer",
    ),
    (
        5,
        "Terminator, The",
        1984,
        "Action|Sci-Fi|Thriller",
        "robot|time travel",
        "A cyborg assassin is sent back in time.",
        "cyborg|time travel",
        "James Cameron",
        "Arnold Schwarzenegger|Linda Hamilton",
    ),
    (
        6,
        "Matrix, The",
        1999,
        "Action|Sci-Fi|Thriller",
        "virtual reality|hacker",
        "A hacker learns reality is a simulation.",
        "simulation|hacker",
        "Lana Wachowski",
        "Keanu Reeves|Laurence Fishburne",
    ),
    (
        7,
        "Interstellar",
        2014,
        "Sci-Fi|IMAX",
        "space|time travel|black hole",
        "Astronauts travel through a wormhole to save humanity.",
        "space|wormhole",
        "Christopher Nolan",
        "Matthew McConaughey|Anne Hathaway",
    ),
    (
        8,
        "Gravity",
        2013,
        "Drama|Sci-Fi|IMAX",
        "space|astronaut",
        "An astronaut is stranded in orbit after debris hits.",
        "space|astronaut",
        "Alfonso Cuaron",
        "Sandra Bullock|George Clooney",
    ),
    (
        9,
        "Notting Hill",
        1999,
        "Comedy|Romance",
        "romantic|london|bookshop",
        "A bookshop owner falls for a film star.",
        "london|movie star",
        "Roger Michell",
        "Hugh Grant|Julia Roberts",
    ),
    (
        10,
        "Pretty Woman",
        1990,
        "Comedy|Romance",
        "romantic|cinderella",
        "A businessman hires an escort and falls in love.",
        "love|los angeles",
        "Garry Marshall",
        "Julia Roberts|Richard Gere",
    ),
    (
        11,
        "When Harry Met Sally...",
        1989,
        "Comedy|Romance",
        "romantic|friendship|new york",
        "Can men and women be just friends?",
        "friendship|new york",
        "Rob Reiner",
        "Billy Crystal|Meg Ryan",
    ),
    (
        12,
        "Sleepless in Seattle",
        1993,
        "Comedy|Drama|Romance",
        "romantic|radio",
        "A widower's son calls a radio show to find him love.",
        "radio|widower",
        "Nora Ephron",
        "Tom Hanks|Meg Ryan",
    ),
    (
        13,
        "You've Got Mail",
        1998,
        "Comedy|Romance",
        "romantic|email|bookshop",
        "Rival bookshop owners fall in love online.",
        "email|bookshop",
        "Nora Ephron",
        "Tom Hanks|Meg Ryan",
    ),
    (
        14,
        "Love Actually",
        2003,
        "Comedy|Drama|Romance",
        "christmas|romantic|london",
        "Interwoven love stories at Christmas in London.",
        "christmas|london",
        "Richard Curtis",
        "Hugh Grant|Emma Thompson",
    ),
    (
        15,
        "Four Weddings and a Funeral",
        1994,
        "Comedy|Romance",
        "wedding|romantic|british",
        "A man keeps meeting the same woman at weddings.",
        "wedding|british",
        "Mike Newell",
        "Hugh Grant|Andie MacDowell",
    ),
    (
        16,
        "Amelie",
        2001,
        "Comedy|Romance",
        "paris|quirky",
        "A shy waitress in Paris secretly helps others.",
        "paris|waitress",
        "Jean-Pierre Jeunet",
        "Audrey Tautou|Mathieu Kassovitz",
    ),
    (
        17,
        "Usual Suspects, The",
        1995,
        "Crime|Mystery|Thriller",
        "twist ending|heist",
        "A con man tells a tale of a legendary criminal.",
        "twist|interrogation",
        "Bryan Singer",
        "Kevin Spacey|Gabriel Byrne",
    ),
    (
        18,
        "Toy Story",
        1995,
        "Adventure|Animation|Children|Comedy|Fantasy",
        "pixar|toys",
        "Toys come to life when humans are away.",
        "toy|friendship",
        "John Lasseter",
        "Tom Hanks|Tim Allen",
    ),
    (
        19,
        "Shining, The",
        1980,
        "Horror",
        "stephen king|hotel",
        "A writer goes mad in an isolated hotel.",
        "hotel|isolation",
        "Stanley Kubrick",
        "Jack Nicholson|Shelley Duvall",
    ),
    (20, "Unrated Obscurity", 2015, "Documentary", "", "", "", "", ""),
]

SCIFI = [1, 2, 3, 4, 5, 6, 7, 8]
ROMANCE = [9, 10, 11, 12, 13, 14, 15, 16]


def make_movies() -> pd.DataFrame:
    """The movies frame with every column of :data:`MOVIE_COLUMNS`."""
    rows = []
    for mid, title, year, genres, tags, overview, keywords, directors, cast in _MOVIES:
        rows.append(
            {
                "movieId": mid,
                "title": title,
                "display_title": display_title(title),
                "year": year,
                "genres": genres,
                "tags": tags,
                "imdbId": 100000 + mid,
                "tmdbId": 500 + mid,
                "overview": overview,
                "tagline": "",
                "keywords": keywords,
                "directors": directors,
                "cast": cast,
                "plot": overview,
                "runtime": 100.0 + mid,
                "popularity": float(30 - mid),
                "vote_average": 6.0 + (mid % 4) / 2,
                "vote_count": float(1000 - 40 * mid),
            }
        )
    frame = pd.DataFrame(rows)
    return frame.astype(MOVIE_COLUMNS)[list(MOVIE_COLUMNS)]


def make_ratings(n_users: int = 40, seed: int = 0) -> pd.DataFrame:
    """Users 1..n: odd users love sci-fi, even users love romance; each skips a few movies."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        liked, disliked = (SCIFI, ROMANCE) if user % 2 else (ROMANCE, SCIFI)
        seen_liked = rng.choice(liked, size=6, replace=False)
        seen_disliked = rng.choice(disliked, size=2, replace=False)
        for t, movie in enumerate(seen_liked):
            rows.append(
                (user, int(movie), float(rng.choice([4.0, 4.5, 5.0])), 1_000_000 + 1000 * user + t)
            )
        for t, movie in enumerate(seen_disliked):
            rows.append(
                (user, int(movie), float(rng.choice([1.0, 1.5, 2.0])), 1_000_100 + 1000 * user + t)
            )
        if user % 3 == 0:
            rows.append((user, int(rng.choice([17, 18, 19])), 3.5, 1_000_200 + 1000 * user))
    frame = pd.DataFrame(rows, columns=list(RATING_COLUMNS))
    return frame.astype(RATING_COLUMNS)


def make_tags() -> pd.DataFrame:
    """A few user tags (the aggregated ones are already in the movies frame)."""
    rows = [
        (1, 1, "space", 1_000_000),
        (1, 3, "smuggler", 1_000_001),
        (2, 9, "romantic", 1_000_002),
    ]
    return pd.DataFrame(rows, columns=list(TAG_COLUMNS)).astype(TAG_COLUMNS)


def make_tiny_catalog(n_users: int = 40, seed: int = 0) -> Catalog:
    """A 20-movie, ``n_users``-user catalogue with two clear taste groups (see module doc)."""
    movies = make_movies()
    ratings = make_ratings(n_users, seed)
    tags = make_tags()
    report = LoadReport(
        source="tests.fixtures",
        layout="synthetic",
        n_users=int(ratings["userId"].nunique()),
        n_movies=len(movies),
        n_ratings=len(ratings),
        n_tags=len(tags),
        text_coverage={"tmdb": 19, "tags": 19},
    )
    return Catalog("tiny", movies, ratings, tags, report)
