"""FEVER over a page source the test writes: the reference's observations, step rules and label scoring."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from clue.bench.data.loader import default_data_root
from clue.bench.envs import fever
from clue.bench.envs.base import EnvironmentUnavailable, Outcome
from clue.bench.envs.fever_pages import WikiPages, ensure_index, missing_pages
from clue.bench.envs.registry import env_spec
from clue.bench.envs.replay import released_runs, replay

PAGES = [
    {"title": "Soul Food (film)", "text": "Soul Food is a 1997 American comedy-drama film.\n\n"
     "It was released by Fox 2000 Pictures.\n\nThe film was a success; a television series followed."},
    {"title": "Soul food", "text": "Soul food is an ethnic cuisine of African Americans."},
    {"title": "Soul FOOD", "text": "Soul FOOD is a 2001 album."},
    {"title": "Tilda Swinton", "text": "Katherine Matilda Swinton is a British actress.\n\n"
     "She has spoken about her diet.\n\nShe lives in Nairn."},
]
FEVER_DUMP_LINE = {"id": "Telemundo_-LRB-network-RRB-", "text": "Telemundo is an American Spanish-language "
                   "network -LRB- founded 1984 -RRB- .", "lines": "0\tTelemundo is ..."}
TARGET = {"id": 2, "task": "Fox 2000 Pictures released the film Soul Food.", "answer": "SUPPORTS",
          "task_description": "Claim: Fox 2000 Pictures released the film Soul Food."}


def write_pages(env_root: Path, pages: list[dict[str, str]]) -> None:
    directory = env_root / "fever" / "wiki-pages"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "wiki-001.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pages), encoding="utf-8")


@pytest.fixture(autouse=True)
def index_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLUE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def env_root(tmp_path: Path) -> Path:
    root = tmp_path / "agentic"
    write_pages(root, [*PAGES, FEVER_DUMP_LINE, {"id": "Empty_page", "text": "", "lines": ""}])
    return root


def test_without_a_page_source_it_says_what_to_provide(tmp_path: Path) -> None:
    reason = missing_pages(tmp_path)
    assert reason is not None and "wiki-pages" in reason and "\n" not in reason
    assert env_spec("fever").missing(tmp_path) == reason
    with pytest.raises(EnvironmentUnavailable, match="Wikipedia page source"):
        fever.SPEC.make(tmp_path)


def test_title_lookup_exact_then_mediawiki_then_unique_case_insensitive(env_root: Path) -> None:
    pages = WikiPages(ensure_index(env_root))
    try:
        assert pages.page("Soul food") == PAGES[1]["text"]
        assert pages.page("soul_food") == PAGES[1]["text"]  # first letter and underscores, as MediaWiki
        assert pages.page("TILDA SWINTON") == PAGES[3]["text"]  # the only case-insensitive match
        assert pages.page("Soul Food") is None  # two pages match without case: no guess
        assert pages.page("Telemundo (network)") == "Telemundo is an American Spanish-language network ( founded " \
                                                   "1984 ) ."
        similar = pages.similar("Soul Food")
        assert set(similar[:3]) == {"Soul Food (film)", "Soul food", "Soul FOOD"}
        assert "Tilda Swinton" not in similar and pages.similar("!!") == []
        assert pages.page("Empty page") is None  # the FEVER dump's text-less pages are left out
    finally:
        pages.close()


def test_an_episode_reads_like_the_reference(env_root: Path) -> None:
    env = fever.SPEC.make(env_root)
    try:
        assert env.reset(TARGET) == TARGET["task_description"]
        assert env.step("Thought 1: I should search the film.").observation == "OK."
        missing = env.step("Action 2: Search[Soul Food]").observation
        assert missing.startswith("Could not find [Soul Food]. Similar: ['Soul")
        assert env.step("Lookup[Fox]").observation == fever.NO_PAGE_FOR_LOOKUP
        assert env.step("Search[Soul Food (film)]").observation == "Soul Food is a 1997 American comedy-drama film."
        assert env.step("Lookup[film]").observation == "(Result 1/2) Soul Food is a 1997 American comedy-drama film."
        assert env.step("Lookup[FILM]").observation == "(Result 2/2) The film was a success; a television series " \
                                                       "followed."
        assert env.outcome().steps == 6 and not env.outcome().success
        last = env.step("Action 7: Finish[supports].")
        assert (last.observation, last.reward, last.done) == ("Answer is CORRECT", 1.0, True)
        assert last.info["feedback"] == fever.SUCCESS_FEEDBACK
        assert env.outcome() == Outcome(success=True, reward=1.0, steps=7)
    finally:
        env.close()


def test_quirks_of_the_reference_action_reader(env_root: Path) -> None:
    env = fever.SPEC.make(env_root)
    try:
        env.reset(TARGET)
        assert env.step("Search[Thought Police]").observation == "OK."  # "thought" anywhere: a thought
        assert env.step("Action 2: Search[Star Wars: Episode IV]").observation == fever.INVALID_ACTION
        assert env.step("Search[Tilda Swinton]").observation == "Katherine Matilda Swinton is a British actress."
        assert env.step("Lookup[she]").observation.startswith("(Result 1/2) She has")
        env.step("Search[Soul Food (film)]")
        # the Lookup position carries over to a new page when the keyword is the same
        assert env.step("Lookup[she]").observation == "No Results"
        wrong = env.step("Finish[REFUTES]")
        assert (wrong.observation, wrong.done, env.outcome().success) == ("Answer is INCORRECT", True, False)
        assert wrong.info["feedback"] == fever.FAILURE_FEEDBACK
    finally:
        env.close()


def test_prompt_puts_one_example_and_no_memory_in_the_system_prompt() -> None:
    prompt = fever.SPEC.system_prompt(TARGET)
    assert "Search[entity]" in prompt and "Lookup[keyword]" in prompt and "NOT ENOUGH INFO" in prompt
    assert prompt.count("Claim:") == 1 and "Action 2: Finish[SUPPORTS]" in prompt
    assert fever.SPEC.memory_placement == "system" and fever.SPEC.step_cap == 7
    assert fever.SPEC.first_user_message(TARGET, "Claim: x", "MEMORY") == "Claim: x"


def test_label_scoring_of_the_released_runs_is_offline_and_agrees_with_their_labels() -> None:
    data_root = default_data_root()
    runs = list(released_runs(data_root, "fever"))
    assert len(runs) == 250
    agreed = sum(fever.score_output(output, target["answer"]) == output["label"] for target, output in runs)
    assert agreed == 250


def test_replaying_the_released_runs_over_their_own_pages(tmp_path: Path) -> None:
    """The released Search results become the page source; everything but live search's suggestions matches."""
    runs = list(released_runs(default_data_root(), "fever"))
    pages: dict[str, str] = {}
    for _, output in runs:
        for step in fever.parse_transcript(output).steps:
            match = fever._ACTION.match(fever.process_action(step.action))
            if match and match.group(1) == "Search" and not step.observation.startswith("Could not find"):
                pages.setdefault(match.group(2), step.observation)
    root = tmp_path / "agentic"
    write_pages(root, [{"title": title, "text": text} for title, text in pages.items()])
    identical = total = outcomes = 0
    differing: Counter[str] = Counter()
    for target, output in runs:
        transcript = fever.parse_transcript(output)
        result = replay(fever.SPEC, root, target, transcript)
        identical += result.identical_observations
        total += result.steps
        outcomes += result.outcome_identical
        assert result.initial_identical
        for index in result.mismatches:
            theirs = transcript.steps[index - 1].observation
            differing["similar" if theirs.startswith("Could not find") else "lookup"] += 1
    assert outcomes == 250
    # left: the titles live Wikipedia search suggested, and Lookups into paragraphs past the first
    assert total - identical == differing["similar"] + differing["lookup"]
    assert differing["lookup"] <= 5 and identical >= 1250


