"""Understanding a natural-language movie request: constraints, a reference title, free text.

``parse_request("90s sci-fi like Alien but funnier, no horror", catalog)`` finds the year window,
genres (with synonyms and negations), a reference movie (typo-tolerant), popularity wishes and
what is left for retrieval. With the previous turn's :class:`SearchState` it understands
follow-ups ("something older", "more like the second one", "no horror"). Pure parsing with
regular expressions and rapidfuzz: no model, no I/O, never raises on odd input.
"""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA

from core.data.catalog import Catalog, normalise_title
from core.data.titles import TitleMatcher

#: Longest request text parsed; longer input is cut (a Reddit post rarely needs more).
MAX_CHARS = 20_000
#: Cleaned requests with more words than this are "narrative" descriptions of a plot, where
#: constraints are hints (people misremember years and genres) rather than hard filters.
NARRATIVE_WORDS = 30

Popularity = Literal["popular", "hidden"]

#: The note of a follow-up ("more like the second one", "older") sent before any answer.
NO_EARLIER_ANSWER = "there's no earlier answer to refer to yet — describe a movie first"

# -- genres ------------------------------------------------------------------------------------
# Surface forms (lower case, regex fragments) -> MovieLens genres. Only genres present in the
# catalogue are used. "war" alone is left out on purpose: "Star Wars", "war hero", "at war".
_GENRE_TERMS: dict[str, tuple[str, ...]] = {
    r"action(?:[\s-]packed)?|actioner|action movies?|action films?": ("Action",),
    r"adventures?|adventurous": ("Adventure",),
    r"animated|animation|animes?|cartoons?|pixar": ("Animation",),
    r"kids?|kid's|children'?s?|childrens|family(?:[\s-]friendly)?|for the whole family": (
        "Children",
    ),
    r"comed(?:y|ies)|comedic|funny|hilarious|humou?rous|laugh(?:s|ing)? out loud|lighthearted": (
        "Comedy",
    ),
    r"crime|gangsters?|mafia|mobsters?|heists?": ("Crime",),
    r"documentar(?:y|ies)|docu(?:mentary)?[\s-]?series|docs": ("Documentary",),
    r"dramas?|dramatic": ("Drama",),
    r"fantasy|fantasies|fairy[\s-]?tales?|sword and sorcery": ("Fantasy",),
    r"film[\s-]noir|noir": ("Film-Noir",),
    r"horror|horrors|scary|spooky|creepy|frightening|terrifying|slashers?": ("Horror",),
    r"musicals?": ("Musical",),
    r"myster(?:y|ies)|whodunn?its?": ("Mystery",),
    r"romance|romances|romantic|love stor(?:y|ies)": ("Romance",),
    r"sci[\s-]?fi|science[\s-]fiction|sf": ("Sci-Fi",),
    r"thrillers?|suspense(?:ful)?": ("Thriller",),
    r"war (?:movies?|films?|dramas?)|world war (?:ii|2|two|i|1|one)|ww(?:ii|2|i|1)|wartime": (
        "War",
    ),
    r"westerns?|cowboys?": ("Western",),
    r"rom[\s-]?coms?|romantic comed(?:y|ies)": ("Comedy", "Romance"),
}
# "funnier", "more romantic": a soft preference in both new and follow-up requests.
_COMPARATIVES: dict[str, tuple[str, ...]] = {
    r"funnier|more funny|more comedy|more humou?r|lighter": ("Comedy",),
    r"scarier|creepier|more scary|more horror|spookier": ("Horror",),
    r"more action|more exciting|more explosions": ("Action",),
    r"more romantic|more romance": ("Romance",),
    r"more dramatic|more drama": ("Drama",),
    r"more suspense(?:ful)?|more thrilling": ("Thriller",),
    r"more animated|more cartoons?": ("Animation",),
    r"more sci[\s-]?fi|more science fiction": ("Sci-Fi",),
    r"more mysterious|more mystery": ("Mystery",),
}


def _alternation(terms: dict[str, tuple[str, ...]]) -> str:
    # Multi-genre phrases first: "romantic comedy" must not stop at "romantic".
    ordered = sorted(terms, key=lambda t: (-len(terms[t]), -len(t)))
    return "|".join(f"(?:{t})" for t in ordered)


_GENRE_RE = re.compile(rf"(?<!\w)(?:{_alternation(_GENRE_TERMS)})(?!\w)", re.I)
_COMPARATIVE_RE = re.compile(rf"\b(?:{_alternation(_COMPARATIVES)})\b", re.I)
_GENRE_LOOKUP = [(re.compile(rf"^(?:{t})$", re.I), g) for t, g in _GENRE_TERMS.items()]
_COMPARATIVE_LOOKUP = [(re.compile(rf"^(?:{t})$", re.I), g) for t, g in _COMPARATIVES.items()]
# A negation directly before a genre word, allowing a couple of filler words ("no more horror",
# "nothing too scary", "not a cartoon") but not hedges ("not sure if it was horror").
_NEGATION_BEFORE = re.compile(
    r"(?:\b(?:no|not|without|nothing|non|except|excluding|exclude|avoid|skip|minus|never|less|"
    r"isn't|aren't|wasn't|nor|don't want|do not want|anything but|but not|rather than|"
    r"instead of|other than)|\bnon-)"
    r"(?:[\s-]+(?:a|an|the|too|very|so|really|any|more|of|overly|remotely|even|movies?|films?))"
    r"{0,2}[\s-]*$",
    re.I,
)
# "horror-free", "no horror please" handled above; "X free" is rare enough to skip.

# Genre words that are also strong plot keywords ("a heist movie with a twist"): they set the
# genre and stay in the search text too, where they find the heists themselves (and keep "twist"
# from pulling up "Oliver Twist" on its own).
_PLOT_GENRE_WORDS = re.compile(
    r"^(?:heists?|gangsters?|mafia|mobsters?|slashers?|cowboys?|whodunn?its?|fairy[\s-]?tales?|"
    r"sword and sorcery|pixar|animes?|world war (?:ii|2|two|i|1|one)|ww(?:ii|2|i|1)|wartime)$",
    re.I,
)

