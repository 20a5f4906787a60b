"""A repository pass confirmed with the candidate in its own process (sandbox/isolate.py):
what must behave as it does in pytest's process (mutated `self`, callbacks both ways,
returned functions, generators, infinite iterators, the repository's exceptions,
`__file__`, objects rebuilt by a function (a class's `__reduce__`, `re.Pattern`), a
callback's name and signature, `argparse.Namespace`), and what must end as "not
confirmed" rather than a pass."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prochemy.optimizer.tasks import RepoTarget, RepoTask
from prochemy.sandbox.models import SandboxSettings
from prochemy.sandbox.repo_runner import RepoRunner
from prochemy.sandbox.splice import SpliceError, forwarding_stub

from ..repos import judge_repo, write_repo

LIB = """
import argparse
import functools
import inspect
import itertools
import re


class Bag:
    def __init__(self):
        self.items = []

    def put(self, x):
        self.items.append(x)
        return self

    @property
    def size(self):
        return len(self.items)

    @classmethod
    def of(cls, *xs):
        bag = cls()
        bag.items.extend(xs)
        return bag


class Oops(ValueError):
    pass


def apply(fn, x):
    return fn(x)


def adder(n):
    return lambda x: x + n


def evens(limit=None):
    i = 0
    while limit is None or i < limit:
        yield i
        i += 2


def naturals():
    return itertools.count()


def fail(x):
    raise Oops(f"bad {x}")


def first(it):
    return next(iter(it))


def here():
    return __file__


def extend(target, *more, twice=False):
    for x in more:
        target.append(x)
        if twice:
            target.append(x)


class Zone:
    def __reduce__(self):
        return _zone, ()


ZONE = Zone()


def _zone():
    return ZONE


def same_zone(z):
    return z


def matches(pattern, text):
    return [m.group() for m in pattern.finditer(text)]


def describe(fn):
    return fn.__name__, list(inspect.signature(fn).parameters)


def wrapped(fn):
    @functools.wraps(fn)
    def call(*args):
        return fn(*args)

    return call


def options(**values):
    return argparse.Namespace(**values)


def flag():
    return re.IGNORECASE
"""

TESTS = """
import itertools

import pytest

import re

from lib import (
    ZONE, Bag, Oops, Zone, adder, apply, describe, evens, extend, fail, first, flag, here,
    matches, naturals, options, same_zone, wrapped,
)


def test_put():
    bag = Bag()
    items = bag.items
    assert bag.put(1) is bag
    assert bag.items == [1] and bag.items is items


def test_size():
    assert Bag.of(1, 2).size == 2


def test_of():
    assert Bag.of(1, 2).items == [1, 2]


def test_apply():
    assert apply(lambda v: v * 3, 2) == 6
    assert apply(lambda v: apply(lambda w: w + 1, v), 1) == 2


def test_adder():
    assert adder(2)(3) == 5


def test_evens():
    assert list(evens(5)) == [0, 2, 4]


def test_naturals():
    assert list(itertools.islice(naturals(), 3)) == [0, 1, 2]


def test_fail():
    with pytest.raises(Oops, match="bad 1"):
        fail(1)


def test_first():
    assert first(x for x in [7, 8]) == 7


def test_here():
    assert here().endswith("lib.py")


def test_extend():
    xs = [0]
    extend(xs, 1, 2, twice=True)
    assert xs == [0, 1, 1, 2, 2]


def test_same_zone():
    assert isinstance(same_zone(ZONE), Zone)


def test_matches():
    assert matches(re.compile(r"[0-9]+"), "a1b22") == ["1", "22"]


def helper(a, b=1):
    return a + b


def test_describe():
    assert describe(helper) == ("helper", ["a", "b"])


def test_wrapped():
    assert wrapped(helper).__name__ == "helper"
    assert wrapped(helper)(2) == 3


def test_options():
    assert options(x=1).x == 1


def test_flag():
    assert flag() is re.IGNORECASE
