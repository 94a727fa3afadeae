"""Understanding one chat turn: what kind of turn it is and what it asks for.

Order matters and is the point of this module: title mentions are found first (their years are
spent on the titles, never used as filters), then the rest goes through the search parser of
:mod:`core.search.request` for genres, exclusions and eras; greetings, small talk, quality words
("good", "great") and filler are removed before anything is left as free text for semantic
search, so "I'm great, how are you" never searches for "great".
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.chat import lexicon as lx
from core.chat.mentions import YEAR_MENTION_RE, Mention, finders
from core.data.catalog import Catalog
from core.search.followups import NEWER_RE, OLDER_RE, ORDINAL_RE, ORDINALS
from core.search.request import parse_request

TurnKind = Literal["recommend", "identify", "refine", "smalltalk", "question", "vague"]
KINDS: tuple[str, ...] = ("recommend", "identify", "refine", "smalltalk", "question", "vague")


_HASH_RE = re.compile(r"(?:#|\bnumber\s+|\bno\.\s*)(\d{1,2})\b", re.I)
_UNKNOWN_TITLE_RE = re.compile(
    r"(?:\b(?:[A-Z0-9][\w'&:.!?-]*|of|the|a|an|and|in|on|to|for|with|at)\s+){0,7}"
    r"[A-Z0-9][\w'&:.!?-]*\s*" + YEAR_MENTION_RE.pattern
)


@dataclass
class Turn:
    """What one message says. Every slot is optional; ``kind`` says what to do with it."""

    text: str
    kind: TurnKind = "vague"
    liked: list[int] = field(default_factory=list)  # movieIds
    disliked: list[int] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    mentions: list[dict[str, Any]] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)  # any of these
    exclude_genres: list[str] = field(default_factory=list)
    prefer_genres: list[str] = field(default_factory=list)  # soft lift
    avoid_genres: list[str] = field(default_factory=list)  # soft push down
    moods: str = ""  # free text for semantic search ("vampire", "time travel")
    year_min: int | None = None
    year_max: int | None = None
    audience: str | None = None
    quality: bool = False
    popularity: str | None = None  # "popular" / "hidden"
    refine: list[str] = field(default_factory=list)  # "seen", "reject", "lighter", ...
    ordinal: int | None = None  # "#2" -> 2, "the last one" -> -1
    question: str | None = None  # field asked about a shown movie

    @property
    def has_subject(self) -> bool:
        """Whether the turn names something to recommend by (titles, people, kinds)."""
        return bool(self.liked or self.people or self.genres or self.moods or self.audience
                    or self.prefer_genres or self.year_min or self.year_max)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for logs and tests)."""
        return asdict(self)


def understand(text: str, catalog: Catalog, shown: list[int] | None = None) -> Turn:
    """Read one message; ``shown`` are the movieIds of the last answer (for follow-ups)."""
    raw = str(text or "")[:4000]
    turn = Turn(text=raw)
    if not re.search(r"\w", raw):
        turn.kind = "smalltalk"
        return turn
    if lx.IDENTIFY_RE.search(raw) or _looks_like_story(raw):
        turn.kind = "identify"
        return turn
    titles, people = finders(catalog)
    mentions = titles.find(raw)
    _take_mentions(turn, mentions)
    rest = _blank(raw, [(m.start, m.end) for m in mentions])
    # A title we could not match ("Some Film (1990)"): its words and year are dropped, never
    # a year filter nor search words.
    rest = _UNKNOWN_TITLE_RE.sub(" ", rest)
    rest = YEAR_MENTION_RE.sub(" ", rest)
    for name, written in people.find(rest):
        turn.people.append(name)
        rest = re.sub(re.escape(written), " ", rest, flags=re.I)
    _read_follow_up(turn, rest, shown or [])
    _read_audience(turn, rest)
    _read_constraints(turn, rest, catalog)
    turn.kind = _kind(turn, rest, bool(shown))
    return turn


def _take_mentions(turn: Turn, mentions: list[Mention]) -> None:
    for mention in mentions:
        turn.mentions.append({"movieId": mention.movie_id, "title": mention.title,
                              "sentiment": mention.sentiment})  # fmt: skip
        target = turn.disliked if mention.sentiment == "disliked" else turn.liked
        if mention.movie_id not in target:
            target.append(mention.movie_id)
        if mention.sentiment == "seen" and mention.movie_id not in turn.seen:
            turn.seen.append(mention.movie_id)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _looks_like_story(text: str) -> bool:
    """A recollection ("I remember a movie where...") or a long plot description without a
    recommendation wish reads as "which movie is it". Chat naming "Title (year)" is not."""
    if YEAR_MENTION_RE.search(text):
        return False
    n_words = len(text.split())
    memory = bool(lx.MEMORY_RE.search(text))
    if n_words >= lx.NARRATIVE_WORDS:
        return memory or not lx.WISH_RE.search(text)
    return memory and n_words >= 12 and not lx.ASK_FOR_PICKS_RE.search(text)


