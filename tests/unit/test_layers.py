"""The layering rules of ARCHITECTURE.md, checked on the source: imports point down only
(server -> optimizer -> sandbox), domain code holds no protocol types, and no module-level
import cycle exists (imports under `if TYPE_CHECKING:` do not count: they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"server": 2, "optimizer": 1, "sandbox": 0}


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return "prochemy." + ".".join(parts)


def _runtime_imports(path: Path) -> set[str]:
    """Absolute names of what a module imports when it runs."""
    tree = ast.parse(path.read_text())
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    name = ".".join(base + ([node.module] if node.module else []))
                else:
                    name = node.module or ""
                found.add(name)
                found.update(f"{name}.{a.name}" for a in node.names)
            for child in ("body", "orelse", "finalbody", "handlers"):
                if isinstance(getattr(node, child, None), list):
                    visit([n for n in getattr(node, child) if isinstance(n, ast.stmt)])

    visit(tree.body)
    return found


def _sources() -> dict[str, Path]:
    return {_module(p): p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))}


def test_imports_point_down_and_domain_has_no_protocol_types() -> None:
    upward, protocol = [], []
    for name, path in _sources().items():
        layer = name.split(".")[1]
        for imported in _runtime_imports(path):
            parts = imported.split(".")
            if parts[0] == "prochemy" and len(parts) > 1 and parts[1] in LAYERS:
                if LAYERS[parts[1]] > LAYERS[layer]:
                    upward.append(f"{name} -> {imported}")
            if layer != "server" and parts[0] in ("lsprotocol", "pygls"):
                protocol.append(f"{name} -> {imported}")
    assert not upward, upward
    assert not protocol, protocol


def test_no_import_cycles() -> None:
    sources = _sources()
    graph = {
        name: {m for imported in _runtime_imports(path) for m in (imported, imported.rpartition(".")[0])}
        & set(sources) - {name}
        for name, path in sources.items()
    }
    # a package's __init__ importing its own children is not a cycle worth reporting
    graph = {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                walk(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    assert not cycles, cycles


def test_python_is_parsed_only_through_the_locked_parser() -> None:
    """`ast.parse` from two threads can raise SystemError on CPython 3.11 (sandbox/pyparse.py)."""
    direct = [
        f"{name}:{node.lineno}"
        for name, path in _sources().items()
        if not name.endswith(".pyparse")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "parse"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "ast"
    ]
    assert not direct, direct
