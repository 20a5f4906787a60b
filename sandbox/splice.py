"""Splice a candidate function into a module's source text, in memory.

The candidate is a model's code: usually the function alone, sometimes with imports and
helpers, sometimes wrapped in its class. Rules: the target `def` (function or method,
async or not) is replaced by the candidate's; if the candidate has no decorators, the
original's are kept; the candidate's imports and new helpers come along (before the
function for a top-level target, at the end of the module for a method, where they are
still bound before any call); helpers that shadow a name the module already defines are
dropped, so the rest of the module keeps its own code.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator

from .pyparse import parse_python

FunctionNode = (ast.FunctionDef, ast.AsyncFunctionDef)
Function = ast.FunctionDef | ast.AsyncFunctionDef


class SpliceError(ValueError):
    """The candidate cannot be spliced (it does not parse or lacks the function)."""


def first_line(node: ast.stmt) -> int:
    """The line a definition starts on (its first decorator's; also what its code object reports)."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def definitions(tree: ast.Module) -> list[tuple[str, Function, ast.ClassDef | None]]:
    """(qualname, def, owning class) of top-level functions and methods of top-level classes:
    the functions mining, splicing and the editor features work on."""
    found: list[tuple[str, Function, ast.ClassDef | None]] = []
    for node in tree.body:
        if isinstance(node, FunctionNode):
            found.append((node.name, node, None))
        elif isinstance(node, ast.ClassDef):
            found += [(f"{node.name}.{m.name}", m, node) for m in node.body if isinstance(m, FunctionNode)]
    return found


def find_function(tree: ast.Module, qualname: str) -> tuple[Function, ast.ClassDef | None]:
    """The def named by `func` or `Class.method` at the top level of a module."""
    for name, fn, owner in definitions(tree):
        if name == qualname:
            return fn, owner
    raise KeyError(qualname)


def _segment(lines: list[str], node: ast.stmt) -> str:
    return textwrap.dedent("".join(lines[first_line(node) - 1 : node.end_lineno]))


def _candidate_parts(candidate: str, name: str) -> tuple[Function, str, list[ast.stmt], list[str]]:
    try:
        tree = parse_python(candidate)
    except SyntaxError as e:
        raise SpliceError(f"the candidate does not parse: {e.msg} (line {e.lineno})") from e
    lines = candidate.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, FunctionNode) and node.name == name:
            return node, _segment(lines, node), [n for n in tree.body if n is not node], lines
    for node in tree.body:  # the function inside a class the model wrapped it in
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, FunctionNode) and member.name == name:
                    return member, _segment(lines, member), [n for n in tree.body if n is not node], lines
    raise SpliceError(f"the candidate does not define {name}()")


def splice_function(module_source: str, qualname: str, candidate: str) -> str:
    """The module's source with `qualname`'s definition replaced by the candidate's."""
    tree = parse_python(module_source)
    target, owner = find_function(tree, qualname)
    lines = module_source.splitlines(keepends=True)
    node, code, others, cand_lines = _candidate_parts(candidate, qualname.split(".")[-1])
    if not node.decorator_list and target.decorator_list:
        first = first_line(target)
        code = textwrap.dedent("".join(lines[first - 1 : target.lineno - 1])) + code
    defined = {n.name for n in tree.body if isinstance(n, (*FunctionNode, ast.ClassDef))}
    defined |= {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
    }
    extras = []
    for other in others:
        if isinstance(other, ast.ImportFrom) and other.module == "__future__":
            continue  # legal only at the top of a module, which has its own
        if isinstance(other, (*FunctionNode, ast.ClassDef)) and other.name in defined:
            continue
        if isinstance(other, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in defined for t in other.targets
        ):
            continue
        extras.append(_segment(cand_lines, other))
    indent = lines[target.lineno - 1][
        : len(lines[target.lineno - 1]) - len(lines[target.lineno - 1].lstrip())
    ]
    body = textwrap.indent(code, indent) if indent else code
    if not body.endswith("\n"):
        body += "\n"
    before, after = lines[: first_line(target) - 1], lines[target.end_lineno :]
    extra_text = "".join(e if e.endswith("\n") else e + "\n" for e in extras)
    if owner is None:
        spliced = "".join(before) + extra_text + body + "".join(after)
    else:
        tail = "".join(after)
        if tail and not tail.endswith("\n"):
            tail += "\n"
        spliced = "".join(before) + body + tail + ("\n" + extra_text if extra_text else "")
    try:
        parse_python(spliced)
    except SyntaxError as e:
        raise SpliceError(f"the spliced module does not parse: {e.msg} (line {e.lineno})") from e
    return spliced