# Genre words that describe a plot rather than its genre inside a long description ("the
# kids find a map", "an action scene"): used as genres only in short requests.
_VAGUE_IN_STORIES = frozenset(
    """kid kids family action drama dramatic crime heist heists docs adventure adventures sf
    noir musical cowboy cowboys mafia mystery""".split()  # noqa: SIM905
)

# -- years -------------------------------------------------------------------------------------
_Y = r"(?:18[89]\d|19\d\d|20[0-4]\d)"
_DECADE_WORDS = {
    "twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
    "seventies": 1970, "eighties": 1980, "nineties": 1990, "noughties": 2000, "aughts": 2000,
}  # fmt: skip
_PART = (
    r"(?:(?P<part>early|mid|late)[\s-]*(?:(?:to|or|-|/)[\s-]*(?P<part2>early|mid|late)[\s-]*)?"
    r"(?:the\s+)?)?"
)
# 1990s, 1990's, 90s, '90s, nineties, "early 2000" (a part word makes the "s" optional).
_DECADE = (
    r"(?:(?P<full>(?:18|19|20)\d0)(?:'?s\b|(?<=\d)(?=\s*[-–]\s*(?:early|mid|late)))"
    r"|(?P<short>'?[0-9]0)'?s\b"
    rf"|(?P<word>{'|'.join(_DECADE_WORDS)})\b)"
)
_DECADE_RE = re.compile(rf"(?<![\w'])(?:the\s+)?{_PART}{_DECADE}", re.I)
_PART_YEAR_RE = re.compile(
    r"\b(?P<part>early|mid|late)[\s-]*(?:(?:to|or|-|/)[\s-]*(?P<part2>early|mid|late)[\s-]*)?"
    r"(?P<full>(?:19|20)\d0)(?:'?s)?\b",
    re.I,
)
_RANGE_RE = re.compile(
    rf"\b(?:between\s+|from\s+)?(?P<a>{_Y})s?\s*(?:-|–|to|and|until|till|through|thru)\s*"
    rf"(?P<b>{_Y}|'?\d\d)\b(?!s)",
    re.I,
)
_AFTER_RE = re.compile(
    rf"\b(?P<op>after|since|post|newer than|later than|from after|not before|no earlier than)"
    rf"[\s-]*(?:the\s+)?(?:(?P<y>{_Y})\b(?!s)|{_PART}{_DECADE})",
    re.I,
)
_BEFORE_RE = re.compile(
    rf"\b(?P<op>before|pre|prior to|older than|earlier than|until|up to|not after)"
    rf"[\s-]*(?:the\s+)?(?:(?P<y>{_Y})\b(?!s)|{_PART}{_DECADE})",
    re.I,
)
_AROUND_RE = re.compile(
    rf"\b(?:around|circa|about|approximately|roughly|c\.)\s+(?P<y>{_Y})\b(?!s)", re.I
)
# A year that clearly dates the film ("released in 2005", "from 2005", "(2005)", "[2005]").
# Also future years ("horror from 2050"), to say they were ignored rather than drop them quietly.
_DATED_YEAR_RE = re.compile(
    rf"(?:\b(?:released|came out|made|filmed|premiered|aired)\s+(?:in\s+|around\s+)?"
    rf"|\bfrom\s+|[\[(]\s*)(?P<y>{_Y}|20[5-9]\d|21\d\d)\b(?!s)",
    re.I,
)
_BARE_YEAR_RE = re.compile(rf"(?<![\w$])(?P<y>{_Y})(?![\w%])")
_LAST_YEARS_RE = re.compile(
    r"\b(?:in\s+)?(?:the\s+)?(?:last|past)\s+(?P<n>\d{1,2}|few|couple(?:\s+of)?|two|three|five|ten)"
    r"\s+years\b|\b(?:the\s+)?(?:last|past)\s+decade\b",
    re.I,
)
_RECENT_RE = re.compile(
    r"\b(?:(?:fairly|pretty|very|more|most|quite|somewhat|relatively)\s+)?(?:recent|latest|"
    r"new(?=\s+(?:movies?|films?|releases?|ones?|stuff))|newish|modern|current)\b"
    r"(?:\s+(?:releases?|ones?))?",
    re.I,
)
_OLD_RE = re.compile(
    r"\b(?P<w>classics?|classic (?:movies?|films?)|vintage|golden[\s-]age|silent (?:movies?|films?)"
    r"|black[\s-]and[\s-]white (?:movies?|films?)|old(?:er|ish)?(?=\s+(?:movies?|films?|ones?|"
    r"stuff|classics?))|(?:fairly|pretty|somewhat|kind of|kinda|really|very)\s+old(?:ish)?)\b",
    re.I,
)

