"""What the model is shown for a repository function: what a developer would see around it.

The module's imports, the module-level names the function uses (constants in full when
short, functions and classes by signature and docstring, including project functions it
imports), the enclosing class (its fields and __init__ in full, since they define the
state a method works on, other members by signature), then the signature and docstring.
The original body is never shown.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from prochemy.sandbox.pyparse import parse_python
from prochemy.sandbox.splice import Function, FunctionNode, find_function, first_line

from .repo_env import package_of

_MAX_CONSTANT_CHARS = 300
# phrases of the statement that tasks/related_tests.py rewrites when it shows the tests
TESTS_HIDDEN = "The project's tests will check it; they are not shown."
TESTS_SHOWN = "The project's tests shown below check it."
WRITE_IT = "Write the complete function, with this signature and docstring:"


def _source(lines: list[str], first: int, last: int | None) -> str:
    return textwrap.dedent("".join(lines[first - 1 : last]))


def docstring_node(fn: ast.AST) -> ast.Expr | None:
    body = getattr(fn, "body", [])
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0]
    return None


def header(lines: list[str], fn: Function, with_doc: bool = True, first_doc_line: bool = False) -> str:
    """Decorators, `def ...:` and the docstring (or its first line), with `...` as body."""
    body_start = fn.body[0].lineno
    head = _source(lines, first_line(fn), body_start - 1) if body_start > fn.lineno else None
    if head is None:  # `def f(): return x` on one line
        line = lines[fn.lineno - 1]
        head = textwrap.dedent(line[: line.index(":", line.index(")")) + 1]) + "\n"
    indent = " " * 4
    doc = docstring_node(fn)
    if doc is not None and with_doc:
        if first_doc_line:
            first = (ast.get_docstring(fn) or "").strip().splitlines()[0:1]
            return head + (f'{indent}"""{first[0]}"""\n' if first else "") + f"{indent}...\n"
        return head + textwrap.indent(_source(lines, doc.lineno, doc.end_lineno), indent)
    return head + f"{indent}...\n"


def used_names(fn: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}


def _module_defs(tree: ast.Module) -> dict[str, ast.stmt]:
    defs: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (*FunctionNode, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    defs[t.id] = node
    return defs


def _describe_def(lines: list[str], node: ast.stmt) -> str:
    if isinstance(node, FunctionNode):
        return header(lines, node)
    if isinstance(node, ast.ClassDef):
        return class_outline(lines, node, exclude=None)
    text = _source(lines, node.lineno, node.end_lineno)
    if len(text) > _MAX_CONSTANT_CHARS:
        assert isinstance(node, (ast.Assign, ast.AnnAssign))
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        return f"{ast.unparse(target)} = ...  # long value\n"
    return text


def class_outline(lines: list[str], cls: ast.ClassDef, exclude: str | None) -> str:
    """The class with its fields and __init__ in full and other members by signature."""
    out = [_source(lines, first_line(cls), cls.body[0].lineno - 1)]
    indent = " " * 4
    for member in cls.body:
        if isinstance(member, FunctionNode):
            if member.name == exclude:
                continue
            text = (
                _source(lines, first_line(member), member.end_lineno)
                if member.name == "__init__"
                else header(lines, member, first_doc_line=True)
            )
        elif member is cls.body[0] and docstring_node(cls) is not None:
            text = _source(lines, member.lineno, member.end_lineno)
        elif isinstance(member, (ast.Assign, ast.AnnAssign)):
            text = _source(lines, member.lineno, member.end_lineno)
        else:
            continue
        out.append(textwrap.indent(text, indent))
    return "".join(out)


def _imported_project_defs(
    tree: ast.Module, names: set[str], package: str, modules: dict[str, Path], root: Path
) -> list[str]:
    """Signature + docstring of project functions/classes the function uses via an import."""
    shown = []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        path = modules.get(target)
        if path is None:
            continue
        other = parse_python((root / path).read_text())
        other_lines = (root / path).read_text().splitlines(keepends=True)
        defs = _module_defs(other)
        for alias in node.names:
            if (alias.asname or alias.name) in names and alias.name in defs:
                shown.append(f"# from {target}\n" + _describe_def(other_lines, defs[alias.name]))
    return shown


def build_statement(
    root: Path, rel: Path, qualname: str, modules: dict[str, Path], source: str | None = None
) -> str:
    """`source` replaces the module's text on disk (a synthetic variant's docstring)."""
    source = (root / rel).read_text() if source is None else source
    tree = parse_python(source)
    lines = source.splitlines(keepends=True)
    fn, owner = find_function(tree, qualname)
    names = used_names(fn)
    imports = [
        segment
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        if (segment := ast.get_source_segment(source, n)) is not None
    ]
    defs = _module_defs(tree)
    context = [
        _describe_def(lines, defs[name])
        for name in sorted(names)
        if name in defs and defs[name] is not fn and defs[name] is not owner
    ]
    context += _imported_project_defs(tree, names, package_of(root, rel), modules, root)
    parts = [f"Implement `{qualname}` in `{rel}` of this Python project. {TESTS_HIDDEN}\n"]
    if imports:
        parts.append("The module's imports:\n```python\n" + "\n".join(imports) + "\n```\n")
    if context:
        parts.append(
            "Names it can use:\n```python\n" + "\n".join(c.rstrip() + "\n" for c in context) + "```\n"
        )
    if owner is not None:
        parts.append(
            f"It is a method of this class (other members shown by signature):\n"
            f"```python\n{class_outline(lines, owner, exclude=fn.name)}```\n"
        )
    parts.append(f"{WRITE_IT}\n```python\n{header(lines, fn)}```\n")
    parts.append(
        "Answer with the code of that one function in a ```python block"
        + (" (the method alone, not the class)." if owner is not None else ".")
    )
    return "\n".join(parts)
