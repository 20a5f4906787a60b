"""Pull the program out of a model's answer.

Order: a fenced block that defines the entry point, else the first fenced block, else the
whole text if it parses. Then drop what would pollute a test run: `if __name__ ==
"__main__":` demos, top-level calls and prints, example asserts. Imports the task's own
prompt declares (`from typing import List`) are kept in front.
"""

from __future__ import annotations

import ast
import re

from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.splice import first_line

_PYTHON = ("", "python", "py", "python3")
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block; an unclosed last fence runs to the end."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _parses(code: str) -> bool:
    try:
        parse_python(code)
    except SyntaxError:
        return False
    return True


def code_complete(text: str, entry_point: str | None) -> bool:
    """Whether a streamed answer can stop here without changing what `extract_code` takes
    from it: a closed fenced Python block that defines the entry point (the first closed
    Python block, without one). `choose_code` takes the first block that does, so nothing
    the model writes after it could be chosen instead."""
    for m in _FENCE.finditer(text):
        if not m.group(0).endswith("```") or m.group(0).count("```") < 2:
            return False  # the last fence is still open
        if m.group(1).lower() not in _PYTHON:
            continue
        if not entry_point or _defines(m.group(2), entry_point):
            return True
    return False


# A top-level line that starts what `strip_demo_code` removes: a call, a print, an assert,
# an `if __name__ == "__main__":` demo. Assignments, definitions and imports are not.
_DEMO_LINE = re.compile(r"(print\s*\(|assert\b|if\s+__name__\b|[A-Za-z_][\w.]*\s*\()")


def demo_started(text: str, entry_point: str | None) -> bool:
    """Whether an answer whose Python block is still open has finished its code: the block's
    last complete line starts a top-level demo statement and everything before it parses
    and defines the entry point. A continued stub (`prefill_code`) often runs on into
    examples without closing its fence, which `code_complete` would wait for until
    max_tokens. Not output-neutral in every case: a helper defined after the examples is
    lost (the cut answer then fails with a NameError), so it applies to prefilled answers."""
    blocks = list(_FENCE.finditer(text))
    last = blocks[-1] if blocks else None
    if not entry_point or last is None or last.group(0).count("```") >= 2:
        return False  # no block, or the last one is closed (code_complete's case)
    if last.group(1).lower() not in _PYTHON:
        return False
    lines = last.group(2).split("\n")[:-1]  # complete lines only
    if not lines or not _DEMO_LINE.match(lines[-1]):
        return False
    before = "\n".join(lines[:-1]) + "\n"
    return _defines(before, entry_point) and _parses(before)


def choose_code(text: str, entry_point: str | None) -> str:
    blocks = [body for lang, body in fenced_blocks(text) if lang in _PYTHON]
    if entry_point:
        for body in blocks:
            if _defines(body, entry_point):
                return body
    if blocks:
        return blocks[0]
    return text


def strip_demo_code(code: str) -> str:
    """Remove top-level statements that run at import time but define nothing."""
    try:
        tree = parse_python(code)
    except SyntaxError:
        return code  # leave it whole: the sandbox reports the syntax error
    lines = code.splitlines(keepends=True)
    drop: set[int] = set()
    for node in tree.body:
        if _is_demo(node):
            start = first_line(node)
            drop.update(range(start - 1, node.end_lineno or node.lineno))
    return "".join(line for i, line in enumerate(lines) if i not in drop)


def _is_demo(node: ast.stmt) -> bool:
    if isinstance(node, ast.If):
        test = node.test
        return (
            isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
        )
    if isinstance(node, ast.Assert):
        return True  # example asserts: the task's own tests judge the code
    if isinstance(node, ast.Expr):
        # a top-level call or print; a module docstring is harmless but useless too
        return True
    return False


def prompt_imports(prompt: str) -> list[str]:
    """Top-level import lines of the task's prompt, which the model may omit."""
    return [
        line for line in prompt.splitlines() if re.match(r"^(import\s+\w|from\s+[\w.]+\s+import\s)", line)
    ]


def drop_broken_tail(code: str, entry_point: str | None) -> str:
    """An answer cut off by max_tokens often ends inside trailing examples or asserts; keep
    the longest prefix that parses and still defines the entry point."""
    if _parses(code) or not entry_point:
        return code
    lines = code.splitlines(keepends=True)
    for end in range(len(lines) - 1, 0, -1):
        prefix = "".join(lines[:end])
        if _defines(prefix, entry_point) and _parses(prefix):
            return prefix
    return code  # broken early: leave it whole, the sandbox reports the syntax error


def extract_java(text: str) -> str:
    """A Java answer: the first ```java block (or unlabelled one) declaring class Solution,
    else the first such block, else the whole text."""
    blocks = [body for lang, body in fenced_blocks(text) if lang == "java"]
    blocks = blocks or [body for lang, body in fenced_blocks(text) if lang == ""]
    chosen = next((b for b in blocks if re.search(r"\bclass\s+Solution\b", b)), blocks[0] if blocks else text)
    return chosen.strip() + "\n"


def extract_code(text: str, entry_point: str | None = None, prompt: str = "") -> str:
    code = choose_code(text, entry_point)
    if entry_point and not _defines(code, entry_point) and code.startswith((" ", "\t")) and prompt:
        code = prompt + code  # the model answered with the body only: complete the stub
    code = strip_demo_code(drop_broken_tail(code, entry_point))
    missing = [line for line in prompt_imports(prompt) if line not in code]
    if missing:
        code = "\n".join(missing) + "\n\n" + code
    return code.strip() + "\n"