# -- popularity, follow-ups, cleaning ------------------------------------------------------------
_HIDDEN_RE = re.compile(
    r"\b(?:hidden[\s-]gems?|underrated|under[\s-]the[\s-]radar|obscure|lesser[\s-]known|"
    r"little[\s-]known|not (?:too |very |so )?(?:well[\s-]known|popular|mainstream|famous)|"
    r"unknown|underappreciated|overlooked|deep cuts?|undiscovered|niche)\b",
    re.I,
)
_POPULAR_RE = re.compile(
    r"\b(?:popular|well[\s-]known|blockbusters?|mainstream|famous|crowd[\s-]pleasers?|"
    r"big[\s-]budget|box[\s-]office hits?|most watched|everyone has seen)\b",
    re.I,
)
_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
    "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1,
}  # fmt: skip
_ORDINAL_RE = re.compile(
    r"\b(?:(?:more\s+)?(?:like|than|similar to)\s+)?(?:the\s+)?"
    rf"(?:(?P<word>{'|'.join(_ORDINALS)})(?:\s+(?:one|movie|film|result|pick|suggestion))?"
    r"|(?:#|number\s*|no\.\s*|num\s*)(?P<num>\d{1,2})(?:\s+(?:one|movie|film))?)\b",
    re.I,
)
_OLDER_RE = re.compile(
    r"\b(?:something\s+|anything\s+|a\s+bit\s+|bit\s+|even\s+|much\s+)?"
    r"(?:older|earlier|less recent|more dated|older ones?)\b",
    re.I,
)
_NEWER_RE = re.compile(
    r"\b(?:something\s+|anything\s+|a\s+bit\s+|bit\s+|even\s+|much\s+)?"
    r"(?:newer|more recent|more modern|later ones?|newer ones?)\b",
    re.I,
)
_ONLY_RE = re.compile(r"\b(?:only|just|strictly)\b", re.I)
_FOLLOW_UP_START = re.compile(
    r"^\s*(?:and|but|also|what about|how about|now|ok(?:ay)?|same but|same|only|just|instead|"
    r"actually|rather|maybe|what if|then|too|any|less|more|without|no|not|exclude|remove|drop|"
    r"except|skip)\b",
    re.I,
)
# A message that points into an earlier answer: "more like the second one", "the 3rd one
# please", "like #2". Anchored at the start so "like Alien, the first one" stays a title request.
_ORDINAL_FOLLOW_UP = re.compile(
    r"^(?:(?:ok(?:ay)?|and|now|so|but|then|hmm+)[,\s]+)?"
    r"(?:(?:something|anything|movies?|films?|more|even|just|a\s+bit)\s+)*"
    r"(?:(?:like|than|similar\s+to)\s+(?:the\s+)?#\s*\d{1,2}\b"
    rf"|(?:(?:like|than|similar\s+to)\s+)?the\s+(?:{'|'.join(_ORDINALS)})\s+ones?\b)",
    re.I,
)
# Words allowed around a bare "older"/"newer" that is only a refinement of an earlier answer.
_BARE_SHIFT_WORDS = frozenset(
    """something anything please pls plz one ones ok okay and but now then maybe a bit little
    even much slightly go""".split()  # noqa: SIM905
)
_REFERENCE_TRIGGER = re.compile(
    r"(?:\b(?P<head>movies?|films?|something|anything|stuff|ones?|shows?)\s+)?"
    r"\b(?:(?:just|kind of|sort of|a bit|a little|more)\s+)?"
    r"(?P<trigger>like|similar to|such as|reminiscent of|in the (?:vein|style|spirit) of|"
    r"along the lines of|(?:the )?same (?:vibe|feel|feeling|style) as|comparable to|akin to|"
    r"resembling|in the same (?:vein|league) as|fans? of|if (?:i|you) (?:liked|loved|enjoyed)|"
    r"i (?:liked|loved|enjoyed|really liked|really loved)|vibes? of)\s+",
    re.I,
)
# Where a title mention ends: punctuation or words that start a new clause.
_TITLE_END = re.compile(
    r"[,.;:!?()\[\]\"\n]|\s(?:but|except|only|though|although|however|without|just|"
    r"please|plz|pls|and also|or something|set in|from the|in the (?:\d0s|19|20)|that|which|"
    r"who|where|because|since|so|if|except|maybe|instead)\b",
    re.I,
)
_TAG_RE = re.compile(
    r"\[\s*(?P<body>[^\]\n]{0,60})\s*\]|\(\s*(?P<pbody>tomt|movie|film)\s*\)", re.I
)
_TAG_WORDS = re.compile(
    r"^(?:tomt|movie|movies|film|films|tv|tv show|show|series|short|short film|cartoon|anime|"
    r"documentary|music video|scene|clip|trailer|solved|found|\W*)$",
    re.I,
)
_NOISE_RE = re.compile(
    r"https?://\S+|www\.\S+|&#x200b;|&amp;|&nbsp;|\btip of (?:my|the) tongue\b|\btomt\b|"
    r"\bthanks?(?: you)?(?: so much| very much| a lot)?(?: in advance| for (?:any|the|your) help)?"
    r"|\bany help (?:is|would be) (?:greatly |much |very much )?appreciated\b|"
    r"\b(?:please|pls|plz) help\b|\bhelp me (?:find|identify|remember|figure out)\b|"
    r"\bcan (?:any|some)(?:one|body) (?:please )?(?:help(?: me)?|tell me|identify)\b|"
    r"\bdoes (?:any|some)(?:one|body) know\b|\b(?:edit|update|solved)\s*\d*\s*:|"
    r"\bi(?:'m| am) (?:looking for|trying to (?:find|remember|identify))\b|"
    r"\bwhat (?:movie|film) is this\b|\bwhat is (?:this|the) (?:movie|film)(?: called)?\b",
    re.I,
)
_MARKDOWN_RE = re.compile(r"[*_>`~|\\]+|^#+\s*", re.M)
_SPACES_RE = re.compile(r"[ \t\r\f\v]+")

# Common words that happen to be titles ("It", "Her", "Up", "Us", "Them!"): only a capitalised
# mention in the middle of a sentence may refer to the movie.
_COMMON_TITLE_WORDS = frozenset(
    """it her him up us them this that these those something anything everything nothing one ones
    you me we they he she home love life time war run go big now then here there more most other
    others another same such what who why how when where which thing things stuff movie movies
    film films show shows series story stories old new""".split()  # noqa: SIM905
)


