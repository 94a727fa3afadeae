"""The words requests are parsed with: genre, decade/year and popularity phrase tables.

Regular expressions and word lists only (no parsing logic); :mod:`core.search.genres`,
:mod:`core.search.years` and :func:`core.search.request.parse_request` apply them.
"""

from __future__ import annotations

import re

# -- genres ------------------------------------------------------------------------------------
# Surface forms (lower case, regex fragments) -> MovieLens genres. Only genres present in the
# catalogue are used. "war" alone is left out on purpose: "Star Wars", "war hero", "at war".
GENRE_TERMS: dict[str, tuple[str, ...]] = {
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
COMPARATIVES: dict[str, tuple[str, ...]] = {
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


GENRE_RE = re.compile(rf"(?<!\w)(?:{_alternation(GENRE_TERMS)})(?!\w)", re.I)
COMPARATIVE_RE = re.compile(rf"\b(?:{_alternation(COMPARATIVES)})\b", re.I)
GENRE_LOOKUP = [(re.compile(rf"^(?:{t})$", re.I), g) for t, g in GENRE_TERMS.items()]
COMPARATIVE_LOOKUP = [(re.compile(rf"^(?:{t})$", re.I), g) for t, g in COMPARATIVES.items()]
# A negation directly before a genre word, allowing a couple of filler words ("no more horror",
# "nothing too scary", "not a cartoon") but not hedges ("not sure if it was horror").
NEGATION_BEFORE = re.compile(
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
PLOT_GENRE_WORDS = re.compile(
    r"^(?:heists?|gangsters?|mafia|mobsters?|slashers?|cowboys?|whodunn?its?|fairy[\s-]?tales?|"
    r"sword and sorcery|pixar|animes?|world war (?:ii|2|two|i|1|one)|ww(?:ii|2|i|1)|wartime)$",
    re.I,
)

# Genre words that describe a plot rather than its genre inside a long description ("the
# kids find a map", "an action scene"): used as genres only in short requests.
VAGUE_IN_STORIES = frozenset(
    """kid kids family action drama dramatic crime heist heists docs adventure adventures sf
    noir musical cowboy cowboys mafia mystery""".split()  # noqa: SIM905
)

# -- years -------------------------------------------------------------------------------------
#: A plausible release year (1880-2049).
YEAR = r"(?:18[89]\d|19\d\d|20[0-4]\d)"
DECADE_WORDS = {
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
    rf"|(?P<word>{'|'.join(DECADE_WORDS)})\b)"
)
DECADE_RE = re.compile(rf"(?<![\w'])(?:the\s+)?{_PART}{_DECADE}", re.I)
PART_YEAR_RE = re.compile(
    r"\b(?P<part>early|mid|late)[\s-]*(?:(?:to|or|-|/)[\s-]*(?P<part2>early|mid|late)[\s-]*)?"
    r"(?P<full>(?:19|20)\d0)(?:'?s)?\b",
    re.I,
)
RANGE_RE = re.compile(
    rf"\b(?:between\s+|from\s+)?(?P<a>{YEAR})s?\s*(?:-|–|to|and|until|till|through|thru)\s*"
    rf"(?P<b>{YEAR}|'?\d\d)\b(?!s)",
    re.I,
)
AFTER_RE = re.compile(
    rf"\b(?P<op>after|since|post|newer than|later than|from after|not before|no earlier than)"
    rf"[\s-]*(?:the\s+)?(?:(?P<y>{YEAR})\b(?!s)|{_PART}{_DECADE})",
    re.I,
)
BEFORE_RE = re.compile(
    rf"\b(?P<op>before|pre|prior to|older than|earlier than|until|up to|not after)"
    rf"[\s-]*(?:the\s+)?(?:(?P<y>{YEAR})\b(?!s)|{_PART}{_DECADE})",
    re.I,
)
AROUND_RE = re.compile(
    rf"\b(?:around|circa|about|approximately|roughly|c\.)\s+(?P<y>{YEAR})\b(?!s)", re.I
)
# A year that clearly dates the film ("released in 2005", "from 2005", "(2005)", "[2005]").
# Also future years ("horror from 2050"), to say they were ignored rather than drop them quietly.
DATED_YEAR_RE = re.compile(
    rf"(?:\b(?:released|came out|made|filmed|premiered|aired)\s+(?:in\s+|around\s+)?"
    rf"|\bfrom\s+|[\[(]\s*)(?P<y>{YEAR}|20[5-9]\d|21\d\d)\b(?!s)",
    re.I,
)
BARE_YEAR_RE = re.compile(rf"(?<![\w$])(?P<y>{YEAR})(?![\w%])")
LAST_YEARS_RE = re.compile(
    r"\b(?:in\s+)?(?:the\s+)?(?:last|past)\s+(?P<n>\d{1,2}|few|couple(?:\s+of)?|two|three|five|ten)"
    r"\s+years\b|\b(?:the\s+)?(?:last|past)\s+decade\b",
    re.I,
)
RECENT_RE = re.compile(
    r"\b(?:(?:fairly|pretty|very|more|most|quite|somewhat|relatively)\s+)?(?:recent|latest|"
    r"new(?=\s+(?:movies?|films?|releases?|ones?|stuff))|newish|modern|current)\b"
    r"(?:\s+(?:releases?|ones?))?",
    re.I,
)
OLD_RE = re.compile(
    r"\b(?P<w>classics?|classic (?:movies?|films?)|vintage|golden[\s-]age|silent (?:movies?|films?)"
    r"|black[\s-]and[\s-]white (?:movies?|films?)|old(?:er|ish)?(?=\s+(?:movies?|films?|ones?|"
    r"stuff|classics?))|(?:fairly|pretty|somewhat|kind of|kinda|really|very)\s+old(?:ish)?)\b",
    re.I,
)


# -- popularity --------------------------------------------------------------------------------
HIDDEN_RE = re.compile(
    r"\b(?:hidden[\s-]gems?|underrated|under[\s-]the[\s-]radar|obscure|lesser[\s-]known|"
    r"little[\s-]known|not (?:too |very |so )?(?:well[\s-]known|popular|mainstream|famous)|"
    r"unknown|underappreciated|overlooked|deep cuts?|undiscovered|niche)\b",
    re.I,
)
POPULAR_RE = re.compile(
    r"\b(?:popular|well[\s-]known|blockbusters?|mainstream|famous|crowd[\s-]pleasers?|"
    r"big[\s-]budget|box[\s-]office hits?|most watched|everyone has seen)\b",
    re.I,
)
ONLY_RE = re.compile(r"\b(?:only|just|strictly)\b", re.I)
