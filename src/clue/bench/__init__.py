"""Measure memory by downstream utility: BEHEMOTH's datasets, their solvers, environments and scorers, and the run record."""