def stub_body(module_source: str, qualname: str) -> str:
    """The module with the function's body replaced by `raise NotImplementedError` (its
    docstring kept), to see whether the tests really depend on it."""
    tree = parse_python(module_source)
    target, _ = find_function(tree, qualname)
    lines = module_source.splitlines(keepends=True)
    body = target.body
    keep_doc = (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )
    first_stmt = body[1] if keep_doc and len(body) > 1 else (None if keep_doc else body[0])
    if first_stmt is None:  # docstring only: nothing to remove
        return module_source
    start = first_line(first_stmt)  # a decorated inner function starts at its decorator
    line = lines[start - 1]
    indent = line[: len(line) - len(line.lstrip())]
    if start == target.lineno:  # `def f(): return x` on one line
        head = line[: first_stmt.col_offset]
        return (
            "".join(lines[: start - 1])
            + head
            + "raise NotImplementedError\n"
            + "".join(lines[target.end_lineno :])
        )
    return (
        "".join(lines[: start - 1])
        + f"{indent}raise NotImplementedError\n"
        + "".join(lines[target.end_lineno :])
    )


FORWARD = "__prochemy_forward__"  # the name a forwarding stub calls (sandbox/isolate.py)


def forwarding_stub(module_source: str, qualname: str) -> str:
    """The module with the function's body replaced by a call forwarded to the isolated
    candidate: same signature and decorators (so defaults, `self` and decorators behave as
    before), arguments passed in the shape they were bound."""
    tree = parse_python(module_source)
    target, _ = find_function(tree, qualname)
    if isinstance(target, ast.AsyncFunctionDef):
        raise SpliceError("async functions cannot be run isolated from their tests")
    a = target.args
    positional = [p.arg for p in a.posonlyargs + a.args]
    if a.vararg is not None:
        positional.append("*" + a.vararg.arg)
    keywords = [f"{p.arg!r}: {p.arg}" for p in a.kwonlyargs]
    if a.kwarg is not None:
        keywords.append("**" + a.kwarg.arg)
    generator = any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _own_nodes(target))
    call = (
        f"{FORWARD}({qualname!r}, ({', '.join(positional)}{',' if len(positional) == 1 else ''}), "
        f"{{{', '.join(keywords)}}})"
    )
    statement = f"yield from {call}" if generator else f"return {call}"
    lines = module_source.splitlines(keepends=True)
    first = target.body[0]
    keep_doc = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    indent = " " * (target.col_offset + 4)
    head_end = first.end_lineno if keep_doc else first_line(first) - 1
    if not keep_doc and first.lineno == target.lineno:  # `def f(): return x` on one line
        line = lines[first.lineno - 1]
        return (
            "".join(lines[: first.lineno - 1])
            + line[: first.col_offset]
            + statement
            + "\n"
            + "".join(lines[target.end_lineno :])
        )
    return "".join(lines[:head_end]) + indent + statement + "\n" + "".join(lines[target.end_lineno :])


def without_decorators(module_source: str, qualname: str) -> str:
    """The module with the function's decorators blanked out (line numbers kept): the
    isolated candidate is called raw, its decorators already applied around the stub."""
    tree = parse_python(module_source)
    target, _ = find_function(tree, qualname)
    if not target.decorator_list:
        return module_source
    lines = module_source.splitlines(keepends=True)
    for i in range(first_line(target) - 1, target.lineno - 1):
        lines[i] = "\n"
    return "".join(lines)


def _own_nodes(fn: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body, not of functions or classes nested in it."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, (*FunctionNode, ast.Lambda, ast.ClassDef)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))