"""

CASES = {
    "Bag.put": "test_put",
    "Bag.size": "test_size",
    "Bag.of": "test_of",
    "apply": "test_apply",
    "adder": "test_adder",
    "evens": "test_evens",
    "naturals": "test_naturals",
    "fail": "test_fail",
    "first": "test_first",
    "here": "test_here",
    "extend": "test_extend",
    "same_zone": "test_same_zone",
    "matches": "test_matches",
    "describe": "test_describe",
    "wrapped": "test_wrapped",
    "options": "test_options",
    "flag": "test_flag",
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_repo(tmp_path_factory.mktemp("iso") / "repo", {"lib.py": LIB, "tests/test_lib.py": TESTS})


def _task(repo: Path, qualname: str, test: str) -> RepoTask:
    return RepoTask(
        id=f"lib:{qualname}",
        statement="s",
        entry_point=qualname.split(".")[-1],
        origin="repository",
        repo=RepoTarget(
            root=str(repo),
            module="lib.py",
            qualname=qualname,
            node_ids=[f"tests/test_lib.py::{test}"],
            tree="t",
        ),
    )


def _reference(qualname: str) -> str:
    import ast
    import textwrap

    from prochemy.sandbox.splice import find_function, first_line

    tree = ast.parse(LIB)
    fn, _ = find_function(tree, qualname)
    lines = LIB.splitlines(keepends=True)
    return textwrap.dedent("".join(lines[first_line(fn) - 1 : fn.end_lineno]))


async def test_what_works_in_pytests_process_is_confirmed_in_isolation(repo: Path) -> None:
    async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
        for qualname, test in CASES.items():
            result = await judge_repo(runner, _task(repo, qualname, test), _reference(qualname))
            assert result.passed, (qualname, result.detail)


async def test_a_wrong_answer_fails_in_isolation_too(repo: Path) -> None:
    """Wrong code that the shared run would already fail; run isolated directly here."""
    async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
        source = LIB.replace("        target.append(x)\n        if twice", "        if twice")
        run = await runner.run_isolated(
            ["tests/test_lib.py::test_extend"],
            "lib.py",
            "extend",
            __import__("textwrap").dedent(source).lstrip(),
        )
    assert run.result.outcome.value == "failed"


async def test_an_argument_that_cannot_cross_is_not_confirmed(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "lib.py": "def size(f):\n    return len(f.read())\n",
            "tests/test_lib.py": "import pytest\nfrom lib import size\n\n\ndef test_size(tmp_path):\n"
            "    (tmp_path / 'x').write_text('abc')\n"
            "    with open(tmp_path / 'x') as f:\n        assert size(f) == 3\n"
            "    try:\n        size(open(tmp_path / 'x'))\n"
            "    except Exception:\n        pass\n",
        },
    )
    task = RepoTask(
        id="lib:size",
        statement="s",
        entry_point="size",
        origin="repository",
        repo=RepoTarget(
            root=str(repo),
            module="lib.py",
            qualname="size",
            node_ids=["tests/test_lib.py::test_size"],
            tree="t",
        ),
    )
    async with RepoRunner(repo, sys.executable, SandboxSettings(level="bwrap")) as runner:
        result = await judge_repo(runner, task, "def size(f):\n    return len(f.read())\n")
    assert result.outcome.value == "error"
    assert "not confirmed in isolation" in result.detail and "cannot be sent" in result.detail


def test_async_functions_are_not_stubbed() -> None:
    with pytest.raises(SpliceError, match="async"):
        forwarding_stub("async def f(x):\n    return x\n", "f")


def test_the_tests_never_hand_the_candidate_a_builtin() -> None:
    """A test that passes `getattr` or `exec` as a callback must not give the candidate a
    handle that runs them in the tests' process: builtins cross by name (C's own copy)."""
    from prochemy.sandbox import isolate

    for builtin in (getattr, exec, eval, setattr, __import__):
        assert isolate._travels_as_handle(builtin) is None
    assert isolate._travels_as_handle(lambda: 0) == "call"
    assert isolate._travels_as_handle(iter([1])) == "iter"
