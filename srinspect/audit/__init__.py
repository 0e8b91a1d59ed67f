"""Whole-capture audits over the core: the sequential loop (``sequential``), the process
pool (``pool``) and Dask (``distributed``) that split files on record boundaries
(``split``), the on-disk finding store they merge through (``findingstore``), input
opening for local files and fsspec URLs (``inputs``) and the progress bar (``progress``)."""
