"""ToolBench: a ReAct agent calls RapidAPI tools whose answers come from StableToolBench's response cache.

The user provides StableToolBench's cache as its `server_cache.zip` unpacks it, under the env root:

    <env root>/toolbench/tool_response_cache/<Category>/<tool>_for_<Category>/<api>.json

each file a JSON object from `str(arguments dict)` (Python's repr of the call's arguments) to the recorded
`{"error": "...", "response": "..."}`. The tool definitions are the target's own `api_list` (as
StableToolBench's instruction files carry them), so the `tools/` folder of the same archive is not read.
Without the cache folder the environment refuses to run: it never makes up tool results.

As in the reference (docs/fidelity.md): a call whose arguments the cache has not seen gets the API's
first cached response (`CLUE_TOOLBENCH_UNSEEN_ARGUMENTS=no-response`: a message that none is recorded);
an API with no cache file gets a message saying no cached response exists; observations longer than 1024
characters are cut; the 12th reply without Finish ends the episode unanswered. Success here is the
reference's collection-time label (an answer was given, not a give-up); the benchmark score is the SoPR
judge's (`clue.bench.scorers.sopr`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clue.bench.data.datasets import step_cap_of
from clue.bench.envs.base import (
    EnvironmentUnavailable,
    EnvSpec,
    Outcome,
    StepResult,
    Transcript,
    TranscriptStep,
)
from clue.errors import BadInputError

STEP_CAP = step_cap_of("toolbench")  # the dataset entry's cap (clue.bench.data.entries.toolbench)
CACHE_SUBDIR = Path("toolbench") / "tool_response_cache"
MAX_OBSERVATION = 1024
NO_CACHED_RESPONSE = json.dumps({"error": "", "response": (
    "This API is not available in the cache. The API call was attempted but no cached response was found. "
    "Please try a different approach or API.")})
NO_RESPONSE_FOR_ARGUMENTS = json.dumps({"error": "", "response": (
    "No response is recorded for these arguments of this API. Try other arguments or another API.")})
UNSEEN_ARGUMENTS_ENV = "CLUE_TOOLBENCH_UNSEEN_ARGUMENTS"  # "first-cached" (the reference) | "no-response"
STEPS_EXHAUSTED = "You have exhausted the maximum number of steps. Please provide your final answer."
NO_ACTION = "No action was specified. Please provide a valid action."
FINISH_NAMES = ("finish", "final answer", "give_answer")
_RESERVED = {"from", "class", "return", "false", "true", "id", "and"}

SYSTEM_PROMPT = """\
Do the user's task as well as you can. These tools and APIs are available to you:

{tools}

In detail, these are the APIs you can call:

{apis}

Answer in this form:

Thought: what you think you should do next
Action: the API to call, one of those listed above
Action Input: the API's arguments as a JSON object

When you have what you need to answer, finish with:
Action: Finish
Action Input: {{"return_type": "give_answer", "final_answer": "your answer"}}

When you think the available tools cannot do the task, finish with:
Action: Finish
Action Input: {{"return_type": "give_up_and_restart"}}

Keep in mind:
1. Calls cannot be undone; you cannot return to an earlier state.
2. Keep each thought short, five sentences at most.
3. You may try several times: if your plan is to test several options, test one per step.
"""


def missing(env_root: Path) -> str | None:
    cache = env_root / CACHE_SUBDIR
    if cache.is_dir() and any(cache.iterdir()):
        return None
    where = "is empty" if cache.is_dir() else "does not exist"
    return (f"toolbench needs StableToolBench's response cache: {cache} {where}; unpack its server_cache.zip "
            "so that tool_response_cache/<Category>/<tool>_for_<Category>/<api>.json is there "
            "(see docs/agentic.md)")


def standardize(name: str) -> str:
    """StableToolBench's name normalisation for tools and APIs."""
    name = re.sub(r"[^\u4e00-\u9fa5^a-zA-Z0-9_]", "_", name)  # "^" survives, as in StableToolBench
    name = re.sub(r"_+", "_", name).lower().strip("_")
    return f"get_{name}" if name and name[0].isdigit() else name


