"""Studies: a grid of eval and evolve runs (`clue study plan|run|tables`)."""