# -- data types --------------------------------------------------------------------------------
@dataclass
class SearchState:
    """What a conversation has asked for so far; JSON-serialisable for the app's session state.

    Attributes:
        query: the last raw request text.
        text: the free text retrieval used last (constraint words removed).
        year_min / year_max: active year window (inclusive; ``None`` = open).
        include_genres: genres every result must have.
        prefer_genres: genres that lift a result without being required.
        exclude_genres: genres no result may have.
        reference_id: movieId results should resemble.
        popularity: ``"popular"``, ``"hidden"`` or ``None``.
        result_ids: movieIds of the last answer, best first ("more like the second one").
    """

    query: str = ""
    text: str = ""
    year_min: int | None = None
    year_max: int | None = None
    include_genres: list[str] = field(default_factory=list)
    prefer_genres: list[str] = field(default_factory=list)
    exclude_genres: list[str] = field(default_factory=list)
    reference_id: int | None = None
    popularity: Popularity | None = None
    result_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SearchState:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, bad values reset."""
        if not data:
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        state = cls(**known)
        state.include_genres = [str(g) for g in state.include_genres or []]
        state.prefer_genres = [str(g) for g in state.prefer_genres or []]
        state.exclude_genres = [str(g) for g in state.exclude_genres or []]
        state.result_ids = [int(m) for m in state.result_ids or []]
        state.year_min = None if state.year_min is None else int(state.year_min)
        state.year_max = None if state.year_max is None else int(state.year_max)
        state.reference_id = None if state.reference_id is None else int(state.reference_id)
        if state.popularity not in ("popular", "hidden"):
            state.popularity = None
        return state


@dataclass
class ParsedRequest:
    """One understood request: constraints, a reference movie and the text left for retrieval.

    ``text`` is what retrieval should match (constraint words removed); ``cleaned`` is the
    request with only noise removed (tags, URLs, "thanks in advance"). Constraints of a
    ``narrative`` request (a long plot description) are hints, not hard filters.
    """

    raw: str
    text: str = ""
    cleaned: str = ""
    year_min: int | None = None
    year_max: int | None = None
    include_genres: tuple[str, ...] = ()
    prefer_genres: tuple[str, ...] = ()
    exclude_genres: tuple[str, ...] = ()
    reference_id: int | None = None
    reference_item: int | None = None
    reference_title: str | None = None
    popularity: Popularity | None = None
    follow_up: bool = False
    narrative: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def has_years(self) -> bool:
        """Whether a year window is set."""
        return self.year_min is not None or self.year_max is not None

    def is_empty(self) -> bool:
        """True when there is nothing to search with (no text, reference, genre, exclusion,
        year or popularity wish)."""
        return not (
            self.text.strip()
            or self.reference_id is not None
            or self.include_genres
            or self.prefer_genres
            or self.exclude_genres
            or self.has_years
            or self.popularity
        )

    def understood(self) -> list[str]:
        """Plain phrases for the user: ``["years 1990–1999", "genre: Comedy", ...]``."""
        out: list[str] = []
        if self.year_min is not None and self.year_max is not None:
            if self.year_min == self.year_max:
                out.append(f"year {self.year_min}")
            else:
                out.append(f"years {self.year_min}–{self.year_max}")
        elif self.year_min is not None:
            out.append(f"from {self.year_min} on")
        elif self.year_max is not None:
            out.append(f"up to {self.year_max}")
        if self.include_genres:
            out.append("genre: " + " + ".join(self.include_genres))
        if self.prefer_genres:
            out.append("leaning: " + ", ".join(self.prefer_genres))
        if self.exclude_genres:
            out.append("excluding: " + ", ".join(self.exclude_genres))
        if self.reference_title:
            out.append(f"like: {self.reference_title}")
        if self.popularity == "popular":
            out.append("popular picks")
        elif self.popularity == "hidden":
            out.append("hidden gems")
        if self.text.strip() and (out or self.follow_up):
            words = self.text.split()
            shown = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
            out.append(f"about: {shown}")
        return out

    def next_state(self, result_ids: list[int] | np.ndarray | None = None) -> SearchState:
        """The state to keep for the next turn, with the movieIds this answer showed."""
        ids = [int(m) for m in (result_ids if result_ids is not None else [])]
        return SearchState(
            query=self.raw[:2000],
            text=self.text[:2000],
            year_min=self.year_min,
            year_max=self.year_max,
            include_genres=list(self.include_genres),
            prefer_genres=list(self.prefer_genres),
            exclude_genres=list(self.exclude_genres),
            reference_id=self.reference_id,
            popularity=self.popularity,
            result_ids=ids,
        )

    # The name the brief and the app use.
    to_state = next_state


# -- title lookup ------------------------------------------------------------------------------
class _TitleKeys:
    """Exact and fuzzy lookup of reference titles by normalised key (strict, unlike search)."""

    def __init__(self, catalog: Catalog) -> None:
        movies = catalog.movies
        self.movie_ids = catalog.movie_ids
        self.years = movies["year"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        self.n_ratings = catalog.rating_stats["n_ratings"].to_numpy(dtype=np.int64)
        years = self.years[np.isfinite(self.years)]
        self.max_year = int(years.max()) if len(years) else 2020
        self.min_year = int(years.min()) if len(years) else 1880
        self.exact: dict[str, list[int]] = {}
        shown = movies["display_title"].fillna("").astype(str).tolist()
        for item, title in enumerate(shown):
            main, _, alt = title.partition(" (")
            # "Star Wars" names "Star Wars: Episode IV - A New Hope" (the most rated episode
            # wins the tie below).
            series = re.split(r":| - ", main, maxsplit=1)[0]
            for variant in {main, title, alt.rstrip(")"), series}:
                key = normalise_title(variant)
                if len(key) >= 2:
                    self.exact.setdefault(key, []).append(item)
        self.keys = list(self.exact)

    def best(self, text: str, year: int | None = None) -> int | None:
        """Item index of the title ``text`` names, or ``None``; exact keys first, then typos."""
        key = normalise_title(text)
        if len(key) < 2:
            return None
        items = self.exact.get(key)
        if items is None and len(key) >= 6:
            # Typos, transpositions included ("matirx"), by edit distance over whole keys: no
            # partial matching, which would let "alien but funnier" hit "Alien".
            limit = 1 if len(key) < 10 else 2 if len(key) < 16 else 3
            found = process.extractOne(key, self.keys, scorer=OSA.distance, score_cutoff=limit)
            if found is not None:
                items = self.exact[found[0]]
        if not items:
            return None
        ranked = sorted(
            items,
            key=lambda i: (
                0 if year is not None and self.years[i] == year else 1,
                -int(self.n_ratings[i]),
                i,
            ),
        )
        return int(ranked[0])


class _KeysCache:
    """Bounded cache of :class:`_TitleKeys` per live catalogue (a few catalogues at most)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[weakref.ref[Catalog], _TitleKeys]] = OrderedDict()

    def get(self, catalog: Catalog) -> _TitleKeys:
        entry = self._entries.get(id(catalog))
        if entry is not None and entry[0]() is catalog:
            self._entries.move_to_end(id(catalog))
            return entry[1]
        keys = _TitleKeys(catalog)
        self._entries[id(catalog)] = (weakref.ref(catalog), keys)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return keys


