"""Request text hygiene: Reddit noise removed before parsing, constraint words after it.

:func:`clean_request` strips tags, URLs and "thanks in advance"; :class:`Spans` records what the
parser consumed; :func:`finish_text` tidies what is left for retrieval. No constraint parsing here.
"""

from __future__ import annotations

import re

import numpy as np

from core.data.rawtext import INVISIBLE_PATTERN

#: Longest request text parsed; longer input is cut (a Reddit post rarely needs more).
MAX_CHARS = 20_000

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
#: Nothing a request means (controls, bidirectional overrides): each becomes a space.
_INVISIBLE_RE = re.compile(INVISIBLE_PATTERN)


def clean_request(text: str) -> str:
    """Strip Reddit noise: [TOMT]/[Movie] tags, URLs, markdown, "thanks in advance", ...

    Bracketed tags that carry information ("[late 90s]", "[2005]") keep their content.
    """
    text = _INVISIBLE_RE.sub(" ", str(text or "")[:MAX_CHARS])

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


class Spans:
    """Character spans of the request that constraints consumed (removed from the free text)."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []

    def add(self, start: int, end: int) -> None:
        """Mark ``text[start:end]`` as consumed."""
        self.spans.append((start, end))

    def taken(self, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` overlaps a consumed span."""
        return any(s < end and start < e for s, e in self.spans)

    def remove_from(self, text: str) -> str:
        """``text`` with every consumed span blanked (same length, so offsets stay valid)."""
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


def finish_text(text: str) -> str:
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
