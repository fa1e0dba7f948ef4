"""ToolBench over a tiny StableToolBench-layout cache the test writes, on a real released target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clue.bench.data.loader import load_targets
from clue.bench.data.records import Pair
from clue.bench.envs import toolbench
from clue.bench.envs.base import EnvironmentUnavailable, Outcome
from clue.bench.envs.registry import env_spec
from clue.bench.run.events import EnvStepEvent, Event
from clue.bench.scorers.sopr import (
    REFERENCE_SOPR,
    SoprSettings,
    ToolBenchTask,
    final_answer_of,
    majority,
    parse_status,
    sopr_score,
)
from clue.bench.solvers.base import Episode
from clue.errors import BadInputError
from clue.llm.types import Message

MESSI = {"error": "", "response": {"Players": [{"name": "Lionel Messi", "slug": "lionel-messi"}]}}
OTHER = {"error": "", "response": {"Players": [{"name": "Cristiano Ronaldo"}]}}


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture()
def target() -> dict[str, Any]:
    warn = Warnings()
    targets = load_targets(Path(__file__).resolve().parents[3] / ".." / "shared" / "behemoth", "toolbench",
                           warn=warn)["toolbench"]
    assert warn == []
    return targets[588].model_dump()  # TheClique's Songkick and Transfermarkt APIs, category Data


@pytest.fixture()
def env_root(tmp_path: Path) -> Path:
    folder = tmp_path / "toolbench" / "tool_response_cache" / "Data" / "theclique_for_Data"
    folder.mkdir(parents=True)
    cache = {str({"name": "messi"}): MESSI, str({"name": "ronaldo"}): OTHER}
    (folder / "transfermarkt_search.json").write_text(json.dumps(cache), encoding="utf-8")
    return tmp_path


def test_without_the_cache_it_refuses_with_one_line(tmp_path: Path) -> None:
    reason = env_spec("toolbench").missing(tmp_path)
    assert reason is not None and "tool_response_cache" in reason and "\n" not in reason
    with pytest.raises(EnvironmentUnavailable, match="StableToolBench"):
        toolbench.SPEC.make(tmp_path)


def test_calls_are_answered_from_the_cache_as_the_reference_does(env_root: Path, target: dict[str, Any]) -> None:
    env = toolbench.SPEC.make(env_root)
    assert env.reset(target) == target["task_main"]
    reply = 'Thought: search him.\nAction: TheClique.Transfermarkt search\nAction Input: {"name": "messi"}'
    action = toolbench.SPEC.parse_action(reply)
    assert action == 'TheClique.Transfermarkt search {"name": "messi"}'
    first = env.step(action)
    assert first.observation == "Observation: " + json.dumps(MESSI) and not first.done
    assert env.step(reply).observation == first.observation  # a whole ReAct reply works too
    # arguments the cache has not seen: the API's first cached response, as the reference gives it
    assert env.step('theclique_transfermarkt_search {"name": "neymar"}').observation == first.observation
    # an API with no cache file: an explicit "no cached response", never an empty result
    unknown = env.step('Songkick concert {"id_conc": "1"}').observation
    assert "not available in the cache" in unknown
    assert env.step("Thought: hmm").observation == "Observation: " + toolbench.NO_ACTION
    done = env.step('Action: Finish\nAction Input: {"return_type": "give_answer", "final_answer": "Barcelona"}')
    assert done.done and done.info == {"final_answer": "Barcelona", "give_up": False}
    assert env.outcome() == Outcome(success=True, reward=1.0, steps=6)
    env.close()


def test_step_cap_and_give_up(env_root: Path, target: dict[str, Any]) -> None:
    env = toolbench.SPEC.make(env_root)
    env.reset(target)
    for _ in range(toolbench.STEP_CAP - 1):
        assert not env.step('Transfermarkt search {"name": "messi"}').done
    last = env.step('Transfermarkt search {"name": "messi"}')
    assert last.done and last.observation == f"Observation: {toolbench.STEPS_EXHAUSTED}"
    assert not env.outcome().success
    env.reset(target)
    gave_up = env.step('Finish {"return_type": "give_up_and_restart"}')
    assert gave_up.done and gave_up.info["give_up"] and not env.outcome().success


def test_long_responses_are_cut(env_root: Path, target: dict[str, Any]) -> None:
    folder = env_root / "toolbench" / "tool_response_cache" / "Data" / "theclique_for_Data"
    (folder / "songkick_artist.json").write_text(json.dumps({str({}): {"error": "", "response": "x" * 5000}}))
    env = toolbench.SPEC.make(env_root)
    env.reset(target)
    observation = env.step("Songkick artist").observation
    assert observation.endswith("...(truncated)") and len(observation) == len("Observation: ") + 1024 + 14


def test_system_prompt_lists_the_target_apis_and_the_finish_forms(target: dict[str, Any]) -> None:
    prompt = toolbench.SPEC.system_prompt(target)
    assert "- TheClique" in prompt and "TheClique.Transfermarkt search: No description available." in prompt
    assert "    - name (string): " in prompt and '"return_type": "give_up_and_restart"' in prompt
    assert toolbench.SPEC.step_cap == 12 and toolbench.SPEC.memory_placement == "system"


def test_names_are_standardized_like_stabletoolbench() -> None:
    assert toolbench.standardize("Songkick concert") == "songkick_concert"
    assert toolbench.standardize("3D Models / v2") == "get_3d_models_v2"
    assert toolbench.standardize_category("Health and Fitness") == "Health_and_Fitness"
    api = {"category_name": "Data", "tool_name": "TheClique", "api_name": "From"}
    assert toolbench.resolve_api("from", [api]) == ("Data", "theclique_for_Data", "is_from")


async def test_sopr_judge_scores_solved_unsure_unsolved() -> None:
    asked: list[list[Message]] = []

    def judge_saying(reply: str) -> Any:
        async def judge(messages: list[Message], **decoding: Any) -> str:
            asked.append(messages)
            return reply
        return judge

    solved = await sopr_score(judge_saying('{"content": "ok", "answer_status": "Solved"}'), "q", "answer", False)
    unsure = await sopr_score(judge_saying('Reasoning... {"content": "?", "answer_status": "Unsure"}'), "q", "a", False)
    unsolved = await sopr_score(judge_saying("I cannot tell"), "q", "a", False)
    assert (solved.reward, unsure.reward, unsolved.reward) == (1.0, 0.5, 0.0)
    assert "Request:\nq" in asked[0][0]["content"] and "Final answer:\nanswer" in asked[0][0]["content"]
    asked.clear()
    assert (await sopr_score(judge_saying("Solved"), "q", "", False)).reward == 0.0
    assert (await sopr_score(judge_saying("Solved"), "q", "an answer", True)).reward == 0.0
    assert asked == []  # no answer or a give-up: Unsolved without asking
    assert parse_status("the answer is solved") == "Solved" and parse_status("unsolved, unsure") == "Unsolved"


async def test_an_unreadable_sopr_vote_is_asked_again_then_counted_as_unsolved() -> None:
    replies = iter(['{"answer_status": "Solved"}', "I cannot tell", '{"answer_status": "Solved"}',
                    "still cannot tell", "no idea"])
    votes: list[int] = []

    async def judge(messages: list[Message], *, vote: int = 0, **decoding: Any) -> str:
        votes.append(vote)
        return next(replies)

    score = await sopr_score(judge, "q", "an answer", False)
    # vote 1 is unreadable, asked again as vote 4 (its own seed), still unreadable: Unsolved, and counted
    assert votes == [0, 1, 4, 2, 5] or votes == [0, 1, 4, 2]
    assert score.unreadable_verdicts == 1 and score.reward == 1.0 and "1 verdict(s) unreadable" in score.detail
    assert parse_status("I cannot tell") == "Unsolved"


async def test_sopr_judge_votes_three_times_at_the_reference_decoding_and_the_majority_decides() -> None:
    asked: list[dict[str, Any]] = []

    def judge_voting(*replies: str) -> Any:
        queue = list(replies)

        async def judge(messages: list[Message], **decoding: Any) -> str:
            asked.append(decoding)
            return queue.pop(0)
        return judge

    solved = '{"answer_status": "Solved"}'
    unsolved = '{"answer_status": "Unsolved"}'
    unsure = '{"answer_status": "Unsure"}'
    score = await sopr_score(judge_voting(unsolved, solved, solved), "q", "an answer", False)
    assert score.reward == 1.0 and "votes: Unsolved, Solved, Solved" in score.detail
    assert asked == [{"temperature": 0.2, "max_tokens": 1000, "vote": v} for v in range(3)]
    assert SoprSettings(votes=3, temperature=0.2, max_tokens=1000) == REFERENCE_SOPR
    # A three-way split goes to the first vote, as Counter.most_common orders ties.
    split = await sopr_score(judge_voting(unsure, solved, unsolved), "q", "an answer", False)
    assert split.reward == 0.5
    assert majority(["Unsolved", "Solved", "Solved"]) == "Solved" and majority(["Unsure", "Solved"]) == "Unsure"
    asked.clear()
    one = await sopr_score(judge_voting(solved), "q", "a", False, SoprSettings(votes=1))
    assert one.reward == 1.0 and len(asked) == 1 and "votes" not in one.detail


async def test_the_runner_sends_each_sopr_vote_with_its_own_seed_and_the_reference_decoding() -> None:
    """Through the runner's judge: temperature 0.2, max_tokens 1000, and three distinct seeds (so neither the
    server nor the response cache hands back one vote three times)."""
    from clue.bench.run.runner import Runner
    from clue.config import load_settings
    from clue.llm.backends.scripted import ScriptedBackend, ScriptedCall
    from clue.llm.client import LLM

    calls: list[ScriptedCall] = []

    def responder(call: ScriptedCall) -> str:
        calls.append(call)
        return '{"answer_status": "Solved"}'

    llm = LLM(load_settings(env={}), backend=ScriptedBackend(responder), cache=None)
    judge = Runner(llm)._judge([], repeat=2)
    score = await sopr_score(judge, "q", "an answer", False)
    assert score.reward == 1.0
    assert [(c.decoding.temperature, c.decoding.max_tokens) for c in calls] == [(0.2, 1000)] * 3
    assert len({c.decoding.seed for c in calls}) == 3


def test_unseen_arguments_can_be_told_apart_from_recorded_ones(env_root: Path, target: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(toolbench.UNSEEN_ARGUMENTS_ENV, "no-response")
    env = toolbench.SPEC.make(env_root)
    env.reset(target)
    assert env.step('Transfermarkt search {"name": "messi"}').observation == "Observation: " + json.dumps(MESSI)
    assert env.step('Transfermarkt search {"name": "neymar"}').observation == (
        "Observation: " + toolbench.NO_RESPONSE_FOR_ARGUMENTS)
    monkeypatch.setenv(toolbench.UNSEEN_ARGUMENTS_ENV, "guess")
    with pytest.raises(BadInputError, match="CLUE_TOOLBENCH_UNSEEN_ARGUMENTS='guess'"):
        toolbench.SPEC.make(env_root)


async def test_toolbench_task_scores_a_played_episode_with_the_judge(env_root: Path, target: dict[str, Any]) -> None:
    env = toolbench.SPEC.make(env_root)
    env.reset(target)
    events: list[Event] = []
    for index, reply in enumerate(['Thought: look.\nAction: Transfermarkt search\nAction Input: {"name": "messi"}',
                                   'Action: Finish\nAction Input: {"return_type": "give_answer", '
                                   '"final_answer": "Messi played for Barcelona."}'], start=1):
        action = toolbench.SPEC.parse_action(reply)
        result = env.step(action)
        events.append(EnvStepEvent(index=index, action=action, observation=result.observation,
                                   reward=result.reward, done=result.done, info=result.info))
    episode = Episode(events=events)
    assert final_answer_of(episode) == ("Messi played for Barcelona.", False)
    pair = Pair(dataset="toolbench", subset="toolbench", source_id=0, target_id=588, source_messages=[],
                target=target)
    seen: list[str] = []

    async def judge(messages: list[Message], **decoding: Any) -> str:
        seen.append(messages[0]["content"])
        return '{"content": "partly", "answer_status": "Unsure"}'

    score = await ToolBenchTask().score_episode(pair, episode, judge)
    assert score.reward == 0.5 and "Messi played for Barcelona." in seen[0] and target["task_main"] in seen[0]
    assert len(seen) == 3  # three votes
    with pytest.raises(BadInputError, match="LLM judge"):
        await ToolBenchTask().score_episode(pair, episode, None)
    unanswered = await ToolBenchTask().score_episode(pair, Episode(events=events[:1]), None)
    assert unanswered.reward == 0.0


def test_closing_messages() -> None:
    done = Outcome(success=True, reward=1.0, steps=3)
    assert toolbench.closing_messages(done, "") == ["You successfully finished this task!"]
    capped = Outcome(success=False, reward=0.0, steps=12)
    notice = f"Observation: {toolbench.STEPS_EXHAUSTED}"
    assert toolbench.closing_messages(capped, notice) == [notice, "You failed this task."]
