"""Splicing a model's function into a module's source (pure text, no sandbox)."""

from __future__ import annotations

import ast

import pytest
from prochemy.sandbox.splice import SpliceError, forwarding_stub, splice_function, stub_body

MODULE = '''import functools

LIMIT = 3


def helper(x):
    return x * 2


@functools.lru_cache(maxsize=None)
def target(n: int) -> int:
    """Double n."""
    return helper(n)


class Box:
    def __init__(self, items):
        self.items = items

    @property
    def size(self) -> int:
        """How many items."""
        return len(self.items)

    async def fetch(self, i):
        return self.items[i]
'''


def _run(source: str) -> dict:
    namespace: dict = {}
    exec(compile(source, "<m>", "exec"), namespace)
    return namespace


def test_function_keeps_original_decorators_when_the_candidate_has_none() -> None:
    out = splice_function(MODULE, "target", "def target(n):\n    return n + n + 1\n")
    ns = _run(out)
    assert ns["target"](2) == 5
    assert hasattr(ns["target"], "cache_info")  # lru_cache kept
    assert out.count("def target") == 1


def test_candidate_decorators_win_and_nested_functions_survive() -> None:
    cand = (
        "@functools.lru_cache(maxsize=1)\ndef target(n):\n    def inner(k):\n"
        "        return k * 10\n    return inner(n)\n"
    )
    ns = _run(splice_function(MODULE, "target", cand))
    assert ns["target"](2) == 20 and ns["target"].cache_info().maxsize == 1


def test_method_is_reindented_and_property_kept() -> None:
    out = splice_function(MODULE, "Box.size", "def size(self):\n    return 99\n")
    assert _run(out)["Box"]([1]).size == 99


def test_method_answer_wrapped_in_its_class_and_with_imports() -> None:
    cand = (
        "import math\n\nclass Box:\n    def size(self):\n        return math.floor(len(self.items) * 1.5)\n"
    )
    out = splice_function(MODULE, "Box.size", cand)
    assert _run(out)["Box"]([1, 2]).size == 3
    assert out.rstrip().endswith("import math")  # imports of a method's answer go to the end


def test_async_method() -> None:
    import asyncio

    out = splice_function(MODULE, "Box.fetch", "async def fetch(self, i):\n    return -self.items[i]\n")
    assert asyncio.run(_run(out)["Box"]([4]).fetch(0)) == -4


def test_helpers_that_shadow_module_names_are_dropped() -> None:
    cand = (
        "def helper(x):\n    return 0\n\ndef extra(x):\n    return x\n\n"
        "def target(n):\n    return extra(helper(n))\n"
    )
    ns = _run(splice_function(MODULE, "target", cand))
    assert ns["target"](4) == 8  # the module's own helper is used


@pytest.mark.parametrize(
    "cand, message",
    [
        ("def target(n)\n    return n\n", "does not parse"),
        ("def other(n):\n    return n\n", "does not define target"),
    ],
)
def test_unusable_candidates(cand: str, message: str) -> None:
    with pytest.raises(SpliceError, match=message):
        splice_function(MODULE, "target", cand)


def test_stub_body_keeps_docstring_and_raises() -> None:
    out = stub_body(MODULE, "target")
    ast.parse(out)
    ns = _run(out)
    with pytest.raises(NotImplementedError):
        ns["target"].__wrapped__(1)
    assert ns["target"].__doc__ == "Double n."
    with pytest.raises(NotImplementedError):
        _ = _run(stub_body(MODULE, "Box.size"))["Box"]([]).size


def test_a_candidates_future_import_is_dropped() -> None:
    module = "from __future__ import annotations\n\nimport re\n\n\ndef f(x: int) -> int:\n    return x\n"
    cand = "from __future__ import annotations\nimport re\n\ndef f(x: int) -> int:\n    return x + 1\n"
    out = splice_function(module, "f", cand)
    assert out.count("from __future__") == 1 and _run(out)["f"](1) == 2


DECORATED_INNER = '''import functools


def wrap(fn):
    @functools.wraps(fn)
    def call(*args):
        return fn(*args)

    return call


def documented(fn):
    """Wrap fn."""
    @functools.wraps(fn)
    def call(*args):
        return fn(*args)

    return call
'''


@pytest.mark.parametrize("qualname", ["wrap", "documented"])
def test_a_body_that_starts_with_a_decorated_function_is_replaced_from_its_decorator(qualname: str) -> None:
    """The first statement of the body starts at its decorator: a stub that kept the
    decorator line would not parse (mining judged every test as depending on it)."""
    with pytest.raises(NotImplementedError):
        _run(stub_body(DECORATED_INNER, qualname))[qualname](len)
    forwarded = _run("__prochemy_forward__ = lambda *a: a\n" + forwarding_stub(DECORATED_INNER, qualname))
    assert forwarded[qualname](len) == (qualname, (len,), {})
