"""A repository on disk: which interpreter runs its tests, and which files are which."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from ...sandbox.isolate import module_name as isolate_module_name

# Never part of the project's own code.
SKIP_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "env",
    ".env",
    ".tox",
    ".nox",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    ".eggs",
    "site-packages",
}
TEST_DIRS = {"tests", "test", "testing"}
CONFIG_FILES = ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "conftest.py")


class RepoError(Exception):
    """The repository cannot be used as it is; the message says what was looked for."""


class Interpreter(BaseModel):
    path: str
    reason: str  # why this one, for `doctor` and the mining report
    pytest_version: str


def find_interpreter(root: Path, configured: Path | None) -> Interpreter:
    """The repo's own environment first, since its tests need its dependencies."""
    if configured is not None:
        candidates = [(configured, "test.python in the configuration")]
    else:
        candidates = [
            (root / name / "bin" / "python", f"the project's own {name}/") for name in (".venv", "venv")
        ]
        candidates.append(
            (
                Path(sys.executable),
                "no .venv/ or venv/ in the project and test.python "
                "is not set: Prochemy's own interpreter (the project's dependencies must "
                "be importable there)",
            )
        )
    for path, reason in candidates:
        if not path.exists():
            if configured is not None:
                raise RepoError(f"test.python = {configured} does not exist")
            continue
        version = _pytest_version(path)
        if version is None:
            raise RepoError(
                f"pytest is not installed for {path} ({reason}); install it there "
                f"(`{path} -m pip install pytest`) or set test.python"
            )
        return Interpreter(path=str(path), reason=reason, pytest_version=version)
    raise RepoError("no Python interpreter found")  # unreachable: sys.executable exists


_PYTEST_VERSIONS: dict[tuple[str, float], str] = {}


def _pytest_version(python: Path) -> str | None:
    """pytest's version under that interpreter; successes are cached (an editor asks on every
    generate), a failure is asked again so installing pytest needs no restart."""
    key = (str(python), python.stat().st_mtime)
    if key not in _PYTEST_VERSIONS:
        try:
            done = subprocess.run(
                [str(python), "-c", "import pytest; print(pytest.__version__)"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except OSError:
            return None
        if done.returncode != 0:
            return None
        _PYTEST_VERSIONS[key] = done.stdout.strip()
    return _PYTEST_VERSIONS[key]


def python_files(root: Path) -> list[Path]:
    """Every .py file of the project, relative to root, outside environments and builds."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS or (part.startswith(".") and part != ".") for part in rel.parts[:-1]):
            continue
        found.append(rel)
    return found


def is_test_file(rel: Path) -> bool:
    name = rel.name
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or any(part in TEST_DIRS for part in rel.parts[:-1])
    )


def tree_fingerprint(root: Path, files: list[Path]) -> str:
    """Changes when a test, a source file or the test configuration changes."""
    digest = hashlib.sha256()
    for rel in sorted(set(files) | {Path(c) for c in CONFIG_FILES if (root / c).is_file()}):
        digest.update(str(rel).encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return digest.hexdigest()


def module_name(root: Path, rel: Path) -> str:
    """Dotted import name of a file as pytest imports it (walk up while the folder is a
    package), so src/, flat and nested layouts agree with the isolated run's naming."""
    return isolate_module_name(str(root), str(rel))[0]


def module_map(root: Path, files: list[Path]) -> dict[str, Path]:
    """Dotted module name -> file, for `files` of the repository at `root`."""
    return {module_name(root, f): f for f in files}


def package_of(root: Path, rel: Path) -> str:
    """The package a module belongs to, for resolving its relative imports."""
    name = module_name(root, rel)
    return name if rel.name == "__init__.py" else name.rpartition(".")[0]


class Project(BaseModel):
    """A repository resolved once at the entry point: its root, the interpreter that runs
    its tests, its Python files and their fingerprint."""

    root: Path
    interpreter: Interpreter
    files: list[Path]
    fingerprint: str

    @classmethod
    def resolve(cls, root: Path, python: Path | None) -> Project:
        """Walks the tree and asks the interpreter for pytest's version: call off the event
        loop where an editor waits."""
        root = root.resolve()
        if not root.is_dir():
            raise RepoError(f"{root} is not a directory")
        files = python_files(root)
        return cls(
            root=root,
            interpreter=find_interpreter(root, python),
            files=files,
            fingerprint=tree_fingerprint(root, files),
        )

    def modules(self) -> dict[str, Path]:
        """Dotted module name -> file, as pytest would import each."""
        return module_map(self.root, self.files)
