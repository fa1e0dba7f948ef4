"""MemEvolve: each candidate from its own global analysis of the whole batch; CluE's tournament and finals."""

from __future__ import annotations

from pathlib import Path

from support.lineage import read_lineage

from clue.evolve.analyze import CLUSTER_BRIEF
from clue.evolve.clue_method import ClueOptimizer
from clue.evolve.memevolve import GLOBAL_BRIEF, MEMEVOLVE_GENERATOR, MemEvolveOptimizer
from clue.evolve.protocol import EvolveSettings
from clue.evolve.run import load_optimizer
from clue.evolve.state import RunState
from clue.evolve.synthesize import CLUE_SYNTHESIZER
from clue.evolve.tournament import TournamentOptimizer
from clue.evolve.watch import RecordingReporter
from clue.memory.prompts import load_prompt

from .conftest import World, kind_of, make_pairs, make_setup

SMALL = EvolveSettings(rounds=2, batch=6, candidates=3, top=2, resample=2)


def test_shares_the_tournament_code_with_clue() -> None:
    assert isinstance(load_optimizer("memevolve"), MemEvolveOptimizer)
    assert issubclass(MemEvolveOptimizer, TournamentOptimizer)
    assert issubclass(ClueOptimizer, TournamentOptimizer)
    # Tournament, finals and candidate vetting are inherited, not redefined.
    for name in ("optimize", "_tournament", "_finals", "synthesize_candidates", "vet"):
        assert name not in vars(MemEvolveOptimizer) and name not in vars(ClueOptimizer)


async def test_each_candidate_has_its_own_global_analysis(tmp_path: Path) -> None:
    world = World()
    setup = make_setup(tmp_path, world)
    reporter = RecordingReporter()
    result = await MemEvolveOptimizer(reporter).optimize(load_prompt("simple"), make_pairs(30), setup.harness,
                                                         SMALL, tmp_path, False)
    assert result.stopped_by == "finished" and "KEEP-NUMBERS and KEEP-NAMES" in result.best.text
    assert world.counts["summarize"] == 0 and world.counts["cluster"] == 0
    assert world.counts["synthesize"] == 6
    state = RunState.model_validate_json((tmp_path / "state.json").read_text())
    rs = state.rounds[0]
    assert rs.done == ["baseline", "analyze", "synthesize", "tournament", "finals"]
    assert sorted(rs.analyses) == ["global-1", "global-2", "global-3"]
    assert all(a.size == 6 and a.mode == "tools" for a in rs.analyses.values())
    assert [c.sources for c in rs.sorted_candidates()] == [["global-1"], ["global-2"], ["global-3"]]
    # Analysis i and synthesis i sample with repeat index i: different seeds, so different samples.
    seeds = {kind: sorted({c.decoding.seed for c in setup.backend.calls if kind_of(c) == kind})
             for kind in ("analyze", "synthesize")}
    assert seeds == {"analyze": [42, 43, 44], "synthesize": [42, 43, 44]}
    # The whole batch goes to each analysis: the overview lists all six examples.
    overview = next(c for c in setup.backend.calls if kind_of(c) == "analyze" and len(c.messages) == 4)
    assert overview.messages[3]["content"].count("\n") == 6
    assert [r.round for r in reporter.rounds] == [1, 2] and reporter.rounds[0].clusters == []
    lineage = read_lineage(tmp_path)
    assert lineage.method == "memevolve" and lineage.entries[1].diff and lineage.entries[1].origin.round == 1


async def test_memevolve_prompts_are_its_own_not_clues(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, World())
    settings_one = EvolveSettings(rounds=1, batch=6, candidates=1, top=2, resample=2)
    await MemEvolveOptimizer().optimize(load_prompt("simple"), make_pairs(12), setup.harness, settings_one,
                                        tmp_path, False)
    analyst = next(c for c in setup.backend.calls if kind_of(c) == "analyze")
    system = analyst.messages[0]["content"]
    assert GLOBAL_BRIEF.role in system and GLOBAL_BRIEF.report in system
    assert CLUSTER_BRIEF.role not in system and CLUSTER_BRIEF.report not in system
    assert load_prompt("simple").text.strip() in system  # it too sees the prompt under analysis
    schema = analyst.json_schema or {}
    assert schema["properties"]["recommendations"]["maxItems"] == 7  # 3-7 recommendations, plus risks
    assert "risks" in schema["properties"]
    synthesizer = next(c for c in setup.backend.calls if kind_of(c) == "synthesize")
    assert synthesizer.messages[0]["content"].startswith(MEMEVOLVE_GENERATOR)
    assert CLUE_SYNTHESIZER not in synthesizer.messages[0]["content"]
    assert "taxonomy" not in synthesizer.messages[0]["content"].lower()  # no taxonomy, no conflict resolution
    assert "Risks:" in synthesizer.messages[1]["content"]  # the whole report reaches the rewrite
