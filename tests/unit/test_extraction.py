"""Code extraction from realistic model answers."""

from __future__ import annotations

import pytest
from prochemy.optimizer.extraction import code_complete, demo_started, extract_code

PROMPT = 'from typing import List\n\n\ndef add(xs: List[int]) -> int:\n    """Sum xs."""\n'


def test_prose_around_a_fenced_block() -> None:
    answer = (
        "Sure! Here is the implementation:\n\n```python\ndef add(xs):\n    return sum(xs)\n```\n\n"
        "This function sums the list. It runs in O(n)."
    )
    code = extract_code(answer, "add", PROMPT)
    assert code.startswith("from typing import List\n")
    assert "def add(xs):\n    return sum(xs)" in code and "O(n)" not in code


def test_block_defining_the_entry_point_wins() -> None:
    answer = (
        "First a helper:\n```python\nimport math\n```\nThen:\n```python\ndef add(xs):\n"
        "    return sum(xs)\n```\nUsage:\n```python\nprint(add([1]))\n```"
    )
    code = extract_code(answer, "add")
    assert "def add" in code and "print" not in code and "import math" not in code


def test_first_block_when_none_defines_the_entry_point() -> None:
    answer = "```\ndef total(xs):\n    return sum(xs)\n```\n```python\nother = 1\n```"
    assert extract_code(answer, "add").startswith("def total")


def test_no_fences_whole_text_parses() -> None:
    answer = "def add(xs):\n    return sum(xs)\n"
    assert extract_code(answer, "add") == answer


def test_demo_code_and_example_asserts_are_dropped() -> None:
    answer = (
        "```python\ndef add(xs):\n    return sum(xs)\n\n\nassert add([1, 2]) == 4\n"
        "print(add([1, 2]))\nadd([3])\n\nif __name__ == '__main__':\n    import doctest\n"
        "    doctest.testmod()\n```"
    )
    code = extract_code(answer, "add")
    assert code == "def add(xs):\n    return sum(xs)\n"


def test_test_section_in_a_second_block_is_ignored() -> None:
    answer = (
        "```python\ndef add(xs):\n    return sum(xs)\n```\n\n### Tests\n```python\n"
        "import unittest\nclass T(unittest.TestCase):\n    def test(self):\n"
        "        self.assertEqual(add([1]), 1)\n```"
    )
    assert "unittest" not in extract_code(answer, "add")


def test_syntax_error_is_kept_for_the_sandbox_to_report() -> None:
    answer = "```python\ndef add(xs)\n    return sum(xs)\n```"
    assert "def add(xs)\n" in extract_code(answer, "add")


def test_unclosed_fence_runs_to_the_end() -> None:
    answer = "```python\ndef add(xs):\n    return sum(xs)\n"
    assert extract_code(answer, "add") == "def add(xs):\n    return sum(xs)\n"


def test_body_only_answer_completes_the_stub() -> None:
    answer = "```python\n    return sum(xs)\n```"
    code = extract_code(answer, "add", PROMPT)
    assert code.count("from typing import List") == 1
    assert 'def add(xs: List[int]) -> int:\n    """Sum xs."""\n    return sum(xs)' in code


def test_decorated_functions_and_classes_survive() -> None:
    answer = (
        "```python\nimport functools\n\n@functools.lru_cache\ndef add(n):\n    return n\n\n"
        "class Helper:\n    pass\n\nLIMIT = 3\n```"
    )
    code = extract_code(answer, "add")
    assert "@functools.lru_cache" in code and "class Helper" in code and "LIMIT = 3" in code


def test_answer_cut_off_inside_trailing_asserts_keeps_the_function() -> None:
    answer = (
        "```python\ndef add(xs):\n    return sum(xs)\n\n# tests\nassert add([1]) == 1\n"
        "assert add([1, 2]) == 3\nassert add(['unterminated"
    )
    code = extract_code(answer, "add")
    assert code.startswith("def add(xs):\n    return sum(xs)\n") and "assert" not in code
    compile(code, "<test>", "exec")


def test_a_broken_function_is_not_cut_into_something_else() -> None:
    answer = "```python\ndef add(xs):\n    return sum(xs\n```"
    assert "return sum(xs" in extract_code(answer, "add")  # left for the sandbox to report


# Answers of the shapes the models write, for the streaming cut: wherever the cut happens,
# the code taken from the cut answer must be the code taken from the whole answer.
SHAPES = {
    "fence first, then examples": (
        "```python\ndef f(x):\n    return x + 1\n```\n\nExample:\n```python\nprint(f(1))\n```\nDone."
    ),
    "prose first": "Here is the code:\n\n```python\ndef f(x):\n    return x\n```\nIt returns x.",
    "helper block first": (
        "```python\nimport math\n```\nthen\n```python\ndef f(x):\n    return math.sqrt(x)\n```\nmore"
    ),
    "shell block first": (
        "```bash\npip install x\n```\n```py\ndef f(x):\n    return 2\n```\n```python\nf(2)\n```"
    ),
    "broken defining block, then a fix": (
        "```python\ndef f(x)\n    return x\n```\nFixed:\n```python\ndef f(x):\n    return x\n```"
    ),
    "no defining block": "```python\ndef g(x):\n    return x\n```\ntext\n```python\ng(1)\n```",
    "unclosed": "```python\ndef f(x):\n    return x\n\nprint(f(2))",
    "no fences": "def f(x):\n    return x\n\nprint(f(3))\n",
    "body only": "```python\n    return x * 2\n```\nThat is all.",
}


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("entry", ["f", None])
def test_cutting_at_complete_code_changes_nothing_extraction_takes(name: str, entry: str | None) -> None:
    full = SHAPES[name]
    stub = "def f(x):\n" if name == "body only" else ""
    cut = next((full[:i] for i in range(1, len(full) + 1) if code_complete(full[:i], entry)), full)
    assert extract_code(cut, entry, stub) == extract_code(full, entry, stub)
    if name in ("fence first, then examples", "prose first", "helper block first"):
        assert len(cut) < len(full) and cut.endswith("```")  # these do stop early


def test_no_cut_inside_an_open_block_or_before_the_defining_block() -> None:
    assert not code_complete("```python\ndef f(x):\n    return x\n", "f")
    assert not code_complete("```python\nimport math\n```\n", "f")
    assert code_complete("```python\nimport math\n```\n", None)
    assert code_complete("```python\ndef f(x):\n    return x\n```", "f")


OPEN = '```python\ndef f(x):\n    """Return x."""\n    return x\n\n'


@pytest.mark.parametrize(
    ("tail", "cut"),
    [
        ("print(f(1))\n", True),
        ("assert f(1) == 1\n", True),
        ('if __name__ == "__main__":\n', True),
        ("f(2)\n", True),
        ("print(f(1))", False),  # the line is not complete yet
        ("x = f(1)\n", False),  # an assignment: extraction keeps it
        ("def g(y):\n", False),  # more code
        ("    print(x)\n", False),  # inside a function
        ("print(f(1))\n```", False),  # the block is closed: code_complete's case
    ],
)
def test_an_open_block_is_done_where_its_examples_start(tail: str, cut: bool) -> None:
    assert demo_started(OPEN + tail, "f") is cut


def test_no_cut_before_the_entry_point_or_in_code_that_does_not_parse() -> None:
    assert not demo_started("```python\ndef g(x):\n    return x\n\nprint(g(1))\n", "f")
    assert not demo_started('```python\ndef f(x):\n    return """\nprint(f(1))\n', "f")
    assert not demo_started("```java\nclass A {}\nprint(f(1))\n", "f")
