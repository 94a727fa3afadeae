"""Everyday movie chat: understand a turn, keep the dialogue state, rank and reply.

``Chat(engine).respond(text, state, user_id=None, top=10) -> ChatAnswer`` is the entry point
(:mod:`core.chat.conversation`); :func:`core.chat.turn.understand` reads one message.
"""

from core.chat.conversation import Chat, ChatAnswer, Conversation
from core.chat.state import ChatState
from core.chat.turn import Turn, understand

__all__ = ["Chat", "ChatAnswer", "ChatState", "Conversation", "Turn", "understand"]
