"""The process-wide parser: one AST build at a time, whatever thread asks."""

from __future__ import annotations

import ast
import threading
import time

import pytest
from prochemy.sandbox import pyparse
from prochemy.sandbox.pyparse import parse_python


def test_parses_and_raises_like_ast_parse() -> None:
    tree = parse_python("def f(x):\n    return x\n")
    assert isinstance(tree.body[0], ast.FunctionDef) and tree.body[0].name == "f"
    with pytest.raises(SyntaxError):
        parse_python("def f(:\n")


def test_threads_never_build_two_trees_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ast.parse
    inside, most = 0, 0
    count = threading.Lock()

    def slow_parse(*args, **kwargs):  # pytest parses too, with more arguments
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        time.sleep(0.005)  # hands the GIL to the other threads mid-build, as a collection can
        with count:
            inside -= 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pyparse.ast, "parse", slow_parse)
    trees: list[ast.Module] = []
    workers = [
        threading.Thread(target=lambda: trees.extend(parse_python("x = 1\n") for _ in range(5)))
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(trees) == 20
    assert most == 1
