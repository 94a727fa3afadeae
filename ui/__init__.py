"""The Streamlit app's shared building blocks, one module per concern (engine lifecycle,
session state, formatting, sidebar, movie widgets, chat, charts, evaluation files).

Pages in ``pages/`` lay out widgets and call these modules; nothing here ranks, scores or
aggregates data: that is the core's job (:mod:`core.serving.engine`, :mod:`core.serving.explore`).
"""
