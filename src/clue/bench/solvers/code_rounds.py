"""The Dynamic-Cheatsheet-style solver BEHEMOTH uses for its problem-solving sets (Game of 24, AIME,
MathEquationBalancer, GPQA, MMLU-Pro).

The memory is a "Retrieved Memory" section of the first user message. The solver may end a reply with a
Python block followed by the trigger `EXECUTE CODE!`; the block runs in the sandbox and its output is
appended to that reply; a follow-up turn asks it to go on. After 3 follow-ups (the last one says so)
the episode ends. Loop rules as in the reference adapter:
- a reply asks for execution when it holds the trigger and the text before the first trigger ends with
  a closing code fence; only that text is kept (whatever follows the trigger is dropped);
- the code is the first ```python block of that text; a last line that is not a print, a comment, an
  indented line or a `return` is wrapped in `print(...)`;
- printed output (else the error output; or a note that time ran out) is fed back, cut at 2,000 characters;
- the final answer is read from all replies joined: the last `<answer>` block, else a fenced block after
  the last `FINAL ANSWER`; when neither is there, clue's own answer extractor is tried.
"""

from __future__ import annotations

from collections.abc import Callable

from clue.bench.data.records import Pair
from clue.bench.envs.base import MemoryPlacement
from clue.bench.run.events import CodeRunEvent, Event, LLMCallEvent
from clue.bench.sandbox.isolation import RunResult, Sandbox, SandboxLimits
from clue.bench.scorers.extract import extract_answer
from clue.bench.solvers.base import Episode, SolveContext, SolverKind
from clue.bench.solvers.common import ReplyLimits, solver_chat
from clue.llm.types import Completion, Message

CODE_FLAG = "EXECUTE CODE!"
FOLLOW_UPS = 3
FEEDBACK_CHARS = 2000
# The reference gives the code 3 s of wall-clock time; the extra second covers the sandbox's start-up.
CODE_LIMITS = SandboxLimits(wall_seconds=4.0, cpu_seconds=3)

SYSTEM_PROMPT = "You are a helpful assistant."

_INSTRUCTIONS = """# PROBLEM SOLVER

You are a careful expert at solving problems of many kinds. Each request holds one question or task.

## 1. Understand and plan
- Read the question closely before you start.
- Decide on a step-by-step plan for reaching the answer.

## 2. Work it out
- Lay out your reasoning in clear steps that someone else could check.
- Say why each step holds, and verify assumptions and intermediate results.

## 3. Running Python
Whenever computing, searching or checking would help, you may write Python and have it run:
- Put the code in one fenced block, and on the line right after the closing fence write the trigger
  EXECUTE CODE! — for example:
  ```python
  # your code here
  ```
  EXECUTE CODE!
- The code must be self-contained and runnable as is: import what it uses at the top, no local files or
  paths, no placeholders. Common pip packages are fine.
- Print what you need to see. The printed output comes back to you in the next turn.
- Check the output; if the code fails, fix it or take another route.

## 4. Final answer
Always finish with your final answer in exactly this form:

FINAL ANSWER:
<answer>
(final answer)
</answer>

- Multiple choice: only the option letter, e.g. (B)
- A number: only the number, e.g. 17
- Anything else: the complete answer

Example:
Q: How many legs does a spider have?
A: [...]
FINAL ANSWER:
<answer>
8
</answer>
"""

_MEMORY_SECTION = """
## 5. Retrieved Memory

These memories were retrieved from earlier interactions.

<memory>
{memory}
</memory>

They may help with the current request: use them where they apply, and ignore them where they do not.
"""

_QUESTION = """
-----
-----

Now solve the following question.

CURRENT INPUT:
'''
{question}
'''"""

_FOLLOW_UP = ("Continue with whatever steps remain and complete the solution. If it is already complete, "
              "write FINAL ANSWER and give the answer in the required format. If you are stuck, try a "
              "different method and still give a final solution.")
_LAST_ROUND = (" (This is the last round: code will not be run again. Give your final solution now.)")

_NO_OUTPUT = ("(The code printed nothing. To see a value, print it.)")
_TIMED_OUT = "The code ran too long and was stopped."
OUTPUT_HEADER = "Result of running the code above:"


def first_user_message(question: str, memory: str) -> str:
    memory_section = _MEMORY_SECTION.format(memory=memory.strip()) if memory.strip() else ""
    return _INSTRUCTIONS + memory_section + _QUESTION.format(question=question)


def execution_request(reply: str) -> str | None:
    """The reply up to the trigger when it asks for code to run (see the module docstring), else None."""
    if CODE_FLAG not in reply:
        return None
    before = reply.split(CODE_FLAG, 1)[0].strip()
    return before if before.endswith("```") else None


def first_python_block(text: str) -> str | None:
    if "```python" not in text:
        return None
    return text.split("```python", 1)[1].split("```", 1)[0].strip()


def print_last_line(code: str) -> str:
    """Wrap a bare last expression in print(), as the reference does (a last assignment becomes an error)."""
    lines = code.splitlines()
    last = lines[-1].rstrip()
    if not last.startswith(("print(", "#", " ", "\t")) and "return" not in last:
        lines[-1] = f"print({last})"
    return "\n".join(lines)


