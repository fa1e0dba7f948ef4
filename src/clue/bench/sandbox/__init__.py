"""Model-written code runs here only: bubblewrap isolation with resource limits, and BigCodeBench on top of it."""
