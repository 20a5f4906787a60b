"""The one way this process parses Python source into an AST.

CPython 3.11 keeps the AST builder's recursion counter in interpreter-wide state, so two
threads building ASTs at once can fail with "SystemError: AST constructor recursion depth
mismatch" (cpython gh-106905): a garbage collection inside one thread's build runs Python
code, the GIL passes to the other thread, and the counters interleave. The language server
parses on worker threads (mining, locating a function) while its event loop parses answers,
so every parse goes through one lock. Parsing is fast; the lock costs nothing measurable.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse_python(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse`, serialised across threads; raises SyntaxError (and ValueError for NUL bytes)
    as `ast.parse` does."""
    with _LOCK:
        return ast.parse(source, filename)
