"""`clue study plan` numbers against counts made by hand from the real BEHEMOTH files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from clue.cli import app
from clue.config import load_settings
from clue.memory.prompts import builtin_prompt_text
from clue.memory.render import extraction_user_turn
from clue.study.cells import build_cells
from clue.study.plan import SOLVER_SYSTEM_TOKENS, make_plan
from clue.study.spec import read_study_file

GAME = "data_collection/train/GameOf24/openai/Qwen3-32B"


def _hand_picked_game24(data_root: Path, n: int) -> list[tuple[dict, dict]]:
    """The first n GameOf24 test sources (ids not in the split file's train ids), with their first target."""
    split = json.loads((data_root / "data_collection/train/global_split_per20.json").read_text())
    train = next(set(e["train_source_ids"]) for e in split["datasets"] if e["name"] == "GameOf24")
    sources = [json.loads(line) for line in (data_root / GAME / "source_input.jsonl").open()]
    targets = {t["id"]: t for t in map(json.loads, (data_root / GAME / "target.jsonl").open())}
    test = sorted((s for s in sources if s["id"] not in train), key=lambda s: s["id"])
    return [(s, targets[s["target_ids"][0]]) for s in test[:n]]


def _study(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(body + '\n[llm]\nbackend = "openai"\nmodel = "m"\n[llm.extractor]\nmax_tokens = 1000\n'
                           '[llm.solver]\nmax_tokens = 300\n[llm.judge]\nmax_tokens = 50\n')
    return path


def test_plan_matches_hand_counts_on_real_files(tmp_path: Path, data_root: Path) -> None:
    path = _study(tmp_path, 'datasets = ["GameOf24", "longmemeval"]\nprompts = ["simple", "no-memory"]\nlimit = 2')
    study = read_study_file(path)
    settings = load_settings(None, env={}, cli={"backend": "openai", "model": "m"},
                             role_overrides={"extractor": {"max_tokens": 1000}, "solver": {"max_tokens": 300},
                                             "judge": {"max_tokens": 50}})
    plan = make_plan(study, build_cells(study, tmp_path / "out", tmp_path), settings, data_root, None,
                     lambda _: None)
    by_name = {p.cell.name: p for p in plan.cells}
    game = by_name["simple--GameOf24"]
    picked = _hand_picked_game24(data_root, 2)
    assert (game.pairs, game.repeats, game.rollouts) == (2, 3, 6)  # fewer than 200 pairs: 3 repeats
    prompt_chars = len(builtin_prompt_text("simple"))
    extract_prompt = sum(prompt_chars + len(extraction_user_turn(s["messages"])) for s, _ in picked) / 4 / 2
    extractor = game.roles["extractor"]
    assert extractor.calls == 6 and extractor.completion_tokens == 6 * 1000
    assert abs(extractor.prompt_tokens - 6 * extract_prompt) < 0.01 * extractor.prompt_tokens
    solver = game.roles["solver"]
    target_tokens = sum(len(json.dumps(t)) for _, t in picked) / 4 / 2
    assert solver.calls == 6 and solver.completion_tokens == 6 * 300
    expected_solver_prompt = 6 * (SOLVER_SYSTEM_TOKENS + target_tokens + 1000)  # the memory is at most 1000 tokens
    assert abs(solver.prompt_tokens - expected_solver_prompt) < 0.02 * expected_solver_prompt
    assert "judge" not in game.roles and "extractor" not in by_name["no-memory--GameOf24"].roles
    lme = by_name["simple--longmemeval"]
    assert (lme.pairs, lme.repeats, lme.cell.split) == (2, 1, "ood")  # LongMemEval: one repeat, judged
    assert lme.roles["judge"].calls == 2 and lme.roles["judge"].completion_tokens == 2 * 50
    assert plan.rollouts == 2 * (6 + 2)
    total = plan.totals()
    assert total["extractor"].calls == 6 + 2 and total["solver"].calls == 2 * (6 + 2)


def test_plan_command_prints_cells_totals_and_time(tmp_path: Path, data_root: Path) -> None:
    path = _study(tmp_path, 'datasets = ["GameOf24"]\nprompts = ["simple"]\n')
    result = CliRunner().invoke(app, ["--data-root", str(data_root), "study", "plan", str(path),
                                      "--tokens-per-s", "1000"])
    assert result.exit_code == 0, result.output
    assert "simple--GameOf24" in result.output and "80 x 3" in result.output  # 100 sources, 20 train
    total = re.search(r"total: 1 cells, 240 rollouts; .* ([\d,]+) tokens = ([\d.]+) (min|h) at 1000", result.output)
    assert total is not None, result.output
    tokens = int(total.group(1).replace(",", ""))
    minutes = float(total.group(2)) * (60 if total.group(3) == "h" else 1)
    assert abs(minutes - tokens / 1000 / 60) < 0.1 * minutes + 0.1
    assert not list(tmp_path.glob("study-out*")), "plan writes nothing"
