"""The prompt object (instruction, examples, style) and the worked examples a task carries."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from prochemy.optimizer.config import Settings
from prochemy.optimizer.generation import messages_for
from prochemy.optimizer.loop.evaluation import OutcomeStore, model_identity
from prochemy.optimizer.loop.mutation import rejection
from prochemy.optimizer.loop.refine import RefineConfig, restructure
from prochemy.optimizer.loop.reflection import FailureCase, reflection_messages, restates_a_case
from prochemy.optimizer.prompts import PLAN_RULE, PromptSpec
from prochemy.optimizer.tasks import Example, FunctionTask, RepoTarget, RepoTask
from prochemy.optimizer.tasks.examples import benchmark_bank, repository_bank, with_examples
from prochemy.optimizer.tasks.translation import load_translation
from pydantic import ValidationError

PLAIN = "You write Python code."


def _task(i: int, statement: str, reference: str | None = "def f():\n    return 1\n") -> FunctionTask:
    return FunctionTask(
        id=f"T/{i}", statement=statement, entry_point="f", test="assert f() == 1", reference=reference
    )


def test_a_plain_prompt_is_the_default_object_and_round_trips() -> None:
    spec = PromptSpec.parse(PLAIN)
    assert (spec.instruction, spec.examples, spec.style) == (PLAIN, 0, "direct")
    assert spec.text() == PLAIN  # every stored prompt keeps its text and its cache keys
    rich = PromptSpec(instruction=PLAIN, examples=2, style="plan")
    assert rich.text() == f"{PLAIN}\n[prochemy: examples=2, style=plan]"
    assert PromptSpec.parse(rich.text()) == rich
    assert rich.system_message() == f"{PLAIN} {PLAN_RULE}"
    with pytest.raises(ValidationError):
        PromptSpec(instruction=PLAIN, examples=4)


def test_messages_show_as_many_examples_as_the_prompt_asks() -> None:
    shots = [Example(source=f"E/{i}", statement=f"task {i}", code=f"def g{i}(): pass") for i in range(3)]
    task = _task(0, "the task").model_copy(update={"examples": shots})
    assert messages_for(PLAIN, task) == [
        {"role": "system", "content": PLAIN},
        {"role": "user", "content": "the task"},
    ]
    two = PromptSpec(instruction=PLAIN, examples=2).text()
    messages = messages_for(two, task)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == PLAIN  # the directive line is never shown to the model
    assert messages[1]["content"] == "task 0" and messages[2]["content"] == "```python\ndef g0(): pass\n```"
    assert messages[-1]["content"] == "the task"


def test_outcomes_are_keyed_by_the_examples_shown_only() -> None:
    shots = [Example(source="E/1", statement="s", code="c")]
    bare, shown = _task(0, "x"), _task(0, "x").model_copy(update={"examples": shots})
    assert bare.fingerprint == shown.fingerprint
    assert OutcomeStore.key("m", PLAIN, bare) == OutcomeStore.key("m", PLAIN, shown)
    one = PromptSpec(instruction=PLAIN, examples=1).text()
    assert OutcomeStore.key("m", one, bare) != OutcomeStore.key("m", one, shown)
    other = shown.model_copy(update={"examples": [Example(source="E/2", statement="s", code="d")]})
    assert OutcomeStore.key("m", one, shown) != OutcomeStore.key("m", one, other)


def test_examples_are_the_most_similar_verified_solutions_never_the_task_itself() -> None:
    train = [
        _task(1, "Sort a list of numbers in ascending order."),
        _task(2, "Count the vowels in a string."),
        _task(3, "Reverse the words of a sentence.", reference=None),  # no solution: no example
    ]
    bank = benchmark_bank(train)
    assert [e.source for e in bank] == ["T/1", "T/2"]
    (held,) = with_examples([_task(9, "Count the vowels and consonants of a string.")], bank, k=1)
    assert [e.source for e in held.examples] == ["T/2"]
    mine = with_examples(train[:1], bank)[0]
    assert "T/1" not in [e.source for e in mine.examples]


def test_repository_examples_are_its_functions_and_prefer_the_module(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "text.py").write_text(
        'def slugify(s):\n    """Make a URL slug."""\n    return s.lower().replace(" ", "-")\n\n\n'
        'def shout(s):\n    """Upper-case text."""\n    return s.upper()\n'
    )
    (tmp_path / "pkg" / "maths.py").write_text(
        'def slug_count(s):\n    """Count slug parts."""\n    return 1\n'
    )

    def mined(module: str, name: str) -> RepoTask:
        target = RepoTarget(root=str(tmp_path), module=module, qualname=name, node_ids=["t"], tree="x")
        return RepoTask(id=f"{module}::{name}", statement=f"Implement {name}", entry_point=name, repo=target)

    tasks = [
        mined("pkg/text.py", "slugify"),
        mined("pkg/text.py", "shout"),
        mined("pkg/maths.py", "slug_count"),
    ]
    bank, modules = repository_bank(tasks)
    assert bank[0].code.startswith("def slugify(s):") and "return s.lower()" in bank[0].code
    assert "Make a URL slug." in bank[0].statement
    (slug,) = with_examples(tasks[:1], bank, modules=modules)
    assert [e.source for e in slug.examples] == ["pkg/text.py::shout", "pkg/maths.py::slug_count"]
    # a synthetic variant of slugify (another id, the same function) never sees slugify's body
    variant = tasks[0].model_copy(update={"id": "synthetic-1"})
    assert "pkg/text.py::slugify" not in [
        e.source for e in with_examples([variant], bank, modules=modules)[0].examples
    ]


def test_structure_moves_and_shares() -> None:
    rng = random.Random(0)
    made = {restructure(PLAIN, rng, set()).text for _ in range(20)}
    assert made == {
        PromptSpec(instruction=PLAIN, examples=1).text(),
        PromptSpec(instruction=PLAIN, style="plan").text(),
    }
    full = PromptSpec(instruction=PLAIN, examples=3).text()
    at_most = {PromptSpec.parse(restructure(full, rng, set()).text or "").examples for _ in range(10)}
    assert at_most <= {2, 3}  # never a fourth example
    known = {" ".join(t.lower().split()) for t in made}
    assert restructure(PLAIN, rng, known).text is None  # nothing new to make
    with pytest.raises(ValidationError):
        RefineConfig(reflect=0.7, structure=0.5)


def test_reflection_shows_a_failing_answer_in_its_own_language() -> None:
    java = load_translation("python-java")[0]
    python = load_translation("java-python")[0]
    assert (java.answer_language, python.answer_language) == ("java", "python")
    cases = [
        FailureCase(
            statement=t.statement, code="x", failure="wrong-value", detail="d", language=t.answer_language
        )
        for t in (java, python)
    ]
    shown = reflection_messages("Translate.", cases)[1]["content"]
    assert "Code written:\n```java\nx\n```" in shown and "Code written:\n```python\nx\n```" in shown


def test_a_prefilled_stub_is_part_of_what_an_outcome_depends_on(tmp_path: Path) -> None:
    # prefilled answers differ from plain ones: their stored outcomes must not be shared
    plain = Settings(cache_dir=tmp_path)
    prefilled = plain.model_copy(update={"prefill_code": "embedded"})
    assert model_identity(plain) != model_identity(prefilled)
    assert model_identity(plain, serial=True) != model_identity(prefilled, serial=True)
    # the cut at the end of the code is output-neutral: it does not split the store
    assert model_identity(plain) == model_identity(plain.model_copy(update={"stop_at_code": False}))


def test_a_variant_restating_a_shown_task_is_told_from_a_rule() -> None:
    case = FailureCase(
        statement="Write a python function to find sum of all prime divisors of a given number.",
        code="def f(n): return n",
        failure="wrong-value",
        detail="assert f(60) == 10",
    )
    # the 0.5B reflector's own answer in the reflect ablation (inflection and all)
    assert restates_a_case(
        "Implement the function to find the sum of all prime divisors of a given number.", [case]
    )
    assert restates_a_case(
        "You write Python functions that finds sums of all prime divisors of numbers.", [case]
    )
    # rules may share the task's generic wording
    assert not restates_a_case(
        "You write a python function to solve the task. Handle a given number of zero or less first.", [case]
    )


def test_a_variant_asking_for_examples_is_rejected_in_any_verb_form() -> None:
    for asks in (
        "You write Python code. Ensure the function is well-documented and includes examples of its use.",
        "You write Python code, including test cases for it.",
        "You write Python code and provides usage below it.",
    ):
        assert rejection(asks, set(), set()) == "asks for tests or examples in the answer", asks
    assert rejection("You write Python code. Do not include examples or tests.", set(), set()) is None
