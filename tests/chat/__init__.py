"""Tests of the everyday chat (core.chat) and its evaluation (core.evaluation.chat)."""
