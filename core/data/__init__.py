"""Movie data in, a :class:`~core.data.catalog.Catalog` out: loading, cleaning, text, synthetic.

Nothing here scores, ranks or serves. Where each step lives (start at :mod:`.loaders`):

* :mod:`.catalog` -- the ``Catalog`` and ``LoadReport`` types and title spellings;
* :mod:`.layouts` -- which MovieLens layout a folder is in, catalogue names, "Title (1995)";
* :mod:`.readers` -- robust CSV / ``::`` / text reading with pyarrow, the genome files;
* :mod:`.clean` -- ids, scales, duplicates and tags checked and counted into a catalogue;
* :mod:`.loaders` -- :func:`~core.data.loaders.load_catalog`, which runs the steps above;
* :mod:`.sources` -- offline TMDB / Wikipedia files (fetched once from pinned wheels);
* :mod:`.enrich` -- those texts matched to movies, and the per-movie text for search;
* :mod:`.titles` -- typo-tolerant title lookup;
* :mod:`.synth` -- synthetic MovieLens-style folders for benchmarks.
"""
