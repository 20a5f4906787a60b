"""Tiny fixture repositories written into a temp dir, and a hash of a whole tree."""

from __future__ import annotations

import hashlib
import os
import sys
import textwrap
from pathlib import Path

from prochemy.optimizer.judging import RepoJudge
from prochemy.optimizer.tasks import RepoTask
from prochemy.sandbox.models import RunResult
from prochemy.sandbox.repo_runner import RepoRunner

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shelfkit"


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def tree_hash(root: Path) -> str:
    """Every path, mode and byte under root (a changed or new file, a .pyc, shows)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode() + oct(path.stat().st_mode).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


FLAT = {
    "calc.py": '''
        def add(a, b):
            """Sum of a and b."""
            return a + b


        def mul(a, b):
            """Product of a and b."""
            total = 0
            for _ in range(b):
                total += a
            return total


        def unused(x):
            """Nothing calls this."""
            return x - 1


        def shout(text):
            """Upper-case text with a '!'."""
            return text.upper() + "!"
        ''',
    "tests/test_calc.py": """
        from calc import add, mul, shout


        def test_add():
            assert add(2, 3) == 5


        def test_mul():
            assert mul(4, 3) == 12


        def test_shout_smoke():
            try:
                shout("x")
            except Exception:
                pass
        """,
}

SRC_LAYOUT = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        pythonpath = ["src"]
        testpaths = ["tests"]
        """,
    "src/geo/__init__.py": "",
    "src/geo/shapes.py": '''
        import math


        class Circle:
            def __init__(self, r):
                self.r = r

            def area(self):
                """pi r squared."""
                return math.pi * self.r ** 2

            def scaled(self, k):
                """A circle k times larger."""
                return Circle(self.r * k)
        ''',
    "tests/conftest.py": """
        import pytest

        from geo.shapes import Circle


        @pytest.fixture
        def unit():
            return Circle(1)
        """,
    "tests/test_shapes.py": """
        import math
        import socket


        def test_area(unit):
            assert math.isclose(unit.area(), math.pi)


        def test_scaled(unit):
            assert unit.scaled(3).r == 3


        def test_needs_network():
            socket.create_connection(("example.com", 80), timeout=3)
        """,
}

BESIDE = {  # tests next to the code, *_test.py naming
    "pkg/__init__.py": "",
    "pkg/words.py": '''
        def count_words(text):
            """Number of whitespace-separated words."""
            return len(text.split())
        ''',
    "pkg/words_test.py": """
        from pkg.words import count_words


        def test_count():
            assert count_words("a b  c") == 3
        """,
}


async def judge_repo(runner: RepoRunner, task: RepoTask, code: str) -> RunResult:
    """A repository candidate's verdict, as the evaluator and the use cases get it."""
    return (await RepoJudge(runner).judge(task, code)).result


def python_for(tier: str, readable: Path) -> str:
    """Our interpreter, except for the process tier as root: one an unprivileged uid can run."""
    return str(readable) if tier == "process" and os.geteuid() == 0 else sys.executable