def standardize_category(category: str) -> str:
    name = category.replace(" ", "_").replace(",", "_").replace("/", "_")
    return name.replace("__", "_")


def _api_file_name(api_name: str) -> str:
    name = standardize(api_name)
    return f"is_{name}" if name in _RESERVED else name


def parse_react(reply: str) -> tuple[str, str, str]:
    """(thought, action, action input text) of one ReAct reply; empty strings for what is absent."""
    thought = re.search(r"Thought\s*:\s*(.*?)(?=\nAction\s*:|$)", reply, re.DOTALL | re.IGNORECASE)
    action = re.search(r"Action\s*:\s*(.+?)(?:\n|$)", reply, re.IGNORECASE)
    action_input = re.search(r"Action\s+Input\s*:\s*(.*?)$", reply, re.DOTALL | re.IGNORECASE)
    return (thought.group(1).strip() if thought else "", action.group(1).strip() if action else "",
            action_input.group(1).strip() if action_input else "")


def parse_arguments(text: str) -> dict[str, Any]:
    """The call's arguments: the JSON object in `text`, else `{"raw_input": text}`; `{}` for no text."""
    if not text:
        return {}
    for candidate in (text, *(m.group(0) for m in [re.search(r"\{.*\}", text, re.DOTALL)] if m)):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {"raw_input": text}


def parse_action(reply: str) -> str:
    """One agent reply as one line: `API_NAME {json arguments}` (`Finish {...}` to answer)."""
    _, action, action_input = parse_react(reply)
    arguments = parse_arguments(action_input)
    return f"{action} {json.dumps(arguments, ensure_ascii=False)}".strip() if arguments else action


def _read_action(text: str) -> tuple[str, dict[str, Any]]:
    """(API name, arguments) of a step's action: a ReAct reply, or `NAME {json}` on one line."""
    if re.search(r"(^|\n)\s*(Thought|Action)\s*:", text, re.IGNORECASE):
        _, action, action_input = parse_react(text)
        return action, parse_arguments(action_input)
    name, brace, rest = text.strip().partition("{")
    return name.strip(), parse_arguments(brace + rest)


def is_finish(action: str) -> bool:
    return action.lower().strip() in FINISH_NAMES


class ResponseCache:
    """Recorded responses, file by file as calls need them.

    `first_cached_for_unseen`: arguments the API's file has not recorded get its first recorded response
    (the reference's behaviour); otherwise they get NO_RESPONSE_FOR_ARGUMENTS.
    """

    def __init__(self, root: Path, *, first_cached_for_unseen: bool = True) -> None:
        self._root = root
        self._first_cached_for_unseen = first_cached_for_unseen
        self._files: dict[Path, dict[str, Any]] = {}

    def _load(self, path: Path) -> dict[str, Any]:
        if path not in self._files:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                data = {}
            self._files[path] = data if isinstance(data, dict) else {}
        return self._files[path]

    def call(self, action: str, arguments: dict[str, Any], api_list: Sequence[Mapping[str, Any]]) -> str:
        entry = resolve_api(action, api_list)
        if entry is not None:
            records = self._load(self._root / entry[0] / entry[1] / f"{entry[2]}.json")
            if records:
                if str(arguments) not in records and not self._first_cached_for_unseen:
                    return NO_RESPONSE_FOR_ARGUMENTS
                response = records.get(str(arguments), next(iter(records.values())))
                return json.dumps(response, ensure_ascii=False) if isinstance(response, dict) else str(response)
        records = self._load(self._root / f"{standardize(action)}.json")  # older flat layout
        if str(arguments) in records:
            response = records[str(arguments)]
            return json.dumps(response, ensure_ascii=False) if isinstance(response, dict) else str(response)
        return NO_CACHED_RESPONSE

    def clear(self) -> None:
        self._files.clear()


