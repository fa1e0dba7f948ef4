"""Measure memory by downstream utility: BEHEMOTH datasets, solvers, environments, scorers, the run record."""
