"""Re-score a released reference output file with our scorers and compare with its labels.

This checks that our answer scorers agree with the benchmark's own grading. Each line's `final_answer`
(the answer the reference extracted) is scored as is. When the reference found no answer
("No final answer found") we apply our own extractor to the reply (`final_output`), as our runner
would; a reply with no answer at all scores 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from clue.bench.data.datasets import NotRunnableError, get_dataset
from clue.bench.data.loader import load_reference_outputs, load_targets
from clue.bench.data.records import NO_FINAL_ANSWER, ReferenceOutput, TargetRecord, first_validation_error
from clue.bench.scorers.extract import extract_answer
from clue.bench.scorers.tasks import AnswerTask, task_for
from clue.errors import BadInputError

Warn = Callable[[str], None]
SNIPPET_CHARS = 80


class Disagreement(NamedTuple):
    id: int
    our_reward: float
    their_label: bool
    answer: str  # the scored answer, cut to SNIPPET_CHARS ("" when none was found)


@dataclass
class RescoreReport:
    dataset: str
    path: Path
    agreed: int = 0
    total: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        return self.agreed / self.total if self.total else 0.0


def reference_answer(line: ReferenceOutput) -> str | None:
    """The answer to score for one reference line (see the module docstring)."""
    if line.final_answer.strip() == NO_FINAL_ANSWER:
        return extract_answer(line.final_output)
    return line.final_answer


def _task_text(record: ReferenceOutput | TargetRecord) -> str:
    text = getattr(record, "input", None) or record.task_main
    return " ".join(str(text).split())


def check_same_dataset(dataset: str, path: Path, lines: list[ReferenceOutput], data_root: Path | None,
                       warn: Warn) -> None:
    """Refuse a file whose tasks are not the dataset's own (e.g. AIME outputs rescored as GameOf24)."""
    if data_root is None:
        return
    known = {_task_text(t) for subset in load_targets(data_root, dataset, warn=warn).values()
             for t in subset.values()}
    if not known or not lines:
        return
    matched = sum(1 for line in lines if _task_text(line) in known)
    if matched < len(lines) / 2:
        raise BadInputError(f"{path}: only {matched} of {len(lines)} lines are {dataset} tasks "
                            f"(compared with {dataset}'s target file); is --dataset right?")


def rescore_file(dataset: str, path: Path, warn: Warn, data_root: Path | None = None) -> RescoreReport:
    """Agreement of our scorer with the `label` of each line of a reference `target_output.jsonl`.

    With a data root, the file's tasks are first checked against the dataset's own targets.
    """
    spec = get_dataset(dataset)
    if spec.name == "fever":
        return _rescore_fever(path, warn)
    task = task_for(spec.name)
    if not isinstance(task, AnswerTask):
        how = "its environment's outcome" if spec.category == "agentic" else "an LLM judge"
        raise NotRunnableError(f"dataset {spec.name} is scored by {how}; its labels cannot be rescored here")
    report = RescoreReport(dataset=spec.name, path=path)
    lines = load_reference_outputs(path, warn=warn)
    check_same_dataset(spec.name, path, lines, data_root, warn)
    for line in lines:
        try:
            target = spec.target_model.model_validate(line.model_dump())
        except ValidationError as exc:
            warn(f"{path}: id {line.id}: not a {spec.name} target ({first_validation_error(exc)}); skipped")
            continue
        answer = reference_answer(line)
        reward = task.score_answer(target.model_dump(), answer).reward
        report.total += 1
        if (reward == 1.0) == line.label:
            report.agreed += 1
        else:
            snippet = (answer or "")[:SNIPPET_CHARS]
            report.disagreements.append(Disagreement(line.id, reward, line.label, snippet))
    return report


def _rescore_fever(path: Path, warn: Warn) -> RescoreReport:
    """FEVER runs are scored offline from their Finish action and the gold label the line carries."""
    from clue.bench.envs.fever import finish_answer, process_action, score_output

    report = RescoreReport(dataset="fever", path=path)
    for line in load_reference_outputs(path, warn=warn):
        record = line.model_dump()
        gold = record.get("answer")
        if not isinstance(gold, str) or not isinstance(record.get("messages", []), list):
            warn(f"{path}: id {line.id}: no gold label ('answer') or messages; skipped")
            continue
        correct = score_output(record, gold)
        report.total += 1
        if correct == line.label:
            report.agreed += 1
        else:
            actions = [process_action(str(step.get("action", ""))) for step in record.get("trajectory") or []]
            answer = next((a for a in map(finish_answer, actions) if a is not None), "")
            report.disagreements.append(Disagreement(line.id, float(correct), line.label, answer[:SNIPPET_CHARS]))
    return report


def format_agreement(report: RescoreReport) -> str:
    """E.g. "agreement: 0.985 (197/200)"."""
    return f"agreement: {report.agreement:.3f} ({report.agreed}/{report.total})"
