"""The study's grid as cells: each cell is one ordinary run directory under `DIR/cells/`.

Cells, in the order they run:
- `PROMPT--DATASET`: a static prompt evaluated on one dataset (`clue eval`, split test or ood);
- `METHOD-sSEED`: one optimizer run at the study's budget (`clue evolve`, trained on the ID datasets);
- `METHOD-sSEED--DATASET`: that run's best prompt evaluated on one dataset, ID and OOD, like the static ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from clue.bench.data.datasets import DatasetSpec
from clue.memory.prompts import BUILTIN_PROMPTS, NO_MEMORY
from clue.study.spec import BestOf, Optimizer, StudyFile, prompt_label, selected_datasets, split_of, wanted_datasets

CellKind = Literal["eval", "evolve"]
BEST_PROMPT = "best_prompt.txt"


@dataclass(frozen=True)
class Cell:
    name: str
    kind: CellKind
    datasets: tuple[str, ...]
    split: str  # test | ood for eval cells; train for evolve cells
    prompt: str = ""  # eval: the label shown in tables (static prompt or METHOD-sSEED)
    prompt_arg: str = ""  # eval: what `--prompt` gets (name or file)
    optimizer: Optimizer | None = None
    seed: int | None = None
    after: str | None = None  # an evolve cell that must finish first (its best prompt is this cell's prompt)
    extra: tuple[str, ...] = field(default=())

    @property
    def group(self) -> Literal["static", "optimizer", "evolve"]:
        return "evolve" if self.kind == "evolve" else ("optimizer" if self.after else "static")


def cells_dir(out: Path) -> Path:
    return out / "cells"


def _prompt_arg(entry: str | BestOf, base: Path) -> str:
    if isinstance(entry, BestOf):
        root = entry.best_of if entry.best_of.is_absolute() else base / entry.best_of
        return str(root / BEST_PROMPT)
    if entry in (NO_MEMORY, *BUILTIN_PROMPTS):
        return entry
    return str((base / entry) if (base / entry).is_file() else Path(entry).resolve())


def _eval_cells(study: StudyFile, specs: list[DatasetSpec], base: Path, repeats: tuple[str, ...]) -> list[Cell]:
    cells: list[Cell] = []
    for entry in study.prompts:
        label = prompt_label(entry)
        for spec in specs:
            cells.append(Cell(name=f"{label}--{spec.name}", kind="eval", datasets=(spec.name,),
                              split=split_of(spec), prompt=label, prompt_arg=_prompt_arg(entry, base),
                              extra=repeats))
    return cells


def _budget_flags(optimizer: Optimizer) -> tuple[str, ...]:
    flags: list[str] = []
    for name in ("budget_rollouts", "budget_tokens", "budget_calls"):
        value = getattr(optimizer, name)
        if value is not None:
            flags += [f"--{name.replace('_', '-')}", str(value)]
    for key, value in optimizer.settings.items():
        flag = f"--{key.replace('_', '-')}"
        flags += [flag] if value is True else [] if value is False else [flag, str(value)]
    return tuple(flags)


def _optimizer_cells(study: StudyFile, specs: list[DatasetSpec], out: Path, base: Path,
                     repeats: tuple[str, ...], executor: tuple[str, ...]) -> list[Cell]:
    train = tuple(spec.name for spec in wanted_datasets(study) if not spec.ood)
    cells: list[Cell] = []
    if not train:
        return cells
    limit = ("--test-limit", str(study.limit)) if study.limit else ()
    for optimizer in study.optimizers:
        for seed in optimizer.seeds:
            run = f"{optimizer.method}-s{seed}"
            seed_prompt = _prompt_arg(optimizer.seed_prompt, base)
            cells.append(Cell(name=run, kind="evolve", datasets=train, split="train", prompt=run,
                              prompt_arg=seed_prompt, optimizer=optimizer, seed=seed,
                              extra=(*_budget_flags(optimizer), *limit, *executor)))
            best = str(cells_dir(out) / run / BEST_PROMPT)
            cells += [Cell(name=f"{run}--{spec.name}", kind="eval", datasets=(spec.name,), split=split_of(spec),
                           prompt=run, prompt_arg=best, optimizer=optimizer, seed=seed, after=run, extra=repeats)
                      for spec in specs]
    return cells


def build_cells(study: StudyFile, out: Path, base: Path, *, executor: tuple[str, ...] = ()) -> list[Cell]:
    """Every cell of the study, in run order. `base` resolves relative prompt files and best_of runs;
    `executor` are `--executor` options for every cell, which do not change what a cell computes."""
    specs = selected_datasets(study)
    eval_flags = (*(("--repeats", str(study.repeats)) if isinstance(study.repeats, int) else ()), *executor)
    return [*_eval_cells(study, specs, base, eval_flags),
            *_optimizer_cells(study, specs, out, base, eval_flags, executor)]


def cell_command(cell: Cell, run_dir: Path, *, limit: int | None, resume: bool) -> list[str]:
    """The `clue` arguments (after the global options) that run `cell` into `run_dir`."""
    tail = [*cell.extra, "--out", str(run_dir), *(["--resume"] if resume else [])]
    if cell.kind == "evolve":
        assert cell.optimizer is not None and cell.seed is not None
        return ["evolve", "--method", cell.optimizer.method, "--seed-prompt", cell.prompt_arg,
                "--datasets", ",".join(cell.datasets), "--seed", str(cell.seed), *tail]
    return ["eval", "--prompt", cell.prompt_arg, "--datasets", ",".join(cell.datasets), "--split", cell.split,
            *(["--limit", str(limit)] if limit else []), *tail]
