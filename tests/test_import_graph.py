"""The package's import graph: no module imports one that imports it back (directly or around a loop), and
the settings sit below the LLM layer (clue.config imports nothing from clue.llm, which imports it)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Loops owned by work in progress elsewhere, named so they are not forgotten; everything else must be free.
# data.datasets asks envs.registry (inside a function) what an environment lacks, and the registry reads
# the dataset entries: the dataset registry's owners are to break it.
KNOWN_ELSEWHERE = {frozenset({"clue.bench.data.datasets", "clue.bench.envs.registry"})}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each clue module and the clue modules it imports anywhere (function-level imports included)."""
    modules = {module_name(path): path for path in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("clue"):
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                          for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("clue")}
        graph[name] = {target for target in found if target in modules and target != name}
    return graph


def loops(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_no_import_loops() -> None:
    graph = import_graph()
    assert "clue.bench.envs.babyai" in graph and "clue.config" in graph
    assert [sorted(loop) for loop in loops(graph) if loop not in KNOWN_ELSEWHERE] == []


def test_the_settings_do_not_import_the_llm_layer() -> None:
    graph = import_graph()
    assert not {target for target in graph["clue.config"] if target.startswith("clue.llm")}
    assert "clue.config" in graph["clue.llm.client"]


def test_the_loop_finder_finds_a_loop() -> None:
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
