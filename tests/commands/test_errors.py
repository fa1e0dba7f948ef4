"""Errors a user can act on become one line and an exit code; concurrent failures are unwrapped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import typer
from rich.console import Console

from clue.bench.run.results import aggregate
from clue.bench.run.rollouts import Rollout
from clue.commands.common import run_sync
from clue.errors import BadInputError, NotFoundError
from clue.llm.types import TransientLLMError
from clue.report.tables import comparison_table, results_table


def test_an_error_inside_an_exception_group_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def job() -> None:
        try:
            raise ExceptionGroup("summaries", [TransientLLMError("m at http://x/v1: connection refused")])
        except ExceptionGroup as group:
            raise ExceptionGroup("round", [group]) from None

    with pytest.raises(typer.Exit) as info:
        run_sync(job)
    assert info.value.exit_code == 5
    assert "error: m at http://x/v1: connection refused" in capsys.readouterr().err


def test_exit_codes_follow_the_error_kind(capsys: pytest.CaptureFixture[str]) -> None:
    for error, code in ((BadInputError("--limit 0: must be positive"), 2), (NotFoundError("x: missing"), 3)):
        def job(error: Exception = error) -> None:
            raise error

        with pytest.raises(typer.Exit) as info:
            run_sync(job)
        assert info.value.exit_code == code


def test_a_bug_keeps_its_traceback() -> None:
    def job() -> None:
        raise KeyError("internal")

    with pytest.raises(KeyError):
        run_sync(job)


def test_resume_with_another_method_is_refused(tmp_path: Path) -> None:
    from clue.bench.run.record import RunLog, RunSpec, now, write_runlog
    from clue.bench.run.recorder import check_resume

    spec = RunSpec(clue_version="x", command="evolve", roles={}, method="clue")
    write_runlog(tmp_path, RunLog(started=now(), spec=spec))
    with pytest.raises(BadInputError, match=r"holds a run with a different --method \('clue' there, 'gepa' now\)"):
        check_resume(tmp_path, spec.model_copy(update={"method": "gepa"}), (), resume=True)
    assert check_resume(tmp_path, spec, (), resume=True) is not None


def _rollout(dataset: str) -> Rollout:
    return Rollout(rollout_id=f"h:{dataset}:0:0:0", prompt_name="simple", prompt_hash="h", dataset=dataset,
                   subset=dataset, category="problem-solving", ood=False, source_id=0, target_id=0, repeat=0,
                   reward=1.0)


def test_tables_never_cut_a_dataset_name_at_80_columns() -> None:
    results = aggregate([_rollout("MMLU_Pro_Engineering"), _rollout("MathEquationBalancer")])
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    console.print(results_table(results))
    console.print(comparison_table([results, results]))
    text = out.getvalue()
    assert text.count("MMLU_Pro_Engineering") == 2 and text.count("MathEquationBalancer") == 2
