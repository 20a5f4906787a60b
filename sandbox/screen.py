"""A static screen for candidate code that will share a process with the repository's
tests (the repository runner cannot split them: the tests call the function with the
repository's own objects). Such code could reach the harness through introspection and
forge its report; no ordinary implementation of a library function needs these tools, so
a candidate that uses one is refused before it runs, with the reason."""

from __future__ import annotations

import ast

# Modules whose only use in a function body would be to reach past the function.
MODULES = {"gc", "inspect", "ctypes", "_ctypes", "pytest", "_pytest", "pluggy", "importlib",
           "builtins", "sys", "_thread", "threading", "signal", "faulthandler", "atexit",
           "multiprocessing", "subprocess", "mmap", "tracemalloc", "code", "pdb", "types"}
# Attributes that lead from a value to frames, globals, code or the class hierarchy.
ATTRIBUTES = {"f_back", "f_locals", "f_globals", "f_builtins", "f_code", "gi_frame", "cr_frame",
              "ag_frame", "tb_frame", "tb_next", "__globals__", "__code__", "__closure__",
              "__builtins__", "__subclasses__", "__bases__", "__mro__", "__base__",
              "__dict__", "__getattribute__", "__reduce_ex__", "__loader__", "__spec__",
              "_getframe", "settrace", "setprofile", "_exit", "modules", "kill", "killpg",
              "write", "fork", "execv", "execve", "dup2", "__import__"}
NAMES = {"__import__", "globals", "vars", "exec", "eval", "compile", "breakpoint",
         "__builtins__", "__loader__", "__spec__", "attrgetter", "methodcaller"}
DYNAMIC_ACCESS = {"getattr", "setattr", "delattr", "hasattr"}


def tamper_risk(code: str) -> str | None:
    """Why the code could tamper with an in-process test harness, or None."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None  # it will fail as a syntax error, in the sandbox, like any other
    for node in ast.walk(tree):
        what = _risk(node)
        if what is not None:
            return f"line {getattr(node, 'lineno', '?')}: {what}"
    return None


def _risk(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in MODULES:
                return f"imports {alias.name}"
    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in MODULES:
        return f"imports from {node.module}"
    if isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES:
        return f"uses .{node.attr}"
    if isinstance(node, ast.Name) and node.id in NAMES:
        return f"uses {node.id}"
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in DYNAMIC_ACCESS and len(node.args) >= 2):
        name = node.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            return f"{node.func.id} with a computed attribute name"
        if name.value.startswith("_") or name.value in ATTRIBUTES:
            return f"{node.func.id}(..., {name.value!r})"
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and "/proc/" in node.value:
        return "reads /proc"
    return None
