"""Movie scorers ("signals"): each fits on a catalogue and scores every movie for a query.

A map for newcomers; this package imports nothing itself. ``base`` (the Scorer interface and
shared helpers), ``history`` (the ratings a fitted scorer keeps), ``popularity``, ``genre_tag``,
``encoder`` + ``semantic``, ``crew``, ``metadata``, ``ranking/`` (EASE, ALS), ``recent`` (the
collaborative ranker led by the latest ratings), ``factors`` (a few-factor ALS beside EASE),
``rating/`` (SVD, kNN, Bayesian MF, their blend), ``twotower/``; ``numeric`` holds the
single-threaded per-query products.
Measured figures behind the defaults: ``docs/experiments/signals.md``.
"""
