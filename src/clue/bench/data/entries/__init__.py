"""One module per BEHEMOTH dataset (or per family of datasets that differ only in name and files), each
exporting `ENTRIES`; `clue.bench.data.datasets` collects every module here, so adding a dataset is adding
one module (and its tests)."""
