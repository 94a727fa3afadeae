"""Words of movie texts and requests: stopwords, the light stemmer, tokens and passages.

Shared by the BM25 index and its "matches ..." reasons; nothing here scores or ranks movies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Words that say nothing about *which* movie: request chatter ("remember", "scene") and
# words every plot uses. Removed from documents and queries alike.
_DOMAIN_STOPWORDS = frozenset(
    """movie movies film films flick scene scenes remember remembered recall think thought
    know knew watched watch watching saw seen see tv trailer maybe probably pretty really just
    like kind sort thing things stuff anyone someone help thanks thank please guy guys lot
    remembering memory vague vaguely idea sure believe actually basically definitely
    somewhat bit little time times ve ll don didn doesn isn wasn weren couldn wouldn im ive
    youre theres thats dont didnt doesnt cant wont wasnt isnt id""".split()  # noqa: SIM905
)
STOPWORDS = frozenset(ENGLISH_STOP_WORDS) | _DOMAIN_STOPWORDS
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light English stemmer: plural/possessive "s", "-ies", "-ing" and "-ed" endings.

    Deliberately conservative (no Porter step 2-5 suffix surgery): "killing"/"killed"/"kills"
    meet at "kill", "stories" at "story", but "news" or "business" stay whole.
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "os")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if len(base) >= 3 and re.search(r"[aeiouy]", base):
                if len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "lsz":
                    base = base[:-1]  # running -> run, stopped -> stop (but "falling" -> fall)
                return base
    return word


def tokenize(text: str, *, stemmer: bool = True) -> list[str]:
    """Lower-cased, stopword-free, lightly stemmed tokens of ``text``."""
    words = _TOKEN_RE.findall(str(text).lower())
    out = []
    for word in words:
        if "'" in word:
            word = word.split("'", 1)[0]
        if len(word) < 2 or word in STOPWORDS:
            continue
        out.append(stem(word) if stemmer else word)
    return out


def surface_forms(text: str, stemmer: bool) -> dict[str, str]:
    """Stem -> the first word of the request it came from (to show "killing", not "kill")."""
    out: dict[str, str] = {}
    for word in _TOKEN_RE.findall(str(text).lower()):
        word = word.split("'", 1)[0]
        if len(word) < 2 or word in STOPWORDS:
            continue
        out.setdefault(stem(word) if stemmer else word, word)
    return out


def split_passages(
    texts: Sequence[str], *, words: int = 120, overlap: int = 30, min_words: int = 150
) -> tuple[list[str], list[int]]:
    """Overlapping word windows of the long texts, with the item index each came from.

    Texts shorter than ``min_words`` are skipped: the movie vector already covers them. Each
    passage starts with the text's first sentence (title and year) so it keeps its context.
    """
    chunks: list[str] = []
    owners: list[int] = []
    step = max(1, words - overlap)
    for item, text in enumerate(texts):
        tokens = str(text).split()
        if len(tokens) < min_words:
            continue
        head = str(text).split(". ", 1)[0][:80]
        for start in range(0, max(1, len(tokens) - overlap), step):
            chunks.append(f"{head}. " + " ".join(tokens[start : start + words]))
            owners.append(item)
    return chunks, owners