_TITLE_KEYS = _KeysCache()


# -- helpers -----------------------------------------------------------------------------------
def clean_request(text: str) -> str:
    """Strip Reddit noise: [TOMT]/[Movie] tags, URLs, markdown, "thanks in advance", ...

    Bracketed tags that carry information ("[late 90s]", "[2005]") keep their content.
    """
    text = str(text or "")[:MAX_CHARS]

    def tag(match: re.Match[str]) -> str:
        body = (match.group("body") or match.group("pbody") or "").strip()
        if _TAG_WORDS.match(body) or re.fullmatch(r"(?:tomt|movie|film)[\s/,|-]*\w*", body, re.I):
            return " "
        return f" ({body}) "

    text = _TAG_RE.sub(tag, text)
    text = _NOISE_RE.sub(" ", text)
    text = _MARKDOWN_RE.sub(" ", text)
    text = re.sub(r"\n\s*\n+", "\n", text)
    lines = [_SPACES_RE.sub(" ", line).strip(" -") for line in text.split("\n")]
    return "\n".join(line for line in lines if line).strip()


def _genres_of(term: str, lookup: list[tuple[re.Pattern[str], tuple[str, ...]]]) -> tuple[str, ...]:
    for pattern, genres in lookup:
        if pattern.match(term.strip()):
            return genres
    return ()


def _decade_window(match: re.Match[str]) -> tuple[int, int] | None:
    """(first, last) year of a decade mention, narrowed by early/mid/late."""
    groups = match.groupdict()
    start: int | None = None
    if groups.get("full"):
        start = int(groups["full"])
    elif groups.get("short"):
        digits = int(groups["short"].lstrip("'"))
        start = 2000 + digits if digits <= 20 else 1900 + digits
    elif groups.get("word"):
        start = _DECADE_WORDS[groups["word"].lower()]
    if start is None:
        return None
    spans = {"early": (0, 4), "mid": (3, 7), "late": (6, 9), "": (0, 9)}
    first = spans.get((groups.get("part") or "").lower(), (0, 9))
    second = (groups.get("part2") or "").lower()
    last = spans.get(second, first) if second else first  # "mid to late 90s"
    return start + first[0], start + last[1]


def _is_age(text: str, start: int) -> bool:
    """'in her 20s', 'a man in his late 40s': a decade that is an age, not a date."""
    before = text[max(0, start - 30) : start].lower()
    return bool(re.search(r"\b(?:in|into)\s+(?:his|her|their|my|our|your|the)\s*$", before)) or (
        bool(re.search(r"\b(?:his|her|their|my|our|your)\s+(?:early|mid|late)[\s-]*$", before))
    )


