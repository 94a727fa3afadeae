"""Made-up movies for synthetic data: genres, titles in MovieLens form and tag vocabularies.

Word lists and per-movie draws only; the rating model is :mod:`core.data.synth.world` and
:mod:`core.data.synth.ratings`, and writing files is :mod:`core.data.synth.writer`.
"""

from __future__ import annotations

import numpy as np

#: The 19 MovieLens genres, in the order of the genre columns used below.
GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
NO_GENRES = "(no genres listed)"

#: Share of movies with each genre in ml-latest-small (drives how often a genre is drawn).
GENRE_SHARES = np.array([
    0.188, 0.130, 0.063, 0.068, 0.386, 0.123, 0.045, 0.448, 0.080, 0.009, 0.100, 0.016, 0.034,
    0.059, 0.164, 0.101, 0.194, 0.039, 0.017,
])  # fmt: skip


#: Candidate tags kept per movie (most characteristic first).
TAG_SLOTS = 6


def _words(text: str) -> tuple[str, ...]:
    """The distinct words of a block of text, in order (word lists read better as prose)."""
    return tuple(dict.fromkeys(text.split()))


_ADJECTIVES = _words("""
Quiet Silent Broken Hidden Golden Silver Crimson Scarlet Burning Frozen Distant Endless Last
Lost Wild Bitter Sweet Dark Bright Hollow Restless Wandering Sleeping Forgotten Secret Savage
Gentle Lonely Little Long Cold Warm Final Midnight Electric Paper Glass Iron Stone Velvet Blue
Red Black White Green Pale Faded Shining Falling Rising Fallen Stolen Perfect Strange Eternal
Fearless Reckless Brave Crooked Empty Open Narrow Deep Hungry Sacred Wicked Fragile Invisible
Borrowed Second Northern Southern Western Eastern Lucky Careless Painted Whispering Drowning
Tender Rusty Shattered Burning Marble Neon Amber Copper Winter Summer Autumn Spring Morning
Evening Twilight Desert Ocean Mountain Summer Thunder Lightning Bitterroot Gilded Wounded
Honest Dangerous Beautiful Ordinary Impossible Unfinished Unspoken Nameless Breathless
""")
_NOUNS = _words("""
River Road City Heart Storm Shadow Garden House Dream Night Sky Sea Island Train Bridge Kingdom
Mirror Window Letter Promise Secret Song Summer Winter Harbor Valley Forest Fire Rain Snow Moon
Sun Star Stranger Witness Soldier Queen King Daughter Son Brother Sister Mother Father Widow
Hunter Thief Angel Ghost Machine Engine Empire Frontier Horizon Tide Wave Wind Voice Silence
Echo Memory Lie Truth Game Hour Season Journey Return Escape Crossing Station Hotel Circus
Carnival Orchard Lighthouse Canyon Prairie Harvest Ballad Waltz Symphony Requiem Whisper Kiss
Affair Wedding Funeral Reunion Inheritance Verdict Alibi Ransom Contract Signal Code Cipher
Orbit Planet Comet Galaxy Colony Outpost Fortress Tower Castle Palace Cathedral Temple Labyrinth
Maze Tunnel Chamber Cellar Attic Kitchen Diner Motel Highway Avenue Boulevard Alley Rooftop
Pier Shore Reef Lagoon Glacier Volcano Jungle Swamp Meadow Field Vineyard Ranch Mine Quarry
Factory Office Courtroom Precinct Academy Campus Hospital Asylum Prison Border Exile Refuge
Heist Chase Gambit Bargain Wager Debt Fortune Treasure Crown Sword Arrow Shield Compass Lantern
""")
_NAMES = _words("""
Anna Ben Clara David Elena Frank Grace Henry Iris Jack Kate Leo Maria Nina Oscar Paul Rosa Sam
Tom Vera Walter Zoe Alice Arthur Billy Charlie Daisy Eddie Fiona George Hannah Isaac Julia Lucy
Max Molly Nora Oliver Peter Ruby Simon Toby Violet Wendy Martha Harold Louise Victor
""")
_PLACES = _words("""
Paris Lisbon Berlin Tokyo Harlem Brooklyn Texas Montana Alaska Havana Cairo Vienna Rome Venice
Dublin Chicago Memphis Nevada Marseille Shanghai Bombay Sicily Tangier Casablanca Oslo Prague
Budapest Istanbul Saigon Manila Sydney Yukon Arizona Dakota Oregon Vermont Tuscany Provence
""")
_GERUNDS = (
    "Chasing", "Finding", "Saving", "Losing", "Leaving", "Catching", "Crossing", "Breaking",
    "Waking", "Hunting", "Keeping", "Killing", "Raising", "Stealing", "Becoming", "Remembering",
    "Forgetting", "Waiting for", "Dancing with", "Running from",
)  # fmt: skip

