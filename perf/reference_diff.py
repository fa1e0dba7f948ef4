"""A differential run against the reference code: the same pairs through the reference's memory evaluation and
through clue's, against one recording OpenAI-compatible endpoint on 127.0.0.1, then the agreement of every
request field and of the rewards, per dataset. Not part of CI (it needs a checkout of the reference code and a
Python environment with its dependencies).

    .venv/bin/python perf/reference_diff.py --reference /work/ref --reference-python /work/refvenv/bin/python \\
        [--datasets membench-high,GameOf24] [--pairs 3] [--out DIR]

The endpoint answers from a scripted policy, the same for both sides: an extraction request gets a memory
holding MEMO-7f3a (so the memory's place in a solver request can be found); a code-rounds solver asks for
code once and then answers; an agent acts ("think: ..." then "look"); MemBench's solver answers "A", any
other "<answer>A</answer>". The
reference runs as `python -m src.pipelines.run_gepa_evaluation` (prompt `simple`, one target per source), its
base URL pointed at the recorder; clue runs its own runner in this process. Field comparison:
`perf/reference_diff_fields.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_diff_fields import JUDGE_MODEL, MEMORY_TOKEN, Agreement, compare, compare_rewards

from clue.bench.data.datasets import get_dataset
from clue.bench.data.loader import default_data_root, load_pairs, subset_dir
from clue.bench.data.records import Pair
from clue.bench.run.runner import Runner
from clue.config import load_settings
from clue.llm.client import LLM
from clue.memory.prompts import load_prompt

MODEL = "Qwen3-32B"
# clue dataset -> (the reference's dataset name, the server's reply policy)
DATASETS: dict[str, tuple[str, str]] = {
    "membench-high": ("membench-high", "letter"), "membench-low": ("membench-low", "letter"),
    "longmemeval": ("longmemeval", "answer"), "prefeval": ("prefeval-mcq", "answer"),
    "personamem-v2": ("personamem-v2-val", "answer"),
    "GameOf24": ("GameOf24", "code"), "AIME": ("AIME_2024", "code"), "GPQA_Diamond": ("GPQA_Diamond", "code"),
    "MathEquationBalancer": ("MathEquationBalancer", "code"),
    "babyai": ("babyai", "agent"), "pddl": ("pddl", "agent"), "scienceworld": ("scienceworld", "agent"),
    "alfworld": ("alfworld", "agent"), "fever": ("fever", "agent"), "toolbench": ("toolbench", "tool"),
}


JUDGED = {"longmemeval", "toolbench"}  # the reference scores these in a second step (run_llm_judge_evaluation)


def scripted_reply(body: dict[str, Any], policy: str) -> str:
    messages = body.get("messages", [])
    if body.get("model") == JUDGE_MODEL:
        return '{"content": "fine", "answer_status": "Solved"}' if policy == "tool" else "yes"
    last = str(messages[-1].get("content", "")) if messages else ""
    if "<conversation>" in last and MEMORY_TOKEN not in last and len(messages) == 2:
        return f"1. {MEMORY_TOKEN}: the user prefers short, exact answers."
    turns = sum(1 for m in messages if m.get("role") == "assistant")
    if policy == "code":
        return ("Let me compute it.\n```python\nprint(6 * 4)\n```\nEXECUTE CODE!" if turns == 0
                else "The result checks out.\n<answer>A</answer>\nFINAL ANSWER: A")
    if policy == "tool":
        return ('Thought: I can answer now.\nAction: Finish\nAction Input: {"return_type": "give_answer", '
                '"final_answer": "Messi played for Barcelona and Paris Saint-Germain."}')
    if policy == "agent":
        return "think: I should look around first." if turns == 0 else "look"
    if policy == "letter":  # MemBench's reference prompt asks for the bare letter
        return "A"
    return "<answer>A</answer>"


class Recorder:
    """An aiohttp server on 127.0.0.1 that records every chat request under the side its URL names."""

    def __init__(self) -> None:
        self.requests: dict[str, list[dict[str, Any]]] = {"clue": [], "reference": []}
        self.policy = "answer"
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.setdefault(request.match_info["side"], []).append(body)
        text = scripted_reply(body, self.policy)
        return web.json_response({"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": text}}],
                                  "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{side}/v1/chat/completions", self._chat)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def url(self, side: str) -> str:
        return f"http://127.0.0.1:{self.port}/{side}/v1"


# no released sources here: PrefEval, PersonaMem-v2 and ToolBench run on synthetic ones (ToolBench's agent
# finishes at once, so no tool call needs StableToolBench's cache, which is not here either)
SYNTHETIC = {"prefeval": "prefeval-mcq", "personamem-v2": "personamem-v2-val", "toolbench": "toolbench"}


def synthetic_root(data_root: Path, work: Path) -> Path:
    """A data root holding PrefEval (the released targets, sources made from each target's stated
    preference), PersonaMem-v2 (targets in the reference generator's format: user_query, correct_answer,
    choices) and ToolBench (released targets, made-up sources), two pairs each."""
    root = work / "synthetic-root"
    released = data_root / "data_collection" / "train" / "prefeval-mcq" / "openai" / MODEL / "target.jsonl"
    prefeval = [json.loads(line) for line in released.read_text().splitlines()[:2]]
    personamem = [{"source": "personamem-v2", "id": i, "task_main": question, "user_query": question,
                   "correct_answer": right, "choices": [wrong, right]}
                  for i, (question, right, wrong) in enumerate([
                      ("Can you suggest a weekend plan for me?", "A quiet hike followed by a home-cooked meal.",
                       "A loud nightclub crawl downtown."),
                      ("What should I read next?", "A long historical novel set in Japan.",
                       "A celebrity gossip magazine.")])]
    toolbench = [json.loads(line) for line in (data_root / "data_collection" / "ood_test" / "toolbench" / "openai"
                                               / MODEL / "target.jsonl").read_text().splitlines()[:2]]
    for name, targets, opener in (
            ("toolbench", toolbench, lambda t: "Please look up football statistics for me when I ask."),
            ("prefeval-mcq", prefeval, lambda t: str(t["preference"])),
            ("personamem-v2-val", personamem, lambda t: "I love quiet outdoor time, cooking and long novels.")):
        split = "ood_test" if name == "toolbench" else "train"
        folder = root / "data_collection" / split / name / "openai" / MODEL
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "target.jsonl").write_text("".join(json.dumps(t) + "\n" for t in targets))
        (folder / "source_input.jsonl").write_text("".join(json.dumps(
            {"source": name, "id": t["id"], "task_main": "chat", "target_ids": [t["id"]], "memory": "",
             "messages": [{"role": "user", "content": opener(t)},
                          {"role": "assistant", "content": "Thanks, I will keep that in mind."}]}) + "\n"
            for t in targets))
    return root


OWN_ENV_ROOT = {"toolbench", "fever"}  # clue needs resources the shared env root does not hold


def synthetic_env_root(work: Path) -> Path:
    """An env root with a one-entry ToolBench response cache and a one-page FEVER page source: enough for clue
    to start those environments (the scripted agents never call a tool or search)."""
    root = work / "env-root"
    api = root / "toolbench" / "tool_response_cache" / "Data" / "theclique_for_Data"
    api.mkdir(parents=True, exist_ok=True)
    (api / "transfermarkt_search.json").write_text(json.dumps({"{'name': 'messi'}": {"error": "", "response": "x"}}))
    pages = root / "fever" / "wiki-pages"
    pages.mkdir(parents=True, exist_ok=True)
    (pages / "pages.jsonl").write_text(json.dumps({"title": "Tilda Swinton", "text": "An actress."}) + "\n")
    return root


def write_reference_inputs(data_root: Path, pairs: list[Pair], work: Path) -> tuple[Path, Path]:
    """The pairs' sources (one target each) and targets, as the reference's source/target files."""
    sources, targets = work / "source_input.jsonl", work / "target.jsonl"
    wanted = {(p.subset, p.source_id): p.target_id for p in pairs}
    spec = get_dataset(pairs[0].dataset)
    with sources.open("w") as out_sources, targets.open("w") as out_targets:
        for subset in dict.fromkeys(p.subset for p in pairs):
            folder = subset_dir(data_root, spec, subset)
            lines = [json.loads(line) for line in (folder / "source_input.jsonl").read_text().splitlines() if line]
            kept_targets = set()
            for record in lines:
                if (subset, int(record["id"])) in wanted:
                    record["target_ids"] = [wanted[(subset, int(record["id"]))]]
                    kept_targets.add(str(record["target_ids"][0]))
                    out_sources.write(json.dumps(record) + "\n")
            for line in (folder / "target.jsonl").read_text().splitlines():
                if line and str(json.loads(line)["id"]) in kept_targets:
                    out_targets.write(line + "\n")
    return sources, targets


# The reference's GMemory environment package imports ALFWorld's and FEVER's dependencies even for PDDL, which
# never calls them: empty stand-ins (placed after every real package on the path) let PDDL import offline.
# PDDL's action parser calls NLTK's word_tokenize, which needs the punkt model (a download): an English punkt
# model with no learned abbreviations, collocations or sentence starters splits a one-line action the same way.
IMPORT_SHIMS = {
    "alfworld/__init__.py": "", "alfworld/agents/__init__.py": "", "alfworld/agents/environment/__init__.py": "",
    "wikipedia/__init__.py": "",
    "langchain_core/__init__.py": "", "langchain_core/documents.py": "class Document:\n    pass\n",
}
PUNKT_FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")


def reference_shims(work: Path) -> tuple[Path, Path]:
    """(a directory of import stand-ins, an NLTK data directory) for the reference's PDDL run."""
    shims, nltk_data = work / "shims", work / "nltk_data"
    for relative, text in IMPORT_SHIMS.items():
        (shims / relative).parent.mkdir(parents=True, exist_ok=True)
        (shims / relative).write_text(text)
    punkt = nltk_data / "tokenizers" / "punkt_tab" / "english"
    punkt.mkdir(parents=True, exist_ok=True)
    for name in PUNKT_FILES:
        (punkt / name).write_text("")
    return shims, nltk_data