def resolve_api(action: str, api_list: Sequence[Mapping[str, Any]]) -> tuple[str, str, str] | None:
    """(category folder, tool folder, API file stem) of the target's API that `action` names.

    Accepts the names an agent writes: `api`, `Tool.api` or `tool_api`, standardized or not.
    """
    wanted = standardize(action)
    api_part = standardize(action.split(".", 1)[1]) if "." in action else None
    for api in api_list:
        tool, name = str(api.get("tool_name", "")), str(api.get("api_name", ""))
        std_tool, std_api = standardize(tool), _api_file_name(name)
        base = std_api.split(f"_for_{std_tool}")[0]
        names = (std_api, base, f"{std_tool}_{base}", f"{std_tool}.{base}", f"{std_tool}.{std_api}")
        if wanted in names or action.lower().strip() == name.lower() or (api_part and api_part in (std_api, base)):
            category = standardize_category(str(api.get("category_name", "")))
            return category, f"{std_tool}_for_{category}", base
    return None


class ToolBenchEnvironment:
    def __init__(self, cache: ResponseCache) -> None:
        self._cache = cache
        self._api_list: list[Mapping[str, Any]] = []
        self._steps = 0
        self._done = False
        self._answer = ""
        self._gave_up = False

    def reset(self, target: Mapping[str, Any]) -> str:
        api_list = target.get("api_list")
        if not isinstance(api_list, list):
            raise BadInputError(f"toolbench target {target.get('id')!r} has no api_list")
        self._api_list = [api for api in api_list if isinstance(api, Mapping)]
        self._steps, self._done, self._answer, self._gave_up = 0, False, "", False
        return str(target.get("task_main", ""))

    def step(self, action: str) -> StepResult:
        if self._done:
            return StepResult("The episode is over.", self.outcome().reward, True)
        self._steps += 1
        name, arguments = _read_action(action)
        if is_finish(name):
            self._done = True
            self._answer = str(arguments.get("final_answer", ""))
            self._gave_up = arguments.get("return_type", "") == "give_up_and_restart"
            return StepResult("", self.outcome().reward, True,
                              {"final_answer": self._answer, "give_up": self._gave_up})
        if self._steps >= STEP_CAP:
            self._done = True
            return StepResult(f"Observation: {STEPS_EXHAUSTED}", 0.0, True, {"final_answer": "", "give_up": False})
        observation = self._cache.call(name, arguments, self._api_list) if name else NO_ACTION
        if len(observation) > MAX_OBSERVATION:
            observation = observation[:MAX_OBSERVATION] + "...(truncated)"
        return StepResult(f"Observation: {observation}", 0.0, False)

    @property
    def final_answer(self) -> tuple[str, bool]:
        """(final answer, gave up) once the agent finished; ("", False) before."""
        return self._answer, self._gave_up

    def valid_actions(self) -> list[str] | None:
        names = {standardize(str(api.get("api_name", ""))) for api in self._api_list}
        return [*sorted(name for name in names if name), "Finish"]

    def outcome(self) -> Outcome:
        success = bool(self._answer) and not self._gave_up
        return Outcome(success=success, reward=1.0 if success else 0.0, steps=self._steps)

    def close(self) -> None:
        self._cache.clear()


def make(env_root: Path) -> ToolBenchEnvironment:
    reason = missing(env_root)
    if reason is not None:
        raise EnvironmentUnavailable(reason)
    unseen = os.environ.get(UNSEEN_ARGUMENTS_ENV, "first-cached")
    if unseen not in ("first-cached", "no-response"):
        raise BadInputError(f"{UNSEEN_ARGUMENTS_ENV}={unseen!r}: use first-cached or no-response")
    cache = ResponseCache(env_root / CACHE_SUBDIR, first_cached_for_unseen=unseen == "first-cached")
    return ToolBenchEnvironment(cache)


