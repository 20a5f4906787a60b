"""A repository function's related tests, shown to the model with its statement.

In an editor the tests of a function usually exist before its body; they are its spec, and
they carry what a statement cannot: the repository's conventions, exception types and
exact formats. Each test function (or method) appears once, with its decorators (a
parametrize list is data the model can use), within a character budget.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.splice import FunctionNode, first_line

from .model import RepoTask
from .repo_statement import TESTS_HIDDEN, TESTS_SHOWN, WRITE_IT

MAX_CHARS = 4000


def _node(tree: ast.Module, names: list[str]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """`test_f` or `TestClass::test_m` in a test module."""
    scope: list[ast.stmt] = tree.body
    found: ast.stmt | None = None
    for name in names:
        found = next(
            (n for n in scope if isinstance(n, (*FunctionNode, ast.ClassDef)) and n.name == name), None
        )
        if found is None:
            return None
        scope = found.body if isinstance(found, ast.ClassDef) else []
    return found if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def related_sources(root: Path, node_ids: list[str], max_chars: int = MAX_CHARS) -> tuple[list[str], int]:
    """The source of each distinct test function behind `node_ids`, in their order, while
    they fit in `max_chars`; and how many did not fit."""
    sources: list[str] = []
    seen: set[tuple[str, ...]] = set()
    left_out = 0
    used = 0
    for node_id in node_ids:
        path, _, rest = node_id.partition("::")
        names = rest.partition("[")[0].split("::")  # a parameter id may hold "::" too
        if (path, *names) in seen:
            continue
        seen.add((path, *names))
        file = (root / path).resolve()
        if not file.is_relative_to(root.resolve()):  # node ids come from running the repo's code
            continue
        try:
            text = file.read_text()
            fn = _node(parse_python(text), names)
        except (OSError, SyntaxError, ValueError):
            continue
        if fn is None:
            continue
        lines = text.splitlines(keepends=True)
        body = textwrap.dedent("".join(lines[first_line(fn) - 1 : fn.end_lineno]))
        where = f"# {path}" + (f", class {names[0]}" if len(names) > 1 else "")
        snippet = f"{where}\n{body.rstrip()}\n"
        if used + len(snippet) > max_chars:
            left_out += 1
            continue
        sources.append(snippet)
        used += len(snippet)
    return sources, left_out


def show_tests(task: RepoTask, node_ids: list[str] | None = None, max_chars: int = MAX_CHARS) -> RepoTask:
    """The task with its related tests (or `node_ids`, e.g. a benchmark's visible half) in
    the statement; unchanged when none can be read."""
    ids = task.repo.node_ids if node_ids is None else node_ids
    sources, left_out = related_sources(Path(task.repo.root), ids, max_chars)
    if not sources:
        return task
    more = f"({left_out} more not shown)\n" if left_out else ""
    section = "Tests of the project that check it:\n```python\n" + "\n".join(sources) + "```\n" + more
    statement = task.statement.replace(TESTS_HIDDEN, TESTS_SHOWN, 1)
    at = statement.find(WRITE_IT)
    statement = statement + "\n" + section if at < 0 else statement[:at] + section + "\n" + statement[at:]
    return task.model_copy(update={"statement": statement})
