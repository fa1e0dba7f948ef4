"""`clue demo`: its report, its one-sentence verdicts with their intervals, its seed; end to end on SmolLM2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clue.bench.data.demo import load_demo_pairs, split_demo
from clue.bench.run.rollouts import Rollout, read_rollouts
from clue.cli import app
from clue.commands.demo_summary import evolution_sentence, macro_with_ci, memory_sentence


def compared_runs(html: str) -> list[str]:
    """The run names heading the rows of the report's comparison table."""
    start = html.index('id="comparison-table"')
    return re.findall(r"<tr><th>(.*?)</th>", html[start:html.index("</table>", start)])[1:]


def test_demo_writes_its_report_and_prints_the_path(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "demo", "--no-evolve", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = out / "report.html"
    assert f"report: {report}" in result.output.replace("\n", "")
    html = report.read_text(encoding="utf-8")
    assert compared_runs(html) == ["no-memory", "simple"]
    ran = sum(len(read_rollouts(out / name / "rollouts.jsonl")) for name in ("no-memory", "simple"))
    assert f"{ran} rollouts." in html
    assert not (out / "factual-experiential").exists()


def test_demo_compares_another_static_prompt_only_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["--backend", "scripted", "--no-cache", "demo", "--no-evolve", "--held-out", "3", "--out", str(out)]
    refused = CliRunner().invoke(app, [*args, "--compare", "no-such-prompt"])
    assert refused.exit_code == 2 and "--compare 'no-such-prompt'" in refused.output
    assert not out.exists()  # refused before anything was written
    negative = CliRunner().invoke(app, [*args[:-4], "--held-out", "-1", "--out", str(out)])
    assert negative.exit_code == 2 and "--held-out" in negative.output
    assert not out.exists()
    result = CliRunner().invoke(app, [*args, "--compare", "factual-experiential"])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert compared_runs(html) == ["no-memory", "simple", "factual-experiential"]
    assert len(read_rollouts(out / "factual-experiential" / "rollouts.jsonl")) == 3


def test_demo_says_what_memory_did_and_records_its_seed(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "demo", "--no-evolve", "--seed", "7",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    # The scripted solver always answers A: the same with and without memory, and the sentence says so.
    assert "Memory did not lift held-out accuracy" in printed
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<section id="summary"><p class="summary">Memory did not lift held-out accuracy' in html
    spec = json.loads((out / "simple" / "log.json").read_text())["spec"]
    assert {role["seed"] for role in spec["roles"].values()} == {7}
    # The solver reads its answer greedily; the extractor still samples, so another seed is another run.
    assert spec["roles"]["solver"]["temperature"] == 0 and spec["roles"]["extractor"]["temperature"] > 0
    assert spec["roles"]["solver"]["constrained_answers"] is False  # an endpoint-like backend keeps free text
    held_out = len(split_demo(load_demo_pairs())[1])
    assert len(read_rollouts(out / "no-memory" / "rollouts.jsonl")) == held_out


def test_a_role_setting_from_the_user_wins_over_the_demo_greedy_solver(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["--backend", "scripted", "--no-cache", "demo", "--no-evolve", "--held-out", "3",
                                      "--role", "solver.temperature=0.7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    spec = json.loads((out / "simple" / "log.json").read_text())["spec"]
    assert spec["roles"]["solver"]["temperature"] == 0.7


def _rollouts(prompt: str, rewards_by_category: dict[str, list[float]]) -> list[Rollout]:
    return [Rollout(rollout_id=f"{prompt}:{category}:{i}", prompt_name=prompt, prompt_hash=prompt,
                    dataset=f"demo-{category}", subset=f"demo-{category}", category=category, ood=False,
                    source_id=i, target_id=i, repeat=0, reward=reward)
            for category, rewards in rewards_by_category.items() for i, reward in enumerate(rewards)]


def test_the_sentence_claims_a_lift_only_when_the_intervals_do_not_overlap() -> None:
    low = {c: [0.0] * 5 + [1.0] for c in ("personalization", "problem-solving", "agentic")}
    high = {c: [1.0] * 5 + [0.0] for c in ("personalization", "problem-solving", "agentic")}
    mixed = {c: [1.0, 0.0] * 3 for c in ("personalization", "problem-solving", "agentic")}
    none = macro_with_ci("no memory", _rollouts("n", low))
    simple = macro_with_ci("simple", _rollouts("s", high))
    assert none is not None and simple is not None
    assert none.mean == pytest.approx(1 / 6) and none.low <= none.mean <= none.high
    assert memory_sentence(none, simple).startswith("Memory lifted held-out accuracy from 17% (no memory, 95% CI")
    overlapping = macro_with_ci("simple", _rollouts("s", mixed))
    assert "the intervals overlap" in memory_sentence(none, overlapping)
    assert "not better" in evolution_sentence(simple, overlapping)
    assert evolution_sentence(none, simple).startswith("The evolved prompt beat its seed")
    kept = evolution_sentence(simple, simple, kept_seed=True)
    assert kept.startswith("The evolved prompt is not better than its seed: no candidate beat the seed")
    assert "95% CI" in kept


@pytest.mark.model
def test_demo_end_to_end_on_the_real_model(tmp_path: Path) -> None:
    """Plumbing on SmolLM2: the static prompts on a few pairs, answers held to their format, the sentence
    printed and the report named. (The evolution part needs optimizer replies SmolLM2 cannot write: CluE
    then exits 4 naming the unusable replies, so it is left out here.)"""
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["--backend", "local", "--model", "smollm2-135m", "--no-cache",
                                      "--role", "extractor.max_tokens=24", "demo", "--no-evolve", "--held-out", "3",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    assert re.search(r"Memory (lifted|moved|did not lift) held-out accuracy", printed)
    assert printed.rstrip().endswith(f"report: {out / 'report.html'}")
    spec = json.loads((out / "simple" / "log.json").read_text())["spec"]
    assert spec["roles"]["solver"]["constrained_answers"] is True
    for name in ("no-memory", "simple"):
        for rollout in read_rollouts(out / name / "rollouts.jsonl"):
            assert re.fullmatch(r"<answer> ?\S.*</answer>", rollout.solver_output or ""), rollout.solver_output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="summary"' in html


def test_each_seed_has_its_own_default_folder_and_the_default_one_continues(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    demo = ["--backend", "scripted", "--no-cache", "demo", "--no-evolve", "--held-out", "3"]
    for extra in ([], ["--seed", "7"], ["--seed", "42"]):  # 42 is the default seed: runs/demo again, continued
        result = CliRunner().invoke(app, [*demo, *extra])
        assert result.exit_code == 0, result.output
    seeds = {name: json.loads((tmp_path / "runs" / name / "simple" / "log.json").read_text())["spec"]["roles"]
             ["solver"]["seed"] for name in ("demo", "demo-seed-7")}
    assert seeds == {"demo": 42, "demo-seed-7": 7}
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["demo", "demo-seed-7"]


def test_an_interrupted_demo_says_how_to_continue(capfd: pytest.CaptureFixture[str]) -> None:
    from typer import Exit

    from clue.commands.common import run_sync

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(Exit) as stopped:
        run_sync(interrupted, "run the same clue demo again to continue")
    assert stopped.value.exit_code == 130
    assert "finished rollouts are saved, run the same clue demo again to continue" in capfd.readouterr().err