def _describe_parameter(parameter: Any, optional: bool) -> str:
    if not isinstance(parameter, Mapping):
        return f"    - {parameter}" + (" (optional)" if optional else "")
    kind = parameter.get("type", "string")
    if optional:
        kind = f"{kind}, optional, default={parameter.get('default', '')}"
    return f"    - {parameter.get('name', '')} ({kind}): {parameter.get('description', '')}"


def describe_apis(api_list: Sequence[Any]) -> str:
    """The API list as the reference's prompt shows it (its "description" key: the targets carry
    "api_description", so every API reads "No description available.", as in BEHEMOTH's runs)."""
    if not api_list:
        return "No APIs available."
    parts = []
    for number, api in enumerate(api_list, start=1):
        if not isinstance(api, Mapping):
            parts.append(f"{number}. {api}")
            continue
        name = api.get("name", api.get("api_name", f"api_{number - 1}"))
        entry = f"{api['tool_name']}.{name}" if api.get("tool_name") else str(name)
        entry += f": {api.get('description', 'No description available.')}"
        lines = [_describe_parameter(p, False) for p in api.get("required_parameters") or []]
        lines += [_describe_parameter(p, True) for p in api.get("optional_parameters") or []]
        parts.append(entry + ("\n  Parameters:\n" + "\n".join(lines) if lines else ""))
    return "\n\n".join(parts)


def describe_tools(api_list: Sequence[Any]) -> str:
    seen: dict[str, str] = {}
    for api in api_list:
        if isinstance(api, Mapping) and api.get("tool_name") and api["tool_name"] not in seen:
            seen[str(api["tool_name"])] = str(api.get("tool_description", ""))
    lines = [f"- {tool}: {text}" if text else f"- {tool}" for tool, text in seen.items()]
    return "\n".join(lines) if lines else "General purpose tools."


def system_prompt(target: Mapping[str, Any], *, examples: int = 1) -> str:
    api_list = target.get("api_list") or []
    return SYSTEM_PROMPT.format(tools=describe_tools(api_list), apis=describe_apis(api_list))


def first_user_message(target: Mapping[str, Any], observation: str, memory_block: str, *,
                       examples: int = 1) -> str:
    return observation  # the query; the memory goes into the system prompt


def closing_messages(outcome: Outcome, last_observation: str) -> list[str]:
    """The user turns that end a ToolBench transcript: the last observation when there is one (the step cap's
    notice), then the reference's verdict line. The reference writes that line after the SoPR judge;
    here it follows the episode's own outcome (an answer given, not a give-up)."""
    verdict = "You successfully finished this task!" if outcome.success else "You failed this task."
    return [*([last_observation] if last_observation else []), verdict]


def parse_transcript(record: Mapping[str, Any]) -> Transcript:
    """A saved run (the reference's output line): assistant turns as actions, the next user turn as result."""
    messages: Sequence[Mapping[str, str]] = record["messages"]
    first_user = next(i for i, message in enumerate(messages) if message["role"] == "user")
    steps = [TranscriptStep(parse_action(message["content"]),
                            messages[i + 1]["content"] if i + 1 < len(messages) else "")
             for i, message in enumerate(messages) if i > first_user and message["role"] == "assistant"]
    answer = str(record.get("final_answer", ""))
    success = bool(answer) and not record.get("give_up", False)
    return Transcript(target_id=int(record["id"]), initial_observation=messages[first_user]["content"],
                      steps=steps, success=success, reward=1.0 if success else 0.0)


SPEC = EnvSpec(
    dataset="toolbench",
    step_cap=STEP_CAP,
    memory_placement="system",
    make=make,
    missing=missing,
    system_prompt=system_prompt,
    first_user_message=first_user_message,
    parse_action=parse_action,
    parse_transcript=parse_transcript,
    pool_size=4,
    closing_messages=closing_messages,
)