#: Tags typical of each genre (lower case, as most MovieLens tags are).
_GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "Action": ("action", "explosions", "car chase", "martial arts", "fight scenes", "heist"),
    "Adventure": ("adventure", "treasure hunt", "journey", "swashbuckler", "exploration"),
    "Animation": ("animation", "pixar", "stop motion", "anime", "hand-drawn"),
    "Children": ("family", "kids", "talking animals", "fairy tale", "coming of age"),
    "Comedy": ("funny", "quirky", "dark comedy", "satire", "witty", "slapstick", "hilarious"),
    "Crime": ("crime", "gangsters", "mafia", "heist", "police", "organized crime"),
    "Documentary": ("documentary", "true story", "nature", "history", "interviews"),
    "Drama": ("drama", "emotional", "character study", "tearjerker", "bittersweet"),
    "Fantasy": ("fantasy", "magic", "dragons", "fairy tale", "mythology"),
    "Film-Noir": ("noir", "femme fatale", "black and white", "detective"),
    "Horror": ("horror", "scary", "gore", "zombies", "haunted house", "slasher", "creepy"),
    "IMAX": ("imax", "visually stunning", "3d"),
    "Musical": ("musical", "music", "singing", "dance", "broadway"),
    "Mystery": ("mystery", "twist ending", "whodunit", "puzzle", "detective"),
    "Romance": ("romance", "love story", "romantic", "chick flick", "relationships"),
    "Sci-Fi": ("sci-fi", "space", "aliens", "time travel", "dystopia", "robots", "cyberpunk"),
    "Thriller": ("thriller", "suspense", "tense", "psychological", "conspiracy", "serial killer"),
    "War": ("war", "world war ii", "military", "vietnam", "anti-war"),
    "Western": ("western", "cowboys", "gunfight", "wild west", "frontier"),
}
#: Tags any movie may get; scene ``h`` favours tags ``2h`` and ``2h + 1`` of this list.
_GENERAL_TAGS: tuple[str, ...] = (
    "atmospheric", "surreal", "thought-provoking", "philosophical", "visually appealing",
    "stylized", "great soundtrack", "musicians", "classic", "masterpiece", "cult film", "campy",
    "based on a book", "literary adaptation", "based on a true story", "biography", "indie",
    "low budget", "franchise", "sequel", "In Netflix queue", "overrated", "underrated",
    "predictable", "slow", "great acting", "quotable", "nonlinear", "beautiful", "boring",
)  # fmt: skip


def movie_tags(
    genres: np.ndarray, scene: np.ndarray, n_scenes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Vocabulary and each movie's ``TAG_SLOTS`` candidate tags, most characteristic first.

    A tag of one of the movie's genres weighs 4, a tag of its scene 3, any other general tag
    0.8; slots are drawn by weight without replacement (Gumbel top-k), in blocks of movies to
    keep the (movies x vocabulary) key matrix small.
    """
    vocab = list(dict.fromkeys([t for g in GENRES for t in _GENRE_TAGS[g]] + list(_GENERAL_TAGS)))
    index = {t: i for i, t in enumerate(vocab)}
    genre_tags = np.zeros((len(GENRES), len(vocab)))
    for g, name in enumerate(GENRES):
        genre_tags[g, [index[t] for t in _GENRE_TAGS[name]]] = 1.0
    general = np.array([index[t] for t in _GENERAL_TAGS])
    scene_tags = np.zeros((n_scenes, len(vocab)))
    for h in range(n_scenes):
        scene_tags[h, general[[2 * h % len(general), (2 * h + 1) % len(general)]]] = 1.0
    base = np.zeros(len(vocab))
    base[general] = 0.8
    slots = np.empty((len(genres), TAG_SLOTS), dtype=np.int16)
    as_float = genres.astype(np.float64)  # a bool @ float product skips BLAS (10x slower)
    for start in range(0, len(genres), 20_000):
        stop = min(start + 20_000, len(genres))
        weight = base + 4.0 * np.minimum(as_float[start:stop] @ genre_tags, 1.0)
        weight = np.maximum(weight, 3.0 * scene_tags[scene[start:stop]])
        with np.errstate(divide="ignore"):
            keys = np.log(weight) + rng.gumbel(size=weight.shape)
        top = np.argpartition(-keys, TAG_SLOTS - 1, axis=1)[:, :TAG_SLOTS]
        best_first = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
        slots[start:stop] = np.take_along_axis(top, best_first, axis=1)
    return np.array(vocab, dtype=object), slots


def make_titles(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct made-up titles in MovieLens form (trailing article: ``"River, The"``).

    All combinations of a few word-list patterns (~170k) are enumerated and sampled without
    replacement; beyond that, sequels ("Quiet River 2") keep titles distinct.
    """
    nouns = _NOUNS
    space: list[str] = []
    for a in _ADJECTIVES:
        for noun in nouns:
            space += [f"{a} {noun}", f"{a} {noun}, The", f"{a} {noun}, A"]
    for first in nouns:
        space += [f"{first} of the {second}" for second in nouns if second != first]
    space += [f"{name}'s {noun}" for name in _NAMES for noun in nouns]
    space += [f"{noun} in {place}" for noun in nouns for place in _PLACES]
    space += [f"{verb} the {noun}" for verb in _GERUNDS for noun in nouns]
    space = list(dict.fromkeys(space))
    picked = rng.choice(len(space), size=min(n, len(space)), replace=False)
    titles = [space[i] for i in picked.tolist()]
    sequel = 2
    while len(titles) < n:
        more = rng.choice(len(space), size=min(n - len(titles), len(space)), replace=False)
        titles += [_sequel(space[i], sequel) for i in more.tolist()]
        sequel += 1
    return titles


def _sequel(title: str, number: int) -> str:
    head, comma, article = title.partition(", ")
    return f"{head} {number}{comma}{article}"
