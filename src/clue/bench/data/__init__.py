"""The datasets: one entry per BEHEMOTH dataset, the typed records, the loader and the train/test split."""
