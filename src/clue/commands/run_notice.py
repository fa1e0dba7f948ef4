"""The line a run starts with: which model serves each role, and for the embedded CPU model an estimate of
the time the run will take (an evaluation of real BEHEMOTH sources on it takes hours, and says so)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.markup import escape

from clue.bench.data.records import Pair
from clue.config import Role, RoleConfig, Settings

# Measured prefill / decode tokens per second on an idle 2-core VM (README, "What to expect").
EMBEDDED_SPEED: dict[str, tuple[float, float]] = {
    "qwen2.5-coder-1.5b": (38.8, 15.9),
    "qwen2.5-coder-0.5b": (94.5, 31.7),
    "smollm2-135m": (183.7, 66.0),
}
CHARS_PER_TOKEN = 4.0
SOLVER_PROMPT_TOKENS = 600  # instructions, memory and the target question, beside the source
WARN_AFTER_S = 15 * 60
FAST_MODEL = "smollm2-135m"


def say(line: str) -> None:
    """An information line on standard error (standard output keeps the tables)."""
    from clue.commands.common import err_console

    err_console.print(escape(line), highlight=False, soft_wrap=True)


def where(config: RoleConfig) -> str:
    if config.backend == "local":
        return f"{config.model} (embedded, on this CPU)"
    if config.backend == "openai":
        return f"{config.model} at {config.base_url or 'api.openai.com'}"
    return f"{config.model} ({config.backend})"


def models_line(settings: Settings, roles: Sequence[Role]) -> str:
    """`models: extractor, solver: X at URL; judge: Y (embedded, on this CPU)`, roles sharing a model together."""
    by_place: dict[str, list[str]] = {}
    for role in roles:
        by_place.setdefault(where(settings.role(role)), []).append(role)
    return "models: " + "; ".join(f"{', '.join(names)}: {place}" for place, names in by_place.items())


def embedded_seconds(settings: Settings, pairs: Sequence[Pair], repeats: dict[str, int]) -> float:
    """A lower estimate of the run's time on the embedded model: each rollout's extraction (its source
    prefilled, a full reply decoded) and one solver reply, one rollout at a time; 0 when no role is local."""
    total = 0.0
    for role in ("extractor", "solver"):
        config = settings.role(role)
        if config.backend != "local":
            continue
        prefill, decode = EMBEDDED_SPEED.get(config.model, EMBEDDED_SPEED["qwen2.5-coder-1.5b"])
        for pair in pairs:
            source = sum(len(turn.content) for turn in pair.source_messages) / CHARS_PER_TOKEN
            prompt = source if role == "extractor" else SOLVER_PROMPT_TOKENS
            total += repeats.get(pair.dataset, 1) * (prompt / prefill + config.max_tokens / decode)
    return total


def announce_run(settings: Settings, pairs: Sequence[Pair], repeats: dict[str, int], *,
                 say: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """Print the models line; warn when the embedded model will take long, with the faster ways."""
    say(models_line(settings, ("extractor", "solver", "judge")))
    seconds = embedded_seconds(settings, pairs, repeats)
    if seconds < WARN_AFTER_S:
        return
    rollouts = sum(repeats.get(pair.dataset, 1) for pair in pairs)
    model = settings.role("extractor").model
    quick = "--limit 2" if model == FAST_MODEL else f"--model {FAST_MODEL} --limit 2"
    warn(f"{rollouts} rollouts on the embedded {model} take roughly {_duration(seconds)} or more on this CPU; "
         f"a quick check: {quick}; real runs: an endpoint (--backend openai --base-url URL --model NAME)")


def _duration(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 60:.0f} minutes"