def _read_follow_up(turn: Turn, rest: str, shown: list[int]) -> None:
    """Refinements and questions that point at the last answer."""
    if lx.LIGHTER_RE.search(rest):
        turn.refine.append("lighter")  # "something feel-good" asks for it in a first turn too
    if not shown:
        return
    for match in ORDINAL_RE.finditer(rest):
        if match.group("word"):
            turn.ordinal = ORDINALS[match.group("word").lower()]
        else:
            turn.ordinal = int(match.group("num"))
        if re.search(r"like|than|similar", match.group(0), re.I):
            turn.refine.append("more_like")
        break
    if turn.ordinal is None and (hash_match := _HASH_RE.search(rest)):
        turn.ordinal = int(hash_match.group(1))  # "is #3" (no word boundary before "#")
        if re.search(r"\b(?:like|than|similar\s+to)\s*$", rest[: hash_match.start()], re.I):
            turn.refine.append("more_like")
    if lx.QUESTION_START.search(rest) or rest.rstrip().endswith("?"):
        for pattern, name in lx.QUESTION_FIELDS:
            if pattern.search(rest) and (turn.ordinal is not None or re.search(
                    r"\b(?:it|that|this|the\s+\w+\s+one|them)\b", rest, re.I)):  # fmt: skip
                turn.question = name
                break
    checks = ((lx.SEEN_RE, "seen"), (lx.REJECT_RE, "reject"),
              (lx.DARKER_RE, "darker"), (OLDER_RE, "older"), (NEWER_RE, "newer"),
              (lx.MORE_RE, "more"))  # fmt: skip
    for pattern, name in checks:
        if pattern.search(rest) and name not in turn.refine:
            turn.refine.append(name)


def _read_audience(turn: Turn, rest: str) -> None:
    for pattern, audience in lx.AUDIENCE_RE:
        if pattern.search(rest):
            turn.audience = audience
            prefer, avoid = lx.AUDIENCES[audience]
            turn.prefer_genres += [g for g in prefer if g not in turn.prefer_genres]
            turn.avoid_genres += [g for g in avoid if g not in turn.avoid_genres]
            return


def _read_constraints(turn: Turn, rest: str, catalog: Catalog) -> None:
    """Genres, exclusions, eras and popularity via the search parser; moods from what is left."""
    for pattern, _ in lx.AUDIENCE_RE:
        rest = pattern.sub(" ", rest)
    if "lighter" in turn.refine:
        turn.prefer_genres += [g for g in lx.LIGHTER[0] if g not in turn.prefer_genres]
        turn.avoid_genres += [g for g in lx.LIGHTER[1] if g not in turn.avoid_genres]
        rest = lx.LIGHTER_RE.sub(" ", rest)
    for pattern in (lx.SEEN_RE, lx.REJECT_RE, lx.DARKER_RE, ORDINAL_RE, _HASH_RE):
        rest = pattern.sub(" ", rest)
    rest = lx.DISLIKE_GENRE_RE.sub(" no ", rest)
    parsed = parse_request(rest, catalog)
    turn.genres = list(parsed.include_genres)
    turn.exclude_genres = list(parsed.exclude_genres)
    turn.prefer_genres += [g for g in parsed.prefer_genres if g not in turn.prefer_genres]
    turn.year_min, turn.year_max = parsed.year_min, parsed.year_max
    turn.popularity = parsed.popularity
    if "darker" in turn.refine:
        turn.avoid_genres += [g for g in lx.LIGHTER[0][:2] if g not in turn.avoid_genres]
    leftover = lx.SMALLTALK_RE.sub(" ", parsed.text)
    turn.quality = bool(lx.QUALITY_RE.search(lx.SMALLTALK_RE.sub(" ", rest)))
    turn.moods = _content_words(leftover)


def _content_words(text: str) -> str:
    """Words worth a semantic search: no quality words, filler, wishes or small talk."""
    text = lx.QUALITY_RE.sub(" ", text)
    text = lx.WISH_RE.sub(" ", text)
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", text) if w.lower() not in lx.STOP_WORDS]
    words = [w for w in words if len(w) > 2 or w.isupper()]
    return " ".join(words[:16])


def _kind(turn: Turn, rest: str, has_shown: bool) -> TurnKind:
    if has_shown and turn.question:
        return "question"
    new_subject = bool(turn.liked or turn.people or turn.genres or turn.moods or turn.audience)
    refining = bool(turn.refine or turn.exclude_genres or turn.disliked or turn.ordinal)
    if has_shown and refining and not new_subject:
        return "refine"
    if has_shown and (turn.refine or turn.ordinal) and len(rest.split()) <= 8:
        return "refine"
    if turn.has_subject or turn.exclude_genres or turn.disliked or turn.popularity:
        return "recommend"
    if lx.WISH_RE.search(rest) or turn.quality:
        return "vague"
    if has_shown and turn.refine:
        return "refine"
    if not lx.SMALLTALK_RE.sub(" ", rest).strip(" \t\n,.!?;:-()'\""):
        return "smalltalk"
    return "vague"
