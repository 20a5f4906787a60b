"""LLM-made variants of mined repository tasks: the same function, its docstring reworded.

As in the paper, the training set is real tasks plus validated synthetic ones. A variant
rewrites (even samples) or trims (odd samples) the docstring; it is kept only if it parses
into a sound module, the original implementation under the new signature and docstring
still passes the related tests, and it is not a copy of the original wording.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.repo_runner import RepoRunner
from prochemy.sandbox.splice import find_function, first_line

from ..aio import gather_or_cancel
from ..llm.gateway import BudgetExhausted, ChatRequest, LLMGateway
from ..loop.mutation import normalise
from .model import RepoTask, SynthesisReport
from .repo_statement import build_statement, docstring_node

SYSTEM = (
    "You edit Python docstrings. Keep every requirement the docstring states: behaviour, "
    "edge cases, errors raised, examples' results. Never describe how the code is written. "
    'Answer with JSON: {"docstring": "<the new docstring text, without quotes>"}.'
)
STYLES = [
    "Rewrite this docstring in different words, as another developer would have written it.",
    "Shorten this docstring to its essential requirements, dropping redundant words.",
]
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "docstring",
        "strict": True,
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["docstring"],
            # no maxLength: llama.cpp turns it into thousands of nested grammar rules and samples
            # ~30x slower (0.36 tokens/s measured with the 0.5B model); max_tokens bounds the answer
            "properties": {"docstring": {"type": "string"}},
        },
    },
}


def with_docstring(source: str, qualname: str, docstring: str) -> str:
    """The module source with the function's docstring replaced (or added)."""
    tree = parse_python(source)
    fn, _ = find_function(tree, qualname)
    lines = source.splitlines(keepends=True)
    first_body = fn.body[0]
    indent = " " * first_body.col_offset
    text = docstring.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    body_lines = text.splitlines()
    literal = (
        indent
        + '"""'
        + "\n".join([body_lines[0]] + [(indent + line) if line.strip() else "" for line in body_lines[1:]])
        + '"""\n'
    )
    doc = docstring_node(fn)
    if doc is not None:
        return "".join(lines[: doc.lineno - 1]) + literal + "".join(lines[doc.end_lineno :])
    return "".join(lines[: first_body.lineno - 1]) + literal + "".join(lines[first_body.lineno - 1 :])


async def synthesize_repo_tasks(
    gateway: LLMGateway,
    runner: RepoRunner,
    real: list[RepoTask],
    count: int,
    seed: int,
    modules: dict[str, Path],
) -> tuple[list[RepoTask], SynthesisReport]:
    report = SynthesisReport()
    if not real or count == 0:
        return [], report
    jobs = [(real[i % len(real)], i) for i in range(count)]
    try:
        replies = await gather_or_cancel(*(_ask(gateway, task, i, seed) for task, i in jobs))
    except BudgetExhausted:  # the budget covers synthesis too: train on the real tasks
        return [], report
    report.generated = len(replies)
    checks = await gather_or_cancel(
        *(_validate(runner, task, reply, i, modules) for (task, i), reply in zip(jobs, replies))
    )
    kept: list[RepoTask] = []
    seen = {normalise(t.statement) for t in real}
    for made, reason in checks:
        if made is not None and normalise(made.statement) in seen:
            made, reason = None, "duplicate"
        if made is None:
            report.reject(reason)
        else:
            seen.add(normalise(made.statement))
            kept.append(made)
    report.kept = len(kept)
    return kept, report


async def _ask(gateway: LLMGateway, task: RepoTask, i: int, seed: int) -> str:
    source = (Path(task.repo.root) / task.repo.module).read_text()
    fn, _ = find_function(parse_python(source), task.repo.qualname)
    doc = ast.get_docstring(fn) or f"(no docstring; the function is named {fn.name})"
    reply = await gateway.chat(
        ChatRequest(
            role="synthesis",
            temperature=1.0,
            max_tokens=500,
            sample=seed * 1000 + i,
            response_format=SCHEMA,
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"{STYLES[i % 2]}\n\nFunction: {fn.name}\nDocstring:\n{doc}"},
            ],
        )
    )
    return reply.text


async def _validate(
    runner: RepoRunner, task: RepoTask, reply: str, i: int, modules: dict[str, Path]
) -> tuple[RepoTask | None, str]:
    target = task.repo
    try:
        docstring = json.loads(reply)["docstring"].strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, "unparseable"
    root = Path(target.root)
    source = (root / target.module).read_text()
    fn, _ = find_function(parse_python(source), target.qualname)
    if normalise(docstring) == normalise(ast.get_docstring(fn) or ""):
        return None, "unchanged"
    if len(docstring) < 10:
        return None, "too short"
    try:
        changed = with_docstring(source, target.qualname, docstring)
        parse_python(changed)
    except (SyntaxError, ValueError):
        return None, "breaks the module"
    run = await runner.run(target.node_ids, {target.module: changed})
    if not run.passed:
        return None, "original implementation fails with it"
    rel = Path(target.module)
    statement = build_statement(root, rel, target.qualname, modules, source=changed)
    new_fn, _ = find_function(parse_python(changed), target.qualname)
    lines = changed.splitlines(keepends=True)
    start = first_line(new_fn)
    return RepoTask(
        id=f"{task.id}~syn{i}",
        statement=statement,
        entry_point=task.entry_point,
        reference=textwrap.dedent("".join(lines[start - 1 : new_fn.end_lineno])),
        origin="synthetic",
        repo=target,
    ), ""