class _Spans:
    """Character spans of the request that constraints consumed (removed from the free text)."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []

    def add(self, start: int, end: int) -> None:
        self.spans.append((start, end))

    def taken(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e in self.spans)

    def remove_from(self, text: str) -> str:
        if not self.spans:
            return text
        keep = np.ones(len(text), dtype=bool)
        for start, end in self.spans:
            keep[start:end] = False
        chars = [c if k else " " for c, k in zip(text, keep, strict=True)]
        return "".join(chars)


_FILLER_WORDS = frozenset(
    """movie movies film films something anything stuff one ones please pls plz show find give
    me recommend suggest i want i'd id like looking for a an the some any from in with of and or
    but to watch that is are was were set made released good great best top""".split()  # noqa: SIM905
)


def _finish_text(text: str) -> str:
    """Tidy the leftover text: collapse spaces, drop empty brackets and punctuation runs.

    Returns "" when only filler words are left ("some movies from the", "please").
    """
    text = re.sub(r"[(\[][^\w()\[\]]*[)\]]", " ", text)  # "( - )" left by a removed tag
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,.;:!?])(?:\s*[,.;:!?])+", r"\1", text)
    text = _SPACES_RE.sub(" ", text)
    stripped = text.strip(" ,.;:!?-\n")
    # A word-set test, not a regex: nested optional repeats backtrack exponentially.
    if all(word in _FILLER_WORDS for word in re.findall(r"[\w']+", stripped.lower())):
        return ""
    return "\n".join(line.strip(" ,;:-") for line in stripped.split("\n")).strip()


# -- the parser ----------------------------------------------------------------------------------
def parse_request(
    text: str,
    catalog: Catalog,
    previous: SearchState | dict[str, Any] | None = None,
    *,
    matcher: TitleMatcher | None = None,
) -> ParsedRequest:
    """Understand one request, optionally as a follow-up of ``previous``.

    Never raises for odd input (empty, only punctuation, 5,000 characters): such requests come
    back with empty ``text`` and no constraints. ``matcher`` is accepted for callers that
    already hold a :class:`~core.data.titles.TitleMatcher`; the strict reference lookup here keeps
    its own normalised-title index (cached per catalogue).
    """
    del matcher  # the strict exact/typo lookup below is what a *reference* needs
    if isinstance(previous, dict):
        previous = SearchState.from_dict(previous)
    raw = str(text or "")[:MAX_CHARS]
    cleaned = clean_request(raw)
    request = ParsedRequest(raw=raw, cleaned=cleaned)
    if not re.search(r"\w", cleaned):
        if previous is not None:
            return _carry_over(request, previous)
        return request
    lower = cleaned.lower()
    n_words = len(cleaned.split())
    request.narrative = n_words > NARRATIVE_WORDS
    spans = _Spans()
    genres = set(catalog.genre_names)
    keys = _TITLE_KEYS.get(catalog)
    max_year, min_year = keys.max_year, keys.min_year
    if not request.narrative and _needs_earlier_answer(cleaned, previous):
        # "more like the second one" or a bare "older" with nothing before it: say so, rather
        # than search for "Seconds (1966)" or the word "older".
        request.notes.append(NO_EARLIER_ANSWER)
        return request

    # Follow-up markers first: they decide how the rest combines with the previous turn.
    follow_ref: int | None = None
    shift: int = 0
    if previous is not None:
        if previous.result_ids:
            for match in _ORDINAL_RE.finditer(cleaned):
                whole = match.group(0).lower()
                # "the first one" alone is ambiguous in a new request; require "like"/"one"/"#".
                if not re.search(
                    r"like|than|similar|one|movie|film|result|pick|#|number|no\.", whole
                ):
                    continue
                if match.group("word"):
                    pos = _ORDINALS[match.group("word").lower()]
                else:
                    pos = int(match.group("num"))
                index = len(previous.result_ids) - 1 if pos == -1 else pos - 1
                if 0 <= index < len(previous.result_ids):
                    follow_ref = int(previous.result_ids[index])
                    spans.add(*match.span())
                    break
        for match in _OLDER_RE.finditer(cleaned):
            shift = -1
            spans.add(*match.span())
        for match in _NEWER_RE.finditer(cleaned):
            shift = 1
            spans.add(*match.span())

    # Years.
    windows: list[tuple[int | None, int | None]] = []
    for match in _RANGE_RE.finditer(cleaned):
        a = int(match.group("a"))
        b_text = match.group("b").lstrip("'")
        b = int(b_text) if len(b_text) == 4 else (a // 100) * 100 + int(b_text)
        if b < a and len(b_text) == 2:
            b += 100
        if a <= b <= a + 60:
            windows.append((a, b))
            spans.add(*match.span())
    for regex, is_after in ((_AFTER_RE, True), (_BEFORE_RE, False)):
        for match in regex.finditer(cleaned):
            if spans.taken(*match.span()):
                continue
            if match.group("y"):
                year = int(match.group("y"))
                op = match.group("op").lower()
                if is_after:
                    windows.append(
                        (year + 1 if op in ("after", "post", "later than") else year, None)
                    )
                else:
                    windows.append((None, year - 1 if op != "up to" else year))
            else:
                window = _decade_window(match)
                if window is None:
                    continue
                windows.append((window[1] + 1, None) if is_after else (None, window[0] - 1))
            spans.add(*match.span())
    for match in _PART_YEAR_RE.finditer(cleaned):
        if spans.taken(*match.span()):
            continue
        window = _decade_window(match)
        if window:
            windows.append(window)
            spans.add(*match.span())
    for match in _DECADE_RE.finditer(cleaned):
        if spans.taken(*match.span()) or _is_age(cleaned, match.start()):
            continue
        window = _decade_window(match)
        if window is None:
            continue
        short = match.group("short")
        if short and int(short.lstrip("'")) in (10, 20) and not match.group("part"):
            continue  # "10s"/"20s" are mostly ages or 2010s/2020s slang: too ambiguous
        windows.append(window)
        spans.add(*match.span())
    for match in _AROUND_RE.finditer(cleaned):
        if not spans.taken(*match.span()):
            year = int(match.group("y"))
            windows.append((year - 2, year + 2))
            spans.add(*match.span())
    for match in _DATED_YEAR_RE.finditer(cleaned):
        if not spans.taken(*match.span("y")):
            year = int(match.group("y"))
            if not min_year <= year <= max_year:
                if not request.narrative:  # in a story "a girl from 2077" is plot, kept
                    _ignore_year(request, year)
                    spans.add(*match.span())
                continue
            # In a long description a dated year is still a memory: allow a little slack.
            windows.append((year - 1, year + 1) if request.narrative else (year, year))
            spans.add(*match.span("y"))
    if not request.narrative:
        # In a short request a bare year is a constraint ("2010 thrillers"); in a story it is
        # usually when the person watched it ("I saw it in 2004"), so it is ignored there.
        for match in _BARE_YEAR_RE.finditer(cleaned):
            if not spans.taken(*match.span()):
                year = int(match.group("y"))
                if min_year <= year <= max_year:
                    windows.append((year, year))
                else:
                    _ignore_year(request, year)
                spans.add(*match.span())
    for match in _LAST_YEARS_RE.finditer(cleaned):
        if spans.taken(*match.span()):
            continue
        amount = (match.group("n") or "10").lower()
        words = {"few": 4, "couple": 2, "couple of": 2, "two": 2, "three": 3, "five": 5, "ten": 10}
        n = int(amount) if amount.isdigit() else words.get(amount, 4)
        windows.append((max_year - n + 1, None))
        spans.add(*match.span())
    for match in _RECENT_RE.finditer(cleaned):
        if not spans.taken(*match.span()):
            windows.append((max_year - 5, None))
            spans.add(*match.span())
    for match in _OLD_RE.finditer(cleaned):
        if spans.taken(*match.span()):
            continue
        word = match.group("w").lower()
        soft = (
            "ish" in word
            or "older" in word
            or any(w in word for w in ("fairly", "pretty", "somewhat", "kind of", "kinda"))
        )
        windows.append((None, max_year - 20 if soft else 1979))
        spans.add(*match.span())
    request.year_min, request.year_max = _combine_windows(windows)

    # Genres, negated genres and comparatives.
    include: list[str] = []
    exclude: list[str] = []
    prefer: list[str] = []
    only = bool(_ONLY_RE.search(cleaned))
    for match in _COMPARATIVE_RE.finditer(cleaned):
        before = cleaned[max(0, match.start() - 40) : match.start()]
        negation = _NEGATION_BEFORE.search(before)
        target = exclude if negation else prefer  # "no more horror" excludes
        for genre in _genres_of(match.group(0), _COMPARATIVE_LOOKUP):
            if genre in genres and genre not in target:
                target.append(genre)
        start = match.start() - (len(before) - negation.start()) if negation else match.start()
        spans.add(start, match.end())
    for match in _GENRE_RE.finditer(cleaned):
        if spans.taken(*match.span()):
            continue
        found = [g for g in _genres_of(match.group(0), _GENRE_LOOKUP) if g in genres]
        if not found:
            continue
        term = match.group(0).lower()
        if request.narrative and term in _VAGUE_IN_STORIES:
            continue
        if (
            not request.narrative
            and term in {"sf", "docs", "kid"}
            and not re.search(rf"\b{term}\s+(?:movies?|films?)\b", lower)
        ):
            continue  # "sf", "docs", "kid" count only as "sf movies", "kid movies"
        negation = _NEGATION_BEFORE.search(cleaned[max(0, match.start() - 40) : match.start()])
        if negation:
            start = match.start() - (
                len(cleaned[max(0, match.start() - 40) : match.start()]) - negation.start()
            )
            for genre in found:
                if genre not in exclude:
                    exclude.append(genre)
            spans.add(start, match.end())
            continue
        target = prefer if request.narrative and not only else include
        for genre in found:
            if genre not in target:
                target.append(genre)
        if not _PLOT_GENRE_WORDS.match(term):
            spans.add(*match.span())
    if only:
        for match in _ONLY_RE.finditer(cleaned):
            spans.add(*match.span())
    include = [g for g in include if g not in exclude]
    prefer = [g for g in prefer if g not in exclude and g not in include]

    # Popularity.
    for match in _HIDDEN_RE.finditer(cleaned):
        if not spans.taken(*match.span()):
            request.popularity = "hidden"
            spans.add(*match.span())
    if request.popularity is None:
        for match in _POPULAR_RE.finditer(cleaned):
            if not spans.taken(*match.span()) and not _NEGATION_BEFORE.search(
                cleaned[max(0, match.start() - 20) : match.start()]
            ):
                request.popularity = "popular"
                spans.add(*match.span())

    # A reference title ("like Alien but funnier"); a follow-up's "#2" wins.
    if follow_ref is not None:
        request.reference_id = follow_ref
    else:
        _find_reference(cleaned, catalog, request, spans)
    if request.reference_id is not None:
        request.reference_item = catalog.item_of.get(int(request.reference_id))
        if request.reference_item is None:
            request.notes.append(f"unknown movie {request.reference_id}")
            request.reference_id = None
        else:
            request.reference_title = catalog.title_of(int(request.reference_id))

    request.include_genres = tuple(include)
    request.exclude_genres = tuple(exclude)
    request.prefer_genres = tuple(prefer)
    request.text = _finish_text(spans.remove_from(cleaned))

    if previous is not None and _is_follow_up(request, previous, follow_ref, shift, cleaned):
        request = _merge(request, previous, catalog, shift, max_year)
    return request


def _ignore_year(request: ParsedRequest, year: int) -> None:
    """Note a release year the catalogue has no movies from (it is ignored)."""
    note = f"no movies from {year} in this catalogue: ignored the year"
    if note not in request.notes:
        request.notes.append(note)


def _needs_earlier_answer(cleaned: str, previous: SearchState | None) -> bool:
    """A follow-up that only makes sense after an answer ("more like the second one", a bare
    "older"), sent when there is none. Conservative: only a message that starts with the
    ordinal reference, or "older"/"newer" with nothing but filler words around it."""
    if previous is not None and previous.result_ids:
        return False
    if _ORDINAL_FOLLOW_UP.match(cleaned):
        return True
    if previous is not None and previous.query.strip():
        return False  # "older" still shifts the previous request's window
    if not (_OLDER_RE.search(cleaned) or _NEWER_RE.search(cleaned)):
        return False
    if _OLD_RE.search(cleaned) or _RECENT_RE.search(cleaned):
        return False  # "older movies", "more recent": a request of their own
    rest = _NEWER_RE.sub(" ", _OLDER_RE.sub(" ", cleaned)).lower()
    return all(word in _BARE_SHIFT_WORDS for word in re.findall(r"[\w']+", rest))


def _combine_windows(
    windows: list[tuple[int | None, int | None]],
) -> tuple[int | None, int | None]:
    """Closed windows unite into their hull ("late 90s or early 2000s"); open bounds
    ("after 1990", "before 2000") then narrow it."""
    if not windows:
        return None, None
    closed = [(a, b) for a, b in windows if a is not None and b is not None]
    lo: int | None = min(a for a, _ in closed) if closed else None
    hi: int | None = max(b for _, b in closed) if closed else None
    for a, b in windows:
        if a is not None and b is None:
            lo = a if lo is None else max(lo, a)
        if b is not None and a is None:
            hi = b if hi is None else min(hi, b)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return lo, hi


def _find_reference(cleaned: str, catalog: Catalog, request: ParsedRequest, spans: _Spans) -> None:
    """Set ``request.reference_*`` from "like <title>" style mentions (first good one wins)."""
    keys = _TITLE_KEYS.get(catalog)
    for trigger in _REFERENCE_TRIGGER.finditer(cleaned):
        kind = trigger.group("trigger").lower()
        if request.narrative and kind == "like" and not trigger.group("head"):
            # In a plot description "like" is mostly a comparison ("looks like Eddie
            # Murphy", "like 10 years ago"); only "a movie like X" names a reference there.
            continue
        start = trigger.end()
        tail = cleaned[start : start + 120]
        end_match = _TITLE_END.search(tail)
        span_text = tail[: end_match.start()] if end_match else tail
        words = span_text.split()[:8]
        if not words:
            continue
        # Longest prefix first, so "the usual suspects" beats "the usual".
        for n in range(len(words), 0, -1):
            candidate = " ".join(words[:n])
            year_match = re.search(rf"\(?\b({_Y})\b\)?\s*$", candidate)
            year = int(year_match.group(1)) if year_match else None
            name = candidate[: year_match.start()].strip() if year_match else candidate
            if not _plausible_title(name, request.narrative, cleaned, start):
                continue
            item = keys.best(name, year)
            if item is None:
                continue
            request.reference_id = int(keys.movie_ids[item])
            end = (
                start
                + len(" ".join(span_text.split()[:n]))
                + (len(span_text) - len(span_text.lstrip()))
            )
            spans.add(trigger.start(), end)
            return


def _plausible_title(name: str, narrative: bool, text: str, position: int) -> bool:
    """Whether ``name`` may be a title mention rather than ordinary words."""
    stripped = name.strip(" '\"")
    if len(normalise_title(stripped)) < 2:
        return False
    words = stripped.split()
    lowered = stripped.lower()
    if re.match(r"^\d+\s+(?:years?|months?|weeks?|days?|hours?|minutes?|times?)\b", lowered):
        return False  # "like 10 years ago"
    capitalised = stripped[:1].isupper() or stripped[:1].isdigit()
    if lowered.split()[0] in {"a", "an"} and not capitalised:
        return False  # "like a haunted house" is a description, not "A Haunted House"
    if len(words) == 1 and lowered in _COMMON_TITLE_WORDS:
        # "movies like it": only a capitalised "It" that is not the sentence's first word.
        at_start = position == 0 or text[:position].rstrip().endswith((".", "!", "?", "\n"))
        return capitalised and not at_start and stripped.upper() != stripped.lower()
    if all(w.lower() in _COMMON_TITLE_WORDS | {"the", "a", "an", "of", "and"} for w in words):
        return capitalised and not narrative
    # Plot descriptions say "like" constantly ("looked like a giant"); trust only titles
    # written as titles there.
    return capitalised or not narrative


def _is_follow_up(
    request: ParsedRequest,
    previous: SearchState,
    follow_ref: int | None,
    shift: int,
    cleaned: str,
) -> bool:
    """A refinement of the previous turn rather than a new, unrelated request."""
    if follow_ref is not None or shift != 0:
        return True
    if request.narrative:
        return False
    n_words = len(cleaned.split())
    if _FOLLOW_UP_START.match(cleaned) and n_words <= 12:
        return True
    if request.prefer_genres and not request.include_genres and n_words <= 6:
        return True  # "funnier", "make it scarier"
    # Only exclusions/popularity/years and no new subject: "no horror", "hidden gems please".
    no_subject = not request.text and request.reference_id is None and not request.include_genres
    return (
        no_subject
        and n_words <= 8
        and bool(request.exclude_genres or request.popularity or request.has_years)
    )


def _carry_over(request: ParsedRequest, previous: SearchState) -> ParsedRequest:
    """An empty follow-up keeps the previous constraints (so the answer does not change)."""
    return replace(
        request,
        text=previous.text,
        year_min=previous.year_min,
        year_max=previous.year_max,
        include_genres=tuple(previous.include_genres),
        prefer_genres=tuple(previous.prefer_genres),
        exclude_genres=tuple(previous.exclude_genres),
        reference_id=previous.reference_id,
        popularity=previous.popularity,
        follow_up=True,
    )


def _merge(
    request: ParsedRequest,
    previous: SearchState,
    catalog: Catalog,
    shift: int,
    max_year: int,
) -> ParsedRequest:
    """Combine a follow-up with the previous turn's constraints."""
    year_min, year_max = previous.year_min, previous.year_max
    if request.has_years:
        year_min, year_max = request.year_min, request.year_max
    elif shift:
        year_min, year_max = _shift_window(previous, catalog, shift, max_year)
    exclude = list(dict.fromkeys([*previous.exclude_genres, *request.exclude_genres]))
    include = [
        g
        for g in dict.fromkeys([*previous.include_genres, *request.include_genres])
        if g not in exclude
    ]
    prefer = [
        g
        for g in dict.fromkeys([*previous.prefer_genres, *request.prefer_genres])
        if g not in exclude and g not in include
    ]
    text = " ".join(t for t in (previous.text, request.text) if t).strip()
    reference_id = (
        request.reference_id if request.reference_id is not None else (previous.reference_id)
    )
    merged = replace(
        request,
        text=text,
        year_min=year_min,
        year_max=year_max,
        include_genres=tuple(include),
        prefer_genres=tuple(prefer),
        exclude_genres=tuple(exclude),
        reference_id=reference_id,
        popularity=request.popularity or previous.popularity,
        follow_up=True,
    )
    if merged.reference_id is not None:
        item = catalog.item_of.get(int(merged.reference_id))
        if item is None:
            merged.reference_id = None
            merged.reference_item = None
            merged.reference_title = None
        else:
            merged.reference_item = item
            merged.reference_title = catalog.title_of(int(merged.reference_id))
    return merged


def _shift_window(
    previous: SearchState, catalog: Catalog, direction: int, max_year: int
) -> tuple[int | None, int | None]:
    """The window just before (``direction=-1``) or after (``+1``) the previous one.

    Without a previous window, the previous answer's median year is the pivot.
    """
    lo, hi = previous.year_min, previous.year_max
    if lo is not None and hi is not None:
        width = max(hi - lo + 1, 10)
        return (lo - width, lo - 1) if direction < 0 else (hi + 1, min(hi + width, max_year))
    if direction < 0 and lo is not None:
        return None, lo - 1
    if direction > 0 and hi is not None:
        return hi + 1, None
    pivot: int | None = None
    items = [catalog.item_of[m] for m in previous.result_ids if m in catalog.item_of]
    if items:
        years = pd.to_numeric(catalog.movies["year"].iloc[items], errors="coerce").dropna()
        if len(years):
            pivot = int(years.median())
    if pivot is None:
        pivot = max_year - 15
    return (None, pivot - 1) if direction < 0 else (pivot + 1, None)