def _cut(text: str) -> str:
    return text[:FEEDBACK_CHARS] + "\n... [truncated]" if len(text) > FEEDBACK_CHARS else text


def execution_feedback(result: RunResult) -> str:
    """What the solver is shown after its code ran: printed output, else the error output."""
    if result.limit == "time":  # the wall clock or the CPU limit; partial output is not shown
        shown = _TIMED_OUT
    else:
        stdout, stderr = _cut(result.stdout.strip()), _cut(result.stderr.strip())
        shown = stdout or (f"The code failed: {stderr}" if stderr else _NO_OUTPUT)
    return f"{OUTPUT_HEADER}\n```\n{shown}\n```"


def reference_final_answer(text: str) -> str | None:
    """The answer as the reference reads it from the joined replies, or None where it finds none."""
    if "<answer>" in text:
        return text.split("<answer>")[-1].split("</answer>")[0].strip()
    if "FINAL ANSWER" not in text:
        return None
    rest = text.split("FINAL ANSWER")[-1].strip()
    rest = rest[1:].strip() if rest.startswith(":") else rest
    quotes, fence = rest.find("'''"), rest.find("```")
    if quotes == -1 and fence == -1:
        return None
    marker = "'''" if fence == -1 or (quotes != -1 and quotes < fence) else "```"
    parts = rest.split(marker)
    if len(parts) < 2:
        return None
    answer = parts[1].strip()
    lines = answer.split("\n")
    if lines[0].strip().lower() == "python":
        answer = "\n".join(lines[1:]).strip()
    return answer


def question_text(pair: Pair) -> str:
    """The task text the reference sends: the released `input`, numbering and instructions included."""
    text = pair.target.get("input") or pair.target.get("task_main") or ""
    return str(text)


def llm_event(messages: list[Message], completion: Completion) -> LLMCallEvent:
    sent = [{"role": m["role"], "content": m["content"]} for m in messages]
    return LLMCallEvent(role="solver", messages=sent, reply=completion.text,
                        prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                        finish_reason=completion.finish_reason, cached=completion.cached,
                        latency_s=completion.latency_s, notes=list(completion.notes))


class CodeRoundsSolver:
    """Memory in the first user message. One sandbox may serve many episodes at once."""

    kind: SolverKind = "code_rounds"
    memory_placement: MemoryPlacement = "user"

    def __init__(self, sandbox: Sandbox | None = None, *, follow_ups: int = FOLLOW_UPS,
                 limits: SandboxLimits = CODE_LIMITS, reply: ReplyLimits | None = None) -> None:
        self.sandbox = sandbox or Sandbox(limits)  # one sandbox, so its concurrency limit spans all episodes
        self.follow_ups = follow_ups
        self.limits = limits
        self.reply = reply or ReplyLimits()  # the dataset's max tokens (2,048 in the reference)

    async def solve(self, pair: Pair, memory: str, ctx: SolveContext) -> Episode:
        sandbox = self.sandbox
        episode = Episode(messages=[{"role": "system", "content": SYSTEM_PROMPT},
                                    {"role": "user", "content": first_user_message(question_text(pair), memory)}])

        def record(event: Event) -> None:
            episode.events.append(event)
            ctx.record(event)

        outputs: list[str] = []
        depth = 0
        while True:
            # A conversation that outgrows the window raises ContextOverflowError: the runner scores the task
            # as failed (0), as the reference does, instead of scoring the rounds so far.
            completion = await solver_chat(ctx, list(episode.messages), self.reply)
            record(llm_event(episode.messages, completion))
            reply = completion.text
            before_flag = execution_request(reply)
            if before_flag is None:
                outputs.append(reply)
                episode.messages.append({"role": "assistant", "content": reply})
                break
            feedback = await self._run(sandbox, before_flag, record)
            shown = f"{before_flag}\n{CODE_FLAG}\n\n{feedback}"
            outputs.append(shown)
            episode.messages.append({"role": "assistant", "content": shown})
            if depth >= self.follow_ups:
                break
            warning = _LAST_ROUND if depth == self.follow_ups - 1 else ""
            episode.messages.append({"role": "user", "content": _FOLLOW_UP + warning})
            depth += 1
        joined = "\n\n".join(output.strip() for output in outputs).strip()
        episode.final_text = joined
        episode.answer = reference_final_answer(joined) or extract_answer(joined)
        return episode

    async def _run(self, sandbox: Sandbox, text: str, record: Callable[[Event], None]) -> str:
        code = first_python_block(text)
        if code is None:  # a fenced block that is not Python: nothing runs, nothing is shown
            return ""
        if not code:
            return f"{OUTPUT_HEADER}\n```\nThe code failed: the code block is empty\n```"
        runnable = print_last_line(code)
        result = await sandbox.run_python(runnable, limits=self.limits)
        event: CodeRunEvent = result.to_event(runnable)
        record(event)
        return execution_feedback(result)