def test_rescore_reports_agreement_and_catches_a_wrong_label(tmp_path: Path) -> None:
    from clue.bench.scorers.rescore import format_agreement, rescore_file

    released = (default_data_root() / "data_collection/train/fever/openai/Qwen3-32B/1-shot/target_output.jsonl")
    lines = [json.loads(line) for line in released.read_text(encoding="utf-8").splitlines()[:20]]
    lines[3]["label"] = not lines[3]["label"]
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    warnings: list[str] = []
    report = rescore_file("fever", outputs, warnings.append)
    assert format_agreement(report) == "agreement: 0.950 (19/20)" and warnings == []
    assert [d.id for d in report.disagreements] == [lines[3]["id"]]


def test_environments_started_together_build_the_index_once(env_root: Path, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        indexes = list(pool.map(lambda _: ensure_index(env_root), range(4)))
    assert len(set(indexes)) == 1
    assert [p.name for p in (tmp_path / "cache" / "fever").glob("*.sqlite")] == [indexes[0].name]
    write_pages(env_root, PAGES[:1])  # a changed source gets a new index
    assert ensure_index(env_root) != indexes[0]


def test_a_malformed_page_line_is_named(tmp_path: Path) -> None:
    directory = tmp_path / "fever" / "wiki-pages"
    directory.mkdir(parents=True)
    (directory / "bad.jsonl").write_text(json.dumps(PAGES[0]) + "\n" + '{"name": "x"}\n')
    with pytest.raises(EnvironmentUnavailable, match=r"bad.jsonl:2: expected"):
        fever.SPEC.make(tmp_path)
    assert not list((tmp_path / "cache" / "fever").glob("*.building"))


def test_closing_messages_match_the_released_sources() -> None:
    runs = list(released_runs(default_data_root(), "fever"))
    for _, output in runs:
        transcript = fever.parse_transcript(output)
        outcome = Outcome(success=transcript.success, reward=transcript.reward, steps=len(transcript.steps))
        closing = fever.closing_messages(outcome, transcript.steps[-1].observation)
        assert [m["content"] for m in output["messages"][-2:]] == closing
