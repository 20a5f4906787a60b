"""Worked examples for a task: verified solutions of similar tasks, most similar first.

Synthetic training tasks get none: each is a variant of a real task, whose own solution
would be the most similar example (the answer, not an example).

Where they come from: for benchmarks, the real training tasks' reference solutions (never a
held-out task's); for a repository, its own functions that the mining found tested and
passing, shown as signature, docstring and body (the target itself never). Similarity is
word overlap of names and descriptions, with a bonus for the target's own module (its
conventions, helpers and exceptions are what a generic instruction cannot carry).
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.splice import find_function, first_line

from ..prompts import MAX_EXAMPLES
from .model import Example, FunctionTask, RepoTask, Task, TranslationTask

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_COMMON = frozenset(
    "the and for with that this from into are not its use return returns given list value "
    "values string number function python write implement each which when into".split()
)
SAME_MODULE_BONUS = 0.5


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2} - _COMMON


def _similarity(task: Task, example: Example, module_of: dict[str, str]) -> float:
    a, b = words(task.statement), words(example.statement)
    score = len(a & b) / len(a | b) if a | b else 0.0
    if isinstance(task, RepoTask) and module_of.get(example.source) == task.repo.module:
        score += SAME_MODULE_BONUS
    return score


def with_examples(
    tasks: Sequence[Task],
    bank: Sequence[Example],
    k: int = MAX_EXAMPLES,
    modules: dict[str, str] | None = None,
) -> list[Task]:
    """Each task with its k most similar examples of the bank (never itself); ties keep
    the bank's order, so the choice is deterministic."""
    module_of = modules or {}
    out: list[Task] = []
    for task in tasks:
        own = {task.id} | ({target_id(task)} if isinstance(task, RepoTask) else set())
        ranked = sorted(
            (e for e in bank if e.source not in own),
            key=lambda e: -_similarity(task, e, module_of),
        )
        out.append(task.model_copy(update={"examples": ranked[:k]}))
    return out


def target_id(task: RepoTask) -> str:
    """The function a repository task is about (a synthetic variant's too)."""
    return f"{task.repo.module}::{task.repo.qualname}"


def benchmark_bank(tasks: Sequence[FunctionTask | TranslationTask]) -> list[Example]:
    """The tasks' own reference solutions (training tasks only: a held-out task's solution
    must never be shown)."""
    return [Example(source=t.id, statement=t.statement, code=t.reference) for t in tasks if t.reference]


def repository_bank(tasks: Sequence[RepoTask]) -> tuple[list[Example], dict[str, str]]:
    """The mined functions as written in the repository (their tests pass on them), each as
    a short statement (where it is, its signature and docstring) and its full source;
    and each example's module, for the same-module bonus."""
    bank: list[Example] = []
    modules: dict[str, str] = {}
    sources: dict[Path, str] = {}
    for task in tasks:
        path = Path(task.repo.root) / task.repo.module
        try:
            source = sources.setdefault(path, path.read_text())
            fn, _ = find_function(parse_python(source), task.repo.qualname)
        except (OSError, SyntaxError, ValueError, KeyError):
            continue  # a module that changed since mining: no example from it
        lines = source.splitlines(keepends=True)
        code = textwrap.dedent("".join(lines[first_line(fn) - 1 : fn.end_lineno]))
        doc = ast.get_docstring(fn) or ""
        statement = f"Implement `{task.repo.qualname}` in `{task.repo.module}`." + (f"\n{doc}" if doc else "")
        bank.append(Example(source=target_id(task), statement=statement, code=code))
        modules[target_id(task)] = task.repo.module
    return bank, modules
