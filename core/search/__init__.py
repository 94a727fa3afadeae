"""Natural-language movie search: understand a request, then find the movies it describes.

Reading order for a newcomer (each module is one concept):

Understanding a request (pure parsing, no model):
    request.py      ``parse_request``: the short orchestrator of the steps below
    parsed.py       ``ParsedRequest`` (what was understood) and ``SearchState`` (a conversation)
    cleaning.py     Reddit noise removal, consumed spans, tidying the leftover text
    vocabulary.py   the genre / decade / popularity phrase tables
    years.py        year windows ("late 90s", "after 2005", "recent")
    genres.py       genres, negations ("no horror"), comparatives ("funnier")
    references.py   title mentions ("like Alien"), typo-tolerant
    followups.py    "older", "more like the second one", merging with the previous turn

Finding movies:
    index.py        ``SearchIndex``: build / save / load, per-movie facts, BM25 and dense scores
    retrieve.py     the steps of ``SearchIndex.search``: constraints, fusion, re-ranking, lifts
    reasons.py      the short reason shown with each hit
    config.py       ``SearchConfig`` (the knobs) and ``SearchHits`` (the result)
    text.py         stopwords, stemmer, tokens, passages
    scoring.py      the one top-k rule and pool scaling every step uses
    rerank.py       the learned re-ranker of long requests (features, model, training rows)
    adapter.py      the learned request/movie vector adapter the re-ranker reads through
    ann.py          exact / faiss top-k over item vectors (two-tower retrieval)
    clusters.py     genre-combination clusters and two-stage search

Measured figures behind the learned parts: ``docs/experiments/search.md``.
"""