def run_reference(args: argparse.Namespace, name: str, sources: Path, targets: Path, out: Path,
                  base_url: str) -> list[float]:
    shims, nltk_data = reference_shims(out.parent)
    env = {**os.environ, "OPENAI_API_BASE": base_url, "OPENAI_API_KEY": "not-needed",
           "PYTHONPATH": f"{args.reference}{os.pathsep}{shims}", "NLTK_DATA": str(nltk_data),
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # litellm fetches nothing from the network
    command = [args.reference_python, "-m", "src.pipelines.run_gepa_evaluation", "--datasets", name,
               "--source_files", str(sources), "--target_files", str(targets), "--output_dir", str(out),
               "--model_name", f"openai/{MODEL}", "--prompt_type", "simple", "--dataset_workers", "1",
               "--max_targets_per_source", "1"]
    done = subprocess.run(command, cwd=args.reference, env=env, capture_output=True, text=True, timeout=1800)
    (out / "reference.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        raise RuntimeError(f"reference run failed ({done.returncode}): {last}")
    path = out / "openai" / MODEL / "simple" / name / "run_1" / "source_target_output.jsonl"
    if name in JUDGED:
        judge = [args.reference_python, "-m", "src.pipelines.run_llm_judge_evaluation", "--dataset_name", name,
                 "--output_file", str(path), "--metric_model", "gpt-4o", "--quiet",
                 *(["--evaluate_times", "3"] if name == "toolbench" else [])]  # as its script runs them
        judged = subprocess.run(judge, cwd=args.reference, env=env, capture_output=True, text=True, timeout=1800)
        (out / "reference_judge.log").write_text(judged.stdout + judged.stderr)
        if judged.returncode != 0:
            raise RuntimeError(f"reference judge failed: {(judged.stderr.strip().splitlines() or [''])[-1]}")
    rewards = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        reward = row.get("reward")
        score = (row.get("autoeval_label") or {}).get("score")
        if isinstance(score, int | float):
            reward = score
        rewards.append(float(reward) if isinstance(reward, int | float) else float(bool(row.get("label"))))
    return rewards


async def run_clue(pairs: list[Pair], base_url: str) -> list[float]:
    settings = load_settings(env={}, cli={"backend": "openai", "base_url": base_url, "model": MODEL}, no_cache=True,
                             role_overrides={"judge": {"model": JUDGE_MODEL}})
    llm = LLM(settings, cache=None)
    runner = Runner(llm, concurrency=1)
    try:
        rollouts = await runner.evaluate(load_prompt("simple"), pairs, (0,))
    finally:
        await runner.aclose()
        await llm.aclose()
    return [r.reward for r in rollouts]


@dataclass
class Row:
    dataset: str
    agreement: Agreement | None
    error: str = ""


async def diff_dataset(args: argparse.Namespace, recorder: Recorder, dataset: str, work: Path) -> Row:
    name, policy = DATASETS[dataset]
    data_root = synthetic_root(args.data_root, work) if dataset in SYNTHETIC else args.data_root
    warnings: list[str] = []
    pairs = load_pairs(data_root, dataset, "all", limit=args.pairs, warn=warnings.append)
    if not pairs:
        return Row(dataset, None, f"clue loads no pairs: {warnings[0] if warnings else 'none on disk'}")
    recorder.policy = policy
    before = {side: len(requests) for side, requests in recorder.requests.items()}
    env_root = os.environ.get("CLUE_ENV_ROOT")
    if dataset in OWN_ENV_ROOT:
        os.environ["CLUE_ENV_ROOT"] = str(synthetic_env_root(work))
    try:
        clue_rewards = await run_clue(pairs, recorder.url("clue"))
    finally:
        if env_root is None:
            os.environ.pop("CLUE_ENV_ROOT", None)
        else:
            os.environ["CLUE_ENV_ROOT"] = env_root
    out = work / dataset
    out.mkdir(parents=True, exist_ok=True)
    sources, targets = write_reference_inputs(data_root, pairs, out)
    try:
        reference_rewards = await asyncio.to_thread(run_reference, args, name, sources, targets, out,
                                                    recorder.url("reference"))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return Row(dataset, None, f"reference did not run: {exc}")
    agreement = compare(recorder.requests["clue"][before["clue"]:],
                        recorder.requests["reference"][before["reference"]:], len(pairs))
    compare_rewards(clue_rewards, reference_rewards, agreement)
    (out / "requests.json").write_text(json.dumps({side: recorder.requests[side][before[side]:]
                                                   for side in ("clue", "reference")}, indent=1))
    return Row(dataset, agreement)


def print_table(rows: list[Row]) -> None:
    print(f"{'dataset':<22}{'fields agreed':>16}{'text sim.':>11}  differences")
    for row in rows:
        if row.agreement is None:
            print(f"{row.dataset:<22}{'-':>16}{'-':>11}  {row.error}")
            continue
        a = row.agreement
        head = f"{row.dataset:<22}{f'{a.agreed}/{a.compared}':>16}{a.mean_similarity:>11.2f}  "
        print(head + ("; ".join(a.differences) if a.differences else "none"))
    done = [r.agreement for r in rows if r.agreement is not None]
    print(f"total: {sum(a.agreed for a in done)}/{sum(a.compared for a in done)} fields; "
          f"{sum(1 for a in done if not a.differences)}/{len(done)} datasets that ran agree on every field "
          f"({len(rows) - len(done)} did not run)")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reference", type=Path, required=True, help="checkout of the reference code")
    parser.add_argument("--reference-python", default=sys.executable, help="Python with its dependencies")
    parser.add_argument("--datasets", default="membench-high,membench-low,longmemeval,prefeval,personamem-v2,"
                                              "GameOf24,AIME,MathEquationBalancer,GPQA_Diamond,babyai,scienceworld,"
                                              "pddl,fever,toolbench")
    parser.add_argument("--pairs", type=int, default=3, help="pairs per dataset")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="keep inputs, logs and requests here")
    args = parser.parse_args(argv)
    args.data_root = args.data_root or default_data_root()
    if not (args.reference / "src" / "pipelines" / "run_gepa_evaluation.py").exists():
        print(f"{args.reference}: not a checkout of the reference code (no src/pipelines/run_gepa_evaluation.py)")
        return 2
    unknown = [d for d in args.datasets.split(",") if d not in DATASETS]
    if unknown:
        print(f"unknown dataset(s): {', '.join(unknown)} (known: {', '.join(DATASETS)})")
        return 2
    recorder = Recorder()
    recorder.start()
    work = args.out or Path(tempfile.mkdtemp(prefix="reference-diff-"))
    rows = [await diff_dataset(args, recorder, dataset, work) for dataset in args.datasets.split(",")]
    print_table(rows)
    print(f"inputs, logs and recorded requests: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
