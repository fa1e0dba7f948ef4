"""Running rollouts and recording them: the runner, the rollout store, the run log, results."""
