"""Functions in a module's text: which one is at a line, and whether it is still a stub."""

from __future__ import annotations

import ast

from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.splice import Function, definitions, first_line
from pydantic import BaseModel

from .repo_statement import docstring_node


class FunctionSpan(BaseModel):
    qualname: str
    first_line: int  # 0-based, the first decorator's line
    last_line: int  # 0-based, inclusive
    is_stub: bool  # body empty, `...`, `pass` or `raise NotImplementedError`


def _is_stub(fn: Function) -> bool:
    body = fn.body[1:] if docstring_node(fn) is not None else fn.body
    if not body:
        return True
    if len(body) != 1:
        return False
    stmt = body[0]
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis:
        return True
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def functions_in(source: str) -> list[FunctionSpan]:
    """Top-level functions and methods of top-level classes (what mining and splicing use)."""
    try:
        tree = parse_python(source)
    except SyntaxError:
        return []
    spans = []
    for qualname, fn, _ in definitions(tree):
        spans.append(
            FunctionSpan(
                qualname=qualname,
                first_line=first_line(fn) - 1,
                last_line=(fn.end_lineno or fn.lineno) - 1,
                is_stub=_is_stub(fn),
            )
        )
    return spans


def function_at(source: str, line: int) -> FunctionSpan | None:
    """The innermost mined-kind function whose lines contain `line` (0-based)."""
    inside = [s for s in functions_in(source) if s.first_line <= line <= s.last_line]
    return min(inside, key=lambda s: s.last_line - s.first_line) if inside else None
