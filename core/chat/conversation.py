"""One chat turn end to end: understand it, update the dialogue state, answer.

``Chat(engine).respond(text, state)`` is what the Ask page, the CLI and the evaluation call
(one :class:`Chat` per engine: its ranker's matrices are built once). Identification
requests ("what's the movie where...") go to today's :meth:`Engine.search` unchanged; everyday
requests are ranked from the dialogue state by :mod:`core.chat.rank`; vague turns and small
talk get a short question back with clickable suggestions and a few crowd-pleasers; questions
about a shown movie are answered from the catalogue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.chat import reply as rp
from core.chat.rank import ChatRanker, RankWeights, combine
from core.chat.state import ChatState
from core.chat.turn import Turn, understand
from core.serving.blend import Blend, results_frame, top_items
from core.serving.threads import one_blas_thread

#: Weights chosen by ``core.evaluation.chat.tune`` on all 564 ReDial dev requests (coordinate ascent
#: from ``RankWeights()``). That procedure measured held out (5-fold CV over requests, weights
#: chosen on 4/5): Recall@10 0.132, Hit@10 0.247; in-sample 0.133 / 0.255. EASE gets 0: the
#: co-rating cosine alone did as well (0.133 vs 0.130 with EASE in its place). The short
#: recency (2 years) reflects ReDial's 2017-18 requests; see docs/chat.md.
DEFAULT_WEIGHTS = RankWeights(
    cooc=0.5, ease=0.0, content=0.3, story=0.2, text=0.2, genre=2.0, person=0.5, prefer=0.3,
    avoid=0.8, user=0.5, disliked=0.3, prior=1.0, prior_alone=1.0, recency=0.75, quality=0.5,
    recency_years=2.0, trend=0.0,
)  # fmt: skip


@dataclass
class ChatAnswer:
    """An answer: its kind, the movies (``core.serving.blend.results_frame`` columns), the words."""

    kind: str
    items: pd.DataFrame
    reply: str
    suggestions: list[str] = field(default_factory=list)
    understood: list[str] = field(default_factory=list)
    state: ChatState = field(default_factory=ChatState)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Chat:
    """The chat of one engine: understands each message and answers it from the dialogue
    state. The ranker's item-item matrices are built once here (a few hundred ms), so keep
    one ``Chat`` per engine (the app keeps it beside the engine; the CLI makes one)."""

    def __init__(self, engine: Any, weights: RankWeights | None = None) -> None:
        self.engine = engine
        self.ranker = ChatRanker(engine)
        self.weights = weights or DEFAULT_WEIGHTS

    @one_blas_thread  # its ranker's products are per-request sized, as the engine's are
    def respond(
        self,
        text: str,
        state: ChatState | dict[str, Any] | None = None,
        user_id: int | None = None,
        top: int = 10,
        weights: RankWeights | None = None,
        clusters: int = 0,
    ) -> ChatAnswer:
        """Answer one message; ``state`` is not modified (the answer holds the new one).

        ``clusters > 0`` makes an identification search look only in the genre clusters
        nearest the request first (:meth:`Engine.search`'s two stages)."""
        started = time.perf_counter()
        engine, ranker = self.engine, self.ranker
        state = ChatState.from_dict(state.to_dict() if isinstance(state, ChatState) else state)
        turn = understand(text, engine.catalog, shown=state.shown)
        kind = turn.kind
        if kind == "identify":
            answer = _identify(engine, text, state, user_id, top, clusters)
        elif kind == "question":
            answer = _question(engine, ranker, turn, state)
        else:
            if kind == "refine":
                _apply_refine(ranker, turn, state)
            if kind in ("recommend", "refine"):
                state.absorb(turn)
            answer = _recommend(engine, ranker, turn, state, user_id, top,
                                weights or self.weights)  # fmt: skip
        answer.seconds = time.perf_counter() - started
        return answer


class Conversation:
    """A conversation held in memory (the CLI's; the app keeps ``state.to_dict()`` itself)."""

    def __init__(self, chat: Chat, user_id: int | None = None) -> None:
        self.chat = chat
        self.user_id = user_id
        self.state = ChatState()

    def say(self, text: str, top: int = 10) -> ChatAnswer:
        """Answer ``text`` and remember the new state."""
        answer = self.chat.respond(text, self.state, self.user_id, top)
        self.state = answer.state
        return answer


def _identify(
    engine: Any, text: str, state: ChatState, user_id: int | None, top: int, clusters: int = 0
) -> ChatAnswer:
    known = user_id if user_id is not None and engine.known_user(user_id) else None
    found = engine.search(text, user_id=known, top=top, clusters=clusters)
    state.remember_shown(found.items["movieId"].tolist())
    return ChatAnswer("identify", found.items, found.reply(), [], found.understood, state,
                      list(found.notes))  # fmt: skip


def _question(engine: Any, ranker: ChatRanker, turn: Turn, state: ChatState) -> ChatAnswer:
    index = (turn.ordinal or 1) - 1 if (turn.ordinal or 1) > 0 else len(state.shown) - 1
    index = min(max(index, 0), len(state.shown) - 1)
    movie_id = state.shown[index]
    text = rp.answer_question(turn.question or "plot", movie_id, engine.catalog)
    items = np.asarray(ranker.items_of([movie_id]), dtype=np.int64)
    blend = Blend(np.zeros(ranker.n_items, np.float32), {}, {})
    frame = results_frame(engine.catalog, items, blend, ["you asked about this one"])
    return ChatAnswer("question", frame, text, [], [f"about #{index + 1}"], state)


def _target(turn: Turn, state: ChatState) -> list[int]:
    """The movies a "seen it" / "not that one" points at: named ones, "#n", else the top."""
    if turn.liked or turn.seen:
        return list(dict.fromkeys(turn.liked + turn.seen))
    if turn.ordinal is not None and state.shown:
        index = turn.ordinal - 1 if turn.ordinal > 0 else len(state.shown) - 1
        if 0 <= index < len(state.shown):
            return [state.shown[index]]
    return state.shown[:1]


def _apply_refine(ranker: ChatRanker, turn: Turn, state: ChatState) -> None:
    """Turn follow-up words into state changes before the turn's own slots are absorbed."""
    if "seen" in turn.refine:
        targets = _target(turn, state)
        state.seen += [m for m in targets if m not in state.seen]
        turn.liked = [m for m in turn.liked if m not in targets]
    if "reject" in turn.refine:
        targets = _target(turn, state)
        state.rejected += [m for m in targets if m not in state.rejected]
        turn.liked = [m for m in turn.liked if m not in targets]
    if "more_like" in turn.refine and turn.ordinal is not None and state.shown:
        index = turn.ordinal - 1 if turn.ordinal > 0 else len(state.shown) - 1
        if 0 <= index < len(state.shown):
            turn.liked.append(state.shown[index])
    if "more" in turn.refine:
        state.rejected += [m for m in state.shown if m not in state.rejected]
    if "older" in turn.refine or "newer" in turn.refine:
        years = ranker.years[ranker.items_of(state.shown)]
        years = years[np.isfinite(years)]
        pivot = int(np.median(years)) if len(years) else ranker.latest_year - 15
        if "older" in turn.refine:
            state.year_min, state.year_max = None, pivot - 1
        else:
            state.year_min, state.year_max = pivot + 1, None


def rank_state(
    ranker: ChatRanker,
    state: ChatState,
    user_id: int | None,
    weights: RankWeights,
    quality: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Final scores (``-inf`` where not allowed), the signals and the prior for a state."""
    signals = ranker.signals(state, user_id, weights)
    prior = ranker.prior(weights, quality or state.quality)
    final = combine(signals, prior, weights, state.has_subject)
    final = np.where(ranker.mask(state, user_id), final, -np.inf).astype(np.float32)
    return final, signals, prior


def _recommend(
    engine: Any,
    ranker: ChatRanker,
    turn: Turn,
    state: ChatState,
    user_id: int | None,
    top: int,
    weights: RankWeights,
) -> ChatAnswer:
    kind = turn.kind
    if kind == "smalltalk" and state.turns > 0:
        empty = _frame(engine, np.empty(0, np.int64), {}, np.zeros(0), weights)
        return ChatAnswer(kind, empty, "You're welcome! Ask for more whenever you like.", [],
                          [], state)  # fmt: skip
    final, signals, prior = rank_state(ranker, state, user_id, weights)
    items = top_items(final, top)
    frame = _frame(engine, items, signals, prior, weights, final, state.liked)
    state.remember_shown(frame["movieId"].tolist())
    notes = [] if len(frame) else ["Nothing passes all of that; try fewer constraints."]
    if user_id is not None and not engine.known_user(user_id):
        notes.append(f"User {user_id} has no ratings here, so these are not personalised.")
    return ChatAnswer(kind, frame, rp.opener(kind, state, turn, engine.catalog),
                      rp.suggestions(kind, state), rp.understood(state, turn, engine.catalog),
                      state, notes)  # fmt: skip


#: Chat signal -> the product's signal column it is shown under.
_SHOWN_AS = {"cooc": "collab", "ease": "collab", "user": "collab", "content": "genre_tag",
             "genre": "genre_tag", "prefer": "genre_tag", "story": "semantic",
             "text": "semantic", "person": "crew"}  # fmt: skip
_REASONS = {"cooc": "people who liked {seed} also liked this", "ease": "fans of {seed} like it",
            "user": "fits your ratings", "content": "similar genres and tags to {seed}",
            "genre": "the genre you asked for", "prefer": "fits who it's for",
            "story": "similar story to {seed}", "text": "close to what you described",
            "person": "with the people you named", "prior": "a well-loved pick"}  # fmt: skip


def _frame(
    engine: Any,
    items: np.ndarray,
    signals: dict[str, np.ndarray],
    prior: np.ndarray,
    weights: RankWeights,
    final: np.ndarray | None = None,
    liked: list[int] | None = None,
) -> pd.DataFrame:
    """The results table, with each pick's strongest part as its reason."""
    n = engine.catalog.n_items
    w = weights.to_dict()
    weighted = {
        k: v * float(w.get(k, 0.0)) for k, v in signals.items() if k not in ("avoid", "disliked")
    }
    if len(prior):
        weighted["prior"] = prior * weights.prior
    parts: dict[str, np.ndarray] = {}
    for name, values in weighted.items():
        shown = _SHOWN_AS.get(name, "popularity")
        parts[shown] = parts.get(shown, np.zeros(n, np.float32)) + values
    seeds = " and ".join(engine.catalog.title_of(m) for m in (liked or [])[:2])
    reasons = []
    for item in items.tolist():
        best = max(weighted, key=lambda k: float(weighted[k][item])) if weighted else "prior"
        reasons.append(
            _REASONS.get(best, "a well-loved pick").replace("{seed}", seeds or "your picks")
        )
    final = final if final is not None else np.zeros(n, np.float32)
    return results_frame(engine.catalog, items, Blend(final, parts, {}), reasons)
